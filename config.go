package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"dokploy/db"
	"dokploy/jobs/netguard"
)

// config is read once from the environment; every field has a default that
// matches what `make run` provisions, so the binary works with no setup.
type config struct {
	Addr          string
	DatabaseURL   string
	RedisURL      string
	DataDir       string
	SecretKey     string
	SecretKeyFile string
	PublicURL     string
	EndpointMode  string
	RunWorker     bool
	Namespace     string
	ProbeBinary   string
	// TrustedProxies is DOKPLOY_TRUSTED_PROXIES: comma-separated IPs or
	// CIDRs whose X-Forwarded-For is believed.
	TrustedProxies string

	Traefik          string // "on": run and manage the dokploy-traefik container; "off": only write its files
	TraefikImage     string // preferred image; the local build is the fallback
	TraefikHTTPPort  int
	TraefikHTTPSPort int
	TraefikAPIURL    string // where the control plane reads Traefik's API (published on 127.0.0.1)
}

type envVar struct {
	Name, Default, Usage string
}

// envVars documents every setting; `dokploy --help` prints this table.
var envVars = []envVar{
	{"DOKPLOY_ADDR", ":3000", "address the dashboard and API listen on"},
	{"DOKPLOY_DATABASE_URL", "", "PostgreSQL connection URL; unset: postgres://dokploy@127.0.0.1:5432/dokploy?sslmode=disable with the password from <data dir>/postgres.password (made by make run)"},
	{"DOKPLOY_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL for the deploy queue"},
	{"DOCKER_HOST", "unix:///var/run/docker.sock", "Docker engine address (standard Docker variable)"},
	{"DOKPLOY_DATA_DIR", "/var/lib/dokploy", "directory for the secret key, Traefik config and other state"},
	{"DOKPLOY_SECRET_KEY", "", "key that encrypts secrets at rest (at least 32 characters)"},
	{"DOKPLOY_SECRET_KEY_FILE", "", "file holding the secret key (later lines: previous keys kept by `dokploy secret-key rotate`); if neither is set, <data dir>/secret.key is generated once"},
	{"DOKPLOY_PUBLIC_URL", "http://localhost:3000", "URL users reach the dashboard at (links, webhook URLs)"},
	{"DOKPLOY_ENDPOINT_MODE", "auto", "Swarm endpoint mode for apps: auto, vip or dnsrr (dnsrr where the kernel has no IPVS)"},
	{"DOKPLOY_WORKER", "true", "run the deploy worker inside `serve` (false when a separate `dokploy worker` runs)"},
	{"DOKPLOY_TRAEFIK", "on", "on: run Traefik as the dokploy-traefik container and route domains through it; off: only write its files"},
	{"DOKPLOY_TRAEFIK_IMAGE", "traefik:v3.6.12", "Traefik image; falls back to the local build dokploy-traefik:v3.6.12 when it cannot be pulled"},
	{"DOKPLOY_TRAEFIK_HTTP_PORT", "80", "host port Traefik's HTTP entry point is published on"},
	{"DOKPLOY_TRAEFIK_HTTPS_PORT", "443", "host port Traefik's HTTPS entry point is published on"},
	{"DOKPLOY_TRAEFIK_API_URL", "http://127.0.0.1:8089", "Traefik's API as the control plane reaches it; published on 127.0.0.1 only"},
	{"DOKPLOY_PROBE_BINARY", "", "host path of a static dokploy binary mounted into app containers for HTTP health checks; by default this binary is copied to <data dir>/probe/dokploy"},
	{"DOKPLOY_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed (e.g. Traefik's Docker network); none by default"},
	{"DOKPLOY_REDIS_NAMESPACE", "dokploy", "prefix of every Redis key; instances sharing a Redis and a database must use the same one"},
}

func getenv(name string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	for _, e := range envVars {
		if e.Name == name {
			return e.Default
		}
	}
	return ""
}

