package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
	"dokploy/jobs/routing"
	"dokploy/traefik"
)

// These tests run the product's routing (store → handlers.Routing →
// traefik.Dir → docker.EnsureTraefik) against a real Traefik container, real
// swarm services on dokploy-network and a Pebble ACME server, all reached
// only over 127.0.0.1. They skip unless DOKPLOY_INTEGRATION=1; with it set,
// a missing image, binary or service fails them.

// routeEnv is one Traefik with its own config dir, ports and apps.
type routeEnv struct {
	t         testing.TB
	id        string
	store     *db.Store
	routing   *routing.Service
	docker    *docker.Docker
	httpPort  int
	httpsPort int
	apiPort   int
	pebble    string // Pebble's container name (its host name on the network)
	traefik   string // Traefik's container name
	appImage  string
	pebbleMgt int    // Pebble's management port on 127.0.0.1
	caPEM     []byte // the CA that signed Pebble's own HTTPS certificate
	apps      map[string]*db.App
}

// routeRun runs a command with a deadline and returns its combined output.
func routeRun(t testing.TB, timeout time.Duration, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// routeScratchImage builds a FROM-scratch image holding one static binary.
func routeScratchImage(t testing.TB, tag, binary string) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY bin /bin\nENTRYPOINT [\"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	routeRun(t, 3*time.Minute, dir, "docker", "build", "-q", "-t", tag, ".")
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
}

// routeTraefikImage makes sure the local Traefik image exists, building it
// from the cached binary like `make run` does.
func routeTraefikImage(t testing.TB) {
	t.Helper()
	if exec.Command("docker", "image", "inspect", docker.TraefikImage).Run() == nil ||
		exec.Command("docker", "image", "inspect", docker.TraefikLocalImage).Run() == nil {
		return
	}
	bin := os.Getenv("DOKPLOY_TRAEFIK_BIN")
	if bin == "" {
		bin = "/var/cache/dokploy/traefik-v3.6.12"
	}
	root := testkit.RepoRoot(t)
	routeRun(t, 10*time.Minute, root, "bash", "scripts/build-traefik-image.sh", "v3.6.12", bin)
}

// routePebbleBin returns Pebble's binary, installing it from the Go module
// proxy into the cache when missing.
func routePebbleBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("DOKPLOY_PEBBLE_BIN")
	if bin == "" {
		bin = "/var/cache/dokploy/bin/pebble"
	}
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	routeRun(t, 5*time.Minute, "", "go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1")
	gobin := routeRun(t, time.Minute, "", "go", "env", "GOPATH")
	return filepath.Join(strings.Split(gobin, string(os.PathListSeparator))[0], "bin", "pebble")
}