func loadConfig() config {
	return config{
		Addr:           getenv("DOKPLOY_ADDR"),
		DatabaseURL:    databaseURL(),
		RedisURL:       getenv("DOKPLOY_REDIS_URL"),
		DataDir:        getenv("DOKPLOY_DATA_DIR"),
		SecretKey:      getenv("DOKPLOY_SECRET_KEY"),
		SecretKeyFile:  getenv("DOKPLOY_SECRET_KEY_FILE"),
		PublicURL:      strings.TrimRight(getenv("DOKPLOY_PUBLIC_URL"), "/"),
		EndpointMode:   getenv("DOKPLOY_ENDPOINT_MODE"),
		RunWorker:      getenv("DOKPLOY_WORKER") != "false",
		Namespace:      getenv("DOKPLOY_REDIS_NAMESPACE"),
		ProbeBinary:    getenv("DOKPLOY_PROBE_BINARY"),
		TrustedProxies: getenv("DOKPLOY_TRUSTED_PROXIES"),

		Traefik:          getenv("DOKPLOY_TRAEFIK"),
		TraefikImage:     getenv("DOKPLOY_TRAEFIK_IMAGE"),
		TraefikHTTPPort:  atoiOr(getenv("DOKPLOY_TRAEFIK_HTTP_PORT"), -1),
		TraefikHTTPSPort: atoiOr(getenv("DOKPLOY_TRAEFIK_HTTPS_PORT"), -1),
		TraefikAPIURL:    strings.TrimRight(getenv("DOKPLOY_TRAEFIK_API_URL"), "/"),
	}
}

// validate returns one message per problem so an operator can fix all at once.
func (c config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("DOKPLOY_ADDR %q must be host:port, e.g. :3000", c.Addr))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, errors.New("DOKPLOY_DATABASE_URL must be a postgres:// URL"))
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		errs = append(errs, errors.New("DOKPLOY_REDIS_URL must be a redis:// URL"))
	}
	if !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("DOKPLOY_DATA_DIR %q must be an absolute path", c.DataDir))
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		errs = append(errs, errors.New("DOKPLOY_SECRET_KEY must be at least 32 characters"))
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		errs = append(errs, errors.New("set only one of DOKPLOY_SECRET_KEY and DOKPLOY_SECRET_KEY_FILE"))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("DOKPLOY_PUBLIC_URL %q must be an http(s) URL like https://dokploy.example.com", c.PublicURL))
	}
	switch c.EndpointMode {
	case "auto", "vip", "dnsrr":
	default:
		errs = append(errs, fmt.Errorf("DOKPLOY_ENDPOINT_MODE %q must be auto, vip or dnsrr", c.EndpointMode))
	}
	if _, err := c.trustedProxies(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateTraefik()...)
	return errors.Join(errs...)
}

func (c config) validateTraefik() []error {
	var errs []error
	if c.Traefik != "on" && c.Traefik != "off" {
		errs = append(errs, fmt.Errorf("DOKPLOY_TRAEFIK %q must be on or off", c.Traefik))
	}
	if c.TraefikImage == "" || strings.ContainsAny(c.TraefikImage, " \t\n") {
		errs = append(errs, fmt.Errorf("DOKPLOY_TRAEFIK_IMAGE %q must be an image reference like traefik:v3.6.12", c.TraefikImage))
	}
	if c.TraefikHTTPPort < 1 || c.TraefikHTTPPort > 65535 {
		errs = append(errs, errors.New("DOKPLOY_TRAEFIK_HTTP_PORT must be a port between 1 and 65535"))
	}
	if c.TraefikHTTPSPort < 1 || c.TraefikHTTPSPort > 65535 {
		errs = append(errs, errors.New("DOKPLOY_TRAEFIK_HTTPS_PORT must be a port between 1 and 65535"))
	}
	if c.TraefikHTTPPort == c.TraefikHTTPSPort {
		errs = append(errs, errors.New("DOKPLOY_TRAEFIK_HTTP_PORT and DOKPLOY_TRAEFIK_HTTPS_PORT must differ"))
	}
	if _, err := c.traefikAPIPort(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// traefikAPIPort is the port of DOKPLOY_TRAEFIK_API_URL. It must be on the
// loopback: Traefik's API has no authentication and is published only there.
func (c config) traefikAPIPort() (int, error) {
	u, err := url.Parse(c.TraefikAPIURL)
	if err == nil && u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost") {
		if p, perr := strconv.Atoi(u.Port()); perr == nil && p > 0 && p < 65536 {
			return p, nil
		}
	}
	return 0, fmt.Errorf("DOKPLOY_TRAEFIK_API_URL %q must be http://127.0.0.1:<port>", c.TraefikAPIURL)
}

// reservedPorts are the host ports the platform itself uses, which no app
// may publish: SSH, the dashboard's port, Traefik's entry points and API,
// and PostgreSQL and Redis when they run on this host.
func (c config) reservedPorts() map[int]string {
	out := map[int]string{22: "SSH", c.TraefikHTTPPort: "Traefik HTTP", c.TraefikHTTPSPort: "Traefik HTTPS"}
	if _, p, err := net.SplitHostPort(c.Addr); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			out[n] = "the dashboard"
		}
	}
	if p, err := c.traefikAPIPort(); err == nil {
		out[p] = "Traefik's API"
	}
	for what, raw := range map[string]string{"PostgreSQL": c.DatabaseURL, "Redis": c.RedisURL} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		switch host := u.Hostname(); host {
		case "", "127.0.0.1", "localhost", "::1":
			port := map[string]int{"PostgreSQL": 5432, "Redis": 6379}[what]
			if n, err := strconv.Atoi(u.Port()); err == nil {
				port = n
			}
			out[port] = what
		}
	}
	return out
}

// atoiOr parses a number, returning def (an invalid value) on error so
// validate reports it.
func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// keyFile is the key file, "" when DOKPLOY_SECRET_KEY is set.
func (c config) keyFile() string {
	switch {
	case c.SecretKey != "":
		return ""
	case c.SecretKeyFile != "":
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, "secret.key")
}

// keySource names where the key comes from, for messages.
func (c config) keySource() string {
	switch {
	case c.SecretKey != "":
		return "DOKPLOY_SECRET_KEY"
	case c.SecretKeyFile != "":
		return "DOKPLOY_SECRET_KEY_FILE (" + c.SecretKeyFile + ")"
	}
	return "the secret key in " + c.keyFile()
}

// secret returns the current encryption key (the one that seals).
func (c config) secret() ([]byte, error) {
	keys, err := c.secretKeys()
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

// secretRing is the key ring as a key file holds it: the current key
// first, then previous keys, one per line. Control-plane backups carry it.
func (c config) secretRing() (string, error) {
	keys, err := c.secretKeys()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(db.FormatKeys(keys))), nil
}

// secretKeys returns the key ring, newest first: DOKPLOY_SECRET_KEY alone,
// or the lines of the key file, which is generated once into the data dir
// with mode 0600 when neither is set.
func (c config) secretKeys() ([][]byte, error) {
	if c.SecretKey != "" {
		return [][]byte{[]byte(c.SecretKey)}, nil
	}
	path := c.keyFile()
	keys, err := db.ReadKeyFile(path)
	if err == nil {
		return keys, nil
	}
	if !errors.Is(err, os.ErrNotExist) || c.SecretKeyFile != "" {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key := newSecretKey()
	// O_EXCL: two first starts racing must not write two different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.secretKeys()
	}
	if err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(key + "\n"); err != nil {
		return nil, err
	}
	return [][]byte{[]byte(key)}, f.Sync()
}

// newSecretKey is 32 random bytes in hex.
func newSecretKey() string {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS is broken; nothing safe to do
	}
	return hex.EncodeToString(buf)
}