// routeCA is a throwaway certificate authority.
type routeCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func routeNewCA(t testing.TB) *routeCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dokploy routing test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &routeCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate and key (PEM) for hosts.
func (ca *routeCA) issue(t testing.TB, hosts ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// routeStartPebble runs Pebble on dokploy-network with a TLS certificate
// for its unique container name, and publishes its management API on
// 127.0.0.1.
func routeStartPebble(t testing.TB, env *routeEnv, ca *routeCA) {
	t.Helper()
	image := "route-pebble-" + env.id + ":test"
	routeScratchImage(t, image, routePebbleBin(t))
	dir := t.TempDir()
	cert, key := ca.issue(t, env.pebble, "localhost", "127.0.0.1")
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
		"certificate": "/config/cert.pem", "privateKey": "/config/key.pem",
		"httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	data, _ := json.Marshal(cfg)
	for name, content := range map[string]string{"pebble-config.json": string(data), "cert.pem": cert, "key.pem": key} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	routeRun(t, time.Minute, "", "docker", "run", "-d", "--name", env.pebble, "--network", docker.DefaultNetwork,
		"-e", "PEBBLE_VA_ALWAYS_VALID=1", "-e", "PEBBLE_VA_NOSLEEP=1",
		"-v", dir+":/config:ro", "-p", "127.0.0.1::15000", image, "-config", "/config/pebble-config.json")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", env.pebble).Run() })
	port := routeRun(t, 30*time.Second, "", "docker", "port", env.pebble, "15000/tcp")
	_, p, err := net.SplitHostPort(strings.Split(port, "\n")[0])
	if err != nil {
		t.Fatalf("pebble port %q: %v", port, err)
	}
	env.pebbleMgt, _ = strconv.Atoi(p)
}

// routeSetup builds the whole stack once per test.
func routeSetup(t testing.TB) *routeEnv {
	t.Helper()
	testkit.RequireSwarm(t)
	env := &routeEnv{t: t, id: dbtest.RandomSuffix(), apps: map[string]*db.App{}}
	env.pebble = "route-pebble-" + env.id
	env.store = dbtest.NewStore(t)
	dk, err := docker.New(docker.Options{EndpointMode: docker.EndpointModeDNSRR})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	env.docker = dk
	routeTraefikImage(t)

	// The test app: a static server answering $MESSAGE (and the path it saw).
	appBin := filepath.Join(t.TempDir(), "app")
	routeRun(t, 3*time.Minute, testkit.RepoRoot(t), "go", "build", "-o", appBin, "./jobs/testdata/app")
	appImage := "route-app-" + env.id + ":1"
	routeScratchImage(t, appImage, appBin)
	env.appImage = appImage

	ca := routeNewCA(t)
	env.caPEM = ca.pem
	routeStartPebble(t, env, ca)

	env.httpPort, env.httpsPort, env.apiPort = testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)
	spec := docker.TraefikSpec{
		Name: "route-traefik-" + env.id, ConfigDir: t.TempDir(), BindIP: "127.0.0.1",
		HTTPPort: env.httpPort, HTTPSPort: env.httpsPort, APIPort: env.apiPort,
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "60", spec.Name).CombinedOutput()
			t.Logf("traefik log:\n%s", out)
		}
		_ = dk.RemoveTraefik(context.Background(), spec.Name)
	})
	env.traefik = spec.Name
	apiPassword := srvRandomHex(16)
	env.routing, err = routing.New(routing.Options{
		Store: env.store, ConfigDir: spec.ConfigDir, TraefikPath: docker.TraefikConfigPath,
		API: &traefik.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", env.apiPort), HTTP: &http.Client{Timeout: 5 * time.Second},
			Username: traefik.APIUser, Password: apiPassword},
		APIPassword: apiPassword,
		Traefik:     dk.Traefik(spec, func(l string) { t.Log(l) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The product's settings path: writes traefik.yml (Pebble as the ACME
	// server, its CA trusted) and (re)creates the container.
	if err := env.routing.SetACME(ctx, routing.ACMESettings{
		Email: "ops@example.com", Server: "https://" + env.pebble + ":14000/dir", CABundle: string(ca.pem),
	}); err != nil {
		t.Fatal(err)
	}
	env.waitPing()

	project, err := env.store.CreateProject(ctx, "Routing "+env.id, "")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := env.store.EnvironmentByName(ctx, project.ID, db.DefaultEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		a := &db.App{EnvironmentID: prod.ID, Name: "App " + name, AppName: "route-" + name + "-" + env.id,
			SourceType: db.SourceImage, Image: appImage, Port: 8080, Replicas: 1,
			GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
		if err := env.store.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		env.apps[name] = a
		svc := docker.ServiceSpec{Name: a.AppName, Image: appImage, Replicas: 1, EndpointMode: docker.EndpointModeDNSRR,
			Env: map[string]string{"MESSAGE": "hello from " + name, "PORT": "8080", "ECHO_REQUEST": "1"}, MonitorPeriod: time.Second}
		t.Cleanup(func() { _ = dk.RemoveService(context.Background(), svc.Name) })
		if err := dk.DeployService(ctx, svc, nil); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func (e *routeEnv) waitPing() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if e.routing.Ping(context.Background()) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatal("Traefik's API did not answer within 30s")
}

// addDomain saves a domain through the store and applies it with Sync,
// the same two steps the handlers take.
func (e *routeEnv) addDomain(app string, d db.Domain) *db.Domain {
	e.t.Helper()
	id := e.apps[app].ID
	d.ServiceID = &id
	if d.Path == "" {
		d.Path = "/"
	}
	if d.InternalPath == "" {
		d.InternalPath = "/"
	}
	if d.Port == 0 {
		d.Port = 8080
	}
	if d.Certificate == "" {
		d.Certificate = db.CertNone
	}
	d.Enabled = true
	if err := e.store.CreateDomain(context.Background(), &d); err != nil {
		e.t.Fatal(err)
	}
	e.sync()
	return &d
}

func (e *routeEnv) sync() traefik.Report {
	e.t.Helper()
	rep, err := e.routing.Sync(context.Background())
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	return rep
}

func (e *routeEnv) host(name string) string { return name + "-" + e.id + ".test" }

// routeResponse is what a poll saw last.
type routeResponse struct {
	code     int
	body     string
	location string
}

// get sends one plain-HTTP request to Traefik on 127.0.0.1 with a Host
// header, never following redirects.
func (e *routeEnv) get(host, path string, edit func(*http.Request)) (routeResponse, error) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", e.httpPort, path), nil)
	if err != nil {
		return routeResponse{}, err
	}
	req.Host = host
	if edit != nil {
		edit(req)
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return routeResponse{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return routeResponse{code: resp.StatusCode, body: string(body), location: resp.Header.Get("Location")}, nil
}

// waitFor polls until ok accepts the response or the deadline passes.
func (e *routeEnv) waitFor(what, host, path string, edit func(*http.Request), ok func(routeResponse) bool) routeResponse {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last routeResponse
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = e.get(host, path, edit)
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("%s: http://%s%s never matched; last: %d %q location %q err %v", what, host, path, last.code, last.body, last.location, lastErr)
	return last
}

func routeStatus(code int, contains string) func(routeResponse) bool {
	return func(r routeResponse) bool { return r.code == code && strings.Contains(r.body, contains) }
}

// httpsGet fetches https://host/ from Traefik's websecure port with SNI
// host, verifying the certificate against roots.
func (e *routeEnv) httpsGet(host string, roots *x509.CertPool) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", e.httpsPort))
		},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + host + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), nil
}

func (e *routeEnv) waitHTTPS(host string, roots *x509.CertPool, want string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	var body string
	for time.Now().Before(deadline) {
		if body, err = e.httpsGet(host, roots); err == nil && strings.Contains(body, want) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	e.t.Fatalf("https://%s never verified and answered %q: body %q err %v", host, want, body, err)
}

// pebbleRoot fetches the root that signs Pebble's issued certificates.
func (e *routeEnv) pebbleRoot() *x509.CertPool {
	e.t.Helper()
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(e.caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust, ServerName: "localhost"}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", e.pebbleMgt))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if resp.StatusCode != http.StatusOK || !pool.AppendCertsFromPEM(data) {
		e.t.Fatalf("pebble /roots/0: %d %q", resp.StatusCode, data)
	}
	return pool
}

func (e *routeEnv) domainState(app string, d *db.Domain) routing.DomainStatus {
	return e.routing.Status(context.Background(), e.apps[app].AppName, []db.Domain{*d})[d.ID]
}

func TestRouting(t *testing.T) {
	env := routeSetup(t)
	ctx := context.Background()

	t.Run("new domain answers and a removed one gives 404", func(t *testing.T) {
		env.t = t
		d := env.addDomain("a", db.Domain{Host: env.host("new")})
		env.waitFor("add", env.host("new"), "/", nil, routeStatus(200, "hello from a path=/"))
		if st := env.domainState("a", d); st.State != routing.StateActive {
			t.Errorf("status after serving = %+v, want active", st)
		}
		if err := env.store.DeleteDomain(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		env.sync()
		env.waitFor("remove", env.host("new"), "/", nil, routeStatus(404, ""))
		if _, err := os.Stat(filepath.Join(env.routing.DynamicDir(), env.apps["a"].AppName+".yml")); !os.IsNotExist(err) {
			t.Errorf("an app without domains must have no file: %v", err)
		}
	})

	t.Run("path prefix with and without strip", func(t *testing.T) {
		env.t = t
		env.addDomain("b", db.Domain{Host: env.host("paths"), Path: "/strip", StripPath: true})
		env.addDomain("b", db.Domain{Host: env.host("paths"), Path: "/keep"})
		env.addDomain("b", db.Domain{Host: env.host("paths"), Path: "/inner", StripPath: true, InternalPath: "/v2"})
		env.waitFor("strip", env.host("paths"), "/strip/users", nil, routeStatus(200, "hello from b path=/users "))
		env.waitFor("keep", env.host("paths"), "/keep/users", nil, routeStatus(200, "hello from b path=/keep/users "))
		env.waitFor("internal path", env.host("paths"), "/inner/x", nil, routeStatus(200, "path=/v2/x "))
		env.waitFor("outside the prefixes", env.host("paths"), "/other", nil, routeStatus(404, ""))
	})

	t.Run("Traefik's API is closed to the apps' network", func(t *testing.T) {
		// A container on the apps' overlay network reaches Traefik's API
		// entry point (ping answers) but the API answers 401 without the
		// password (the control plane, which has it, reads router status in
		// the first subtest).
		probe := func(url, status string) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", docker.DefaultNetwork,
				"-v", srvBinary(t)+":/dokploy:ro", "--entrypoint", "/dokploy", env.appImage,
				"probe", url, status).CombinedOutput()
			if err != nil {
				return fmt.Sprintf("%v: %s", err, out)
			}
			return ""
		}
		base := "http://" + env.traefik + ":8080"
		if msg := probe(base+"/ping", "200"); msg != "" {
			t.Fatalf("ping from the apps' network: %s", msg)
		}
		for _, path := range []string{"/api/http/routers", "/api/rawdata", "/api/overview"} {
			if msg := probe(base+path, "401"); msg != "" {
				t.Errorf("%s from the apps' network is not 401: %s", path, msg)
			}
		}
	})
	t.Run("basic auth", func(t *testing.T) {
		env.t = t
		hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.store.AddBasicAuthUser(ctx, env.apps["c"].ID, "alice", string(hash)); err != nil {
			t.Fatal(err)
		}
		env.addDomain("c", db.Domain{Host: env.host("auth")})
		env.waitFor("no credentials", env.host("auth"), "/", nil, routeStatus(401, ""))
		env.waitFor("wrong password", env.host("auth"), "/", func(r *http.Request) { r.SetBasicAuth("alice", "nope") }, routeStatus(401, ""))
		env.waitFor("right password", env.host("auth"), "/", func(r *http.Request) { r.SetBasicAuth("alice", "s3cret-pass") },
			routeStatus(200, "hello from c path=/ auth=false")) // removeHeader: the app never sees the password
	})

	t.Run("regex redirect", func(t *testing.T) {
		env.t = t
		rd := &db.Redirect{ServiceID: env.apps["a"].ID, Regex: `^http://www\.` + strings.ReplaceAll(env.host("redir"), ".", `\.`) + `/(.*)`,
			Replacement: "http://" + env.host("redir") + "/${1}", Permanent: true}
		if err := env.store.CreateRedirect(ctx, rd); err != nil {
			t.Fatal(err)
		}
		env.addDomain("a", db.Domain{Host: "www." + env.host("redir")})
		r := env.waitFor("www redirect", "www."+env.host("redir"), "/page", nil, func(r routeResponse) bool { return r.code/100 == 3 })
		if r.location != "http://"+env.host("redir")+"/page" {
			t.Fatalf("Location = %q", r.location)
		}
	})

	t.Run("ACME certificate from Pebble and HTTP to HTTPS redirect", func(t *testing.T) {
		env.t = t
		d := env.addDomain("a", db.Domain{Host: env.host("acme"), HTTPS: true, Certificate: db.CertLetsEncrypt})
		r := env.waitFor("https redirect", env.host("acme"), "/x", nil, func(r routeResponse) bool { return r.code == 301 || r.code == 308 })
		if !strings.HasPrefix(r.location, "https://"+env.host("acme")) {
			t.Fatalf("Location = %q", r.location)
		}
		env.waitHTTPS(env.host("acme"), env.pebbleRoot(), "hello from a", 90*time.Second)
		deadline := time.Now().Add(20 * time.Second)
		for env.domainState("a", d).State != routing.StateIssued && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if st := env.domainState("a", d); st.State != routing.StateIssued {
			t.Errorf("status = %+v, want %q", st, routing.StateIssued)
		}
	})

	t.Run("uploaded certificate is served", func(t *testing.T) {
		env.t = t
		ca := routeNewCA(t)
		certPEM, keyPEM := ca.issue(t, env.host("upload"))
		c := &db.Certificate{Name: "upload " + env.id, CertPEM: certPEM, Hosts: []string{env.host("upload")}, NotAfter: time.Now().Add(24 * time.Hour)}
		if err := env.store.CreateCertificate(ctx, c, keyPEM); err != nil {
			t.Fatal(err)
		}
		env.addDomain("b", db.Domain{Host: env.host("upload"), HTTPS: true, Certificate: db.CertCustom, CertificateID: &c.ID})
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca.pem)
		env.waitHTTPS(env.host("upload"), roots, "hello from b", 20*time.Second)
	})

	t.Run("a mistake in one app never changes what another serves", func(t *testing.T) {
		env.t = t
		env.addDomain("c", db.Domain{Host: env.host("stable")})
		env.waitFor("stable before", env.host("stable"), "/", func(r *http.Request) { r.SetBasicAuth("alice", "s3cret-pass") }, routeStatus(200, "hello from c"))
		before, err := os.ReadFile(filepath.Join(env.routing.DynamicDir(), env.apps["b"].AppName+".yml"))
		if err != nil {
			t.Fatal(err)
		}
		// A row that slipped past validation (written by hand in SQL): an
		// invalid regex that would make app b's file unloadable.
		dbtest.MustExec(t, env.store, `INSERT INTO service_redirects (service_id, regex, replacement) VALUES ($1, '(', 'x')`, env.apps["b"].ID)
		rep, err := env.routing.Sync(ctx)
		if err == nil || len(rep.Invalid) != 1 || rep.Invalid[0] != env.apps["b"].AppName {
			t.Fatalf("Sync = %+v, %v; want app b reported invalid", rep, err)
		}
		after, _ := os.ReadFile(filepath.Join(env.routing.DynamicDir(), env.apps["b"].AppName+".yml"))
		if string(after) != string(before) {
			t.Fatal("app b's last good file was changed")
		}
		// The provider is not frozen: a change to app a still applies, and b and c still serve.
		d := &db.Domain{Host: env.host("after-mistake")}
		id := env.apps["a"].ID
		d.ServiceID, d.Path, d.InternalPath, d.Port, d.Certificate, d.Enabled = &id, "/", "/", 8080, db.CertNone, true
		if err := env.store.CreateDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
		_, _ = env.routing.Sync(ctx)
		env.waitFor("new domain of another app", env.host("after-mistake"), "/", nil, routeStatus(200, "hello from a"))
		env.waitFor("bad app keeps its last good config", env.host("paths"), "/keep/x", nil, routeStatus(200, "hello from b path=/keep/x"))
		env.waitFor("third app unaffected", env.host("stable"), "/", func(r *http.Request) { r.SetBasicAuth("alice", "s3cret-pass") }, routeStatus(200, "hello from c"))
		dbtest.MustExec(t, env.store, `DELETE FROM service_redirects WHERE regex = '('`)
		env.sync()
	})

	t.Run("reconcile removes stale files of ours and lists foreign ones", func(t *testing.T) {
		env.t = t
		dir := env.routing.DynamicDir()
		stale := traefik.Marker("route-gone-"+env.id) + "\nhttp: {}\n"
		if err := os.WriteFile(filepath.Join(dir, "route-gone-"+env.id+".yml"), []byte(stale), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hand-written.yml"), []byte("http: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rep := env.sync()
		if !routeContains(rep.Removed, "route-gone-"+env.id) || !routeContains(rep.Foreign, "hand-written.yml") {
			t.Fatalf("report = %+v", rep)
		}
		if _, err := os.Stat(filepath.Join(dir, "hand-written.yml")); err != nil {
			t.Fatal("a foreign file was touched")
		}
		os.Remove(filepath.Join(dir, "hand-written.yml"))
	})
}

func routeContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// BenchmarkRouteDomainChange measures how long a domain change takes to be
// served: from the store write + Sync until Traefik answers 200 for a new
// host, over 20 changes. Run with scripts/bench-routing.sh.
func BenchmarkRouteDomainChange(b *testing.B) {
	env := routeSetup(b)
	const changes = 20
	var took []time.Duration
	for i := 0; i < changes; i++ {
		host := env.host(fmt.Sprintf("bench%d", i))
		start := time.Now()
		env.addDomain("a", db.Domain{Host: host})
		env.waitFor("bench", host, "/", nil, routeStatus(200, "hello from a"))
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	// Nearest-rank percentiles: the ceil(p·n)-th smallest sample.
	p50, p95 := took[(changes*50+99)/100-1], took[(changes*95+99)/100-1]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
	b.Logf("domain change → served, %d changes: p50 %v, p95 %v, min %v, max %v", changes, p50, p95, took[0], took[changes-1])
}