// cipher returns the key ring. A key file is followed, so a rotation done
// by another process is picked up without a restart.
func (c config) cipher() (*db.Cipher, error) {
	if c.SecretKey != "" {
		return db.NewCipher([]byte(c.SecretKey))
	}
	if _, err := c.secretKeys(); err != nil { // generated on the first start
		return nil, err
	}
	return db.OpenKeyFile(c.keyFile())
}

func printEnvHelp(w io.Writer) {
	fmt.Fprintln(w, "Environment:")
	for _, e := range envVars {
		def := e.Default
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(w, "  %-28s %s\n  %-28s default: %s\n", e.Name, e.Usage, "", def)
	}
}

// probeBinary returns the host path of the binary app containers run as
// their HTTP health check. Unless the operator names one, this executable is
// copied into the data directory: a stable path that survives `make clean`
// or a new build, and that the host sees at the same path when dokploy runs
// in a container with the data directory mounted where it lives.
func (c config) probeBinary() (string, error) {
	if c.ProbeBinary != "" {
		return c.ProbeBinary, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(c.DataDir, "probe", "dokploy")
	// Compared streamed, size first: reading the ~25 MB binary into memory
	// at every start would double the control plane's idle footprint, and
	// hashing both copies took 80 ms of every start.
	if same, err := sameContent(exe, dst); err == nil && same {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	// Write beside and rename: a running health check keeps its old file.
	tmp := dst + ".tmp"
	if err := copyFile(exe, tmp, 0o755); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp, dst)
}

// sameContent reports whether files a and b hold the same bytes.
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	sa, err := fa.Stat()
	if err != nil {
		return false, err
	}
	sb, err := fb.Stat()
	if err != nil || sa.Size() != sb.Size() {
		return false, err
	}
	bufA, bufB := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		}
		if errA != nil {
			return false, errA
		}
		if errB != nil {
			return false, errB
		}
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// trustedProxies parses DOKPLOY_TRUSTED_PROXIES; a bare IP is a /32 (or /128).
func (c config) trustedProxies() ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return nil, fmt.Errorf("DOKPLOY_TRUSTED_PROXIES: %q is not an IP address or CIDR", f)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("DOKPLOY_TRUSTED_PROXIES: %q is not an IP address or CIDR", f)
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// networkGuard lists the control plane's own services, which clones and
// image pulls must never reach: on this machine by port (any of its
// addresses), elsewhere by the configured host.
func (c config) networkGuard() *netguard.Guard {
	var services []netguard.Service
	if host, p, err := net.SplitHostPort(c.Addr); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			services = append(services, netguard.Service{Name: "the dashboard", Host: host, Port: n})
		}
	}
	if p, err := c.traefikAPIPort(); err == nil {
		services = append(services, netguard.Service{Name: "Traefik's API", Port: p})
	}
	for _, s := range []struct {
		what, raw string
		port      int
	}{
		{"the control plane's PostgreSQL", c.DatabaseURL, 5432},
		{"the control plane's Redis", c.RedisURL, 6379},
	} {
		u, err := url.Parse(s.raw)
		if err != nil {
			continue
		}
		port := s.port
		if n, err := strconv.Atoi(u.Port()); err == nil {
			port = n
		}
		services = append(services, netguard.Service{Name: s.what, Host: u.Hostname(), Port: port})
	}
	return netguard.New(services...)
}

// derivedKey is a key for one purpose derived from the secret key: stable
// across restarts, never stored, and useless for decrypting secrets.
func (c config) derivedKey(purpose string) ([]byte, error) {
	key, err := c.secret()
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	return mac.Sum(nil), nil
}

// databaseURL is DOKPLOY_DATABASE_URL, or the provisioned local server with
// its random password from the data directory.
func databaseURL() string {
	if v := getenv("DOKPLOY_DATABASE_URL"); v != "" {
		return v
	}
	return db.LocalDatabaseURL(getenv("DOKPLOY_DATA_DIR"), "dokploy")
}
