package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"dokploy/db"
)

// validConfig is the documented defaults with a private data dir; built
// through loadConfig so settings added later get their defaults too.
func validConfig(t *testing.T) config {
	for _, e := range envVars {
		t.Setenv(e.Name, "")
	}
	cfg := loadConfig()
	cfg.DataDir = t.TempDir()
	cfg.PublicURL = "https://dokploy.example.com"
	return cfg
}

func TestConfigValidate_OneMessagePerProblem(t *testing.T) {
	if err := validConfig(t).validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	bad := validConfig(t)
	bad.Addr, bad.DatabaseURL, bad.RedisURL, bad.DataDir = "3000", "mysql://x", "http://x", "relative/dir"
	bad.SecretKey, bad.SecretKeyFile, bad.PublicURL, bad.EndpointMode = "short", "/etc/key", "dokploy.example.com", "round-robin"
	err := bad.validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"DOKPLOY_ADDR", "DOKPLOY_DATABASE_URL", "DOKPLOY_REDIS_URL", "DOKPLOY_DATA_DIR",
		"at least 32 characters", "only one of DOKPLOY_SECRET_KEY and DOKPLOY_SECRET_KEY_FILE", "DOKPLOY_PUBLIC_URL", "DOKPLOY_ENDPOINT_MODE"}
	if len(lines) != len(want) {
		t.Fatalf("want %d messages, one per problem, got %d:\n%s", len(want), len(lines), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("message %d %q does not mention %q", i, lines[i], w)
		}
	}
	// Each check alone gives exactly its own message.
	single := validConfig(t)
	single.EndpointMode = "x"
	if err := single.validate(); err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "DOKPLOY_ENDPOINT_MODE") {
		t.Errorf("single problem: %v", err)
	}
}

func TestConfigSecret_GeneratedOnceWithMode0600(t *testing.T) {
	cfg := validConfig(t)
	cfg.DataDir = filepath.Join(cfg.DataDir, "nested", "data")
	key, err := cfg.secret()
	if err != nil {
		t.Fatal(err)
	}
	if len(key) < 32 {
		t.Fatalf("generated key too short: %d", len(key))
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret.key mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.TrimSpace(string(data)) != string(key) {
		t.Errorf("file holds %q, secret() returned %q", data, key)
	}
	again, err := cfg.secret()
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second call must reuse the key: %q vs %q (%v)", again, key, err)
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("secret.key rewritten on the second call")
	}

	// An explicit key wins and writes nothing.
	explicit := validConfig(t)
	explicit.SecretKey = strings.Repeat("k", 40)
	if got, err := explicit.secret(); err != nil || string(got) != explicit.SecretKey {
		t.Errorf("explicit key: %q %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(explicit.DataDir, "secret.key")); !os.IsNotExist(err) {
		t.Error("a key file was generated although DOKPLOY_SECRET_KEY is set")
	}
	// A named key file must exist and be long enough; it is never generated.
	fromFile := validConfig(t)
	fromFile.SecretKeyFile = filepath.Join(fromFile.DataDir, "missing.key")
	if _, err := fromFile.secret(); err == nil {
		t.Error("missing DOKPLOY_SECRET_KEY_FILE accepted")
	}
	if err := os.WriteFile(fromFile.SecretKeyFile, []byte("too-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fromFile.secret(); err == nil || !strings.Contains(err.Error(), "shorter than 32") {
		t.Errorf("short key file: %v", err)
	}
	long := strings.Repeat("f", 48)
	if err := os.WriteFile(fromFile.SecretKeyFile, []byte(long+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := fromFile.secret(); err != nil || string(got) != long {
		t.Errorf("key file: %q %v", got, err)
	}
}

func TestHelp_ListsEveryEnvVar(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("--help exit %d: %s", code, errOut.String())
	}
	help := out.String()
	for _, e := range envVars {
		if !strings.Contains(help, e.Name) || !strings.Contains(help, e.Usage) {
			t.Errorf("--help does not document %s", e.Name)
		}
		if e.Default != "" && !strings.Contains(help, e.Default) {
			t.Errorf("--help does not show the default of %s", e.Name)
		}
	}
	// Every variable the code reads is in the table (and so in --help).
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`getenv\("([A-Z_]+)"\)`).FindAllStringSubmatch(string(src), -1)
	if len(read) < 5 {
		t.Fatalf("found only %d getenv calls; did the loader change?", len(read))
	}
	for _, m := range read {
		if !strings.Contains(help, m[1]) {
			t.Errorf("config reads %s but --help does not list it", m[1])
		}
	}
	for _, cmd := range []string{"serve", "worker", "migrate", "admin create", "reset-password", "token create"} {
		if !strings.Contains(help, cmd) {
			t.Errorf("usage does not mention %q", cmd)
		}
	}
	// A subcommand's --help prints its flags and the environment too.
	out.Reset()
	if code := run([]string{"token", "create", "--help"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("token create --help exit %d", code)
	}
	if !strings.Contains(out.String(), "-email") || !strings.Contains(out.String(), "DOKPLOY_DATABASE_URL") {
		t.Errorf("token create --help:\n%s", out.String())
	}
	if code := run([]string{"bogus"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

// Apps may not publish the ports the platform itself listens on, taken
// from the actual configuration.
func TestConfigReservedPorts_FollowTheConfiguration(t *testing.T) {
	cfg := validConfig(t)
	cfg.Addr = ":3900"
	cfg.TraefikHTTPPort, cfg.TraefikHTTPSPort = 8080, 8443
	cfg.TraefikAPIURL = "http://127.0.0.1:9089"
	cfg.DatabaseURL = "postgres://u:p@127.0.0.1:6543/dokploy"
	cfg.RedisURL = "redis://db.internal:6379/0" // another host: its port is free here
	got := cfg.reservedPorts()
	want := map[int]string{22: "SSH", 3900: "the dashboard", 8080: "Traefik HTTP", 8443: "Traefik HTTPS",
		9089: "Traefik's API", 6543: "PostgreSQL"}
	if len(got) != len(want) {
		t.Errorf("reserved = %v, want %v", got, want)
	}
	for port, what := range want {
		if got[port] != what {
			t.Errorf("port %d: %q, want %q", port, got[port], what)
		}
	}
}

func TestConfig_TrustedProxies(t *testing.T) {
	c := config{TrustedProxies: " 10.0.0.0/8, 172.18.0.2 ,::1"}
	nets, err := c.trustedProxies()
	if err != nil || len(nets) != 3 || nets[1].String() != "172.18.0.2/32" || nets[2].String() != "::1/128" {
		t.Fatalf("got %v, %v", nets, err)
	}
	if nets, err := (config{}).trustedProxies(); err != nil || len(nets) != 0 {
		t.Fatalf("default: want none, got %v, %v", nets, err)
	}
	if _, err := (config{TrustedProxies: "10.0.0.0/33"}).trustedProxies(); err == nil {
		t.Fatal("a bad CIDR was accepted")
	}
}

// A key file may hold a ring: the first line seals, the others are the
// previous keys a rotation keeps; control-plane backups carry all of them.
func TestConfigSecret_KeyFileHoldsARing(t *testing.T) {
	cfg := validConfig(t)
	cfg.SecretKeyFile = filepath.Join(cfg.DataDir, "ring.key")
	current, previous := strings.Repeat("c", 40), strings.Repeat("p", 40)
	if err := os.WriteFile(cfg.SecretKeyFile, []byte(current+"\n\n"+previous+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := cfg.secret(); err != nil || string(got) != current {
		t.Fatalf("secret: %q %v", got, err)
	}
	if ring, err := cfg.secretRing(); err != nil || ring != current+"\n"+previous {
		t.Fatalf("ring: %q %v", ring, err)
	}
	c, err := cfg.cipher()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.KeyIDs(); len(got) != 2 || got[0] != db.KeyID([]byte(current)) || got[1] != db.KeyID([]byte(previous)) {
		t.Fatalf("cipher key ids %v", got)
	}
	if err := os.WriteFile(cfg.SecretKeyFile, []byte(current+"\nshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.secret(); err == nil || !strings.Contains(err.Error(), "previous secret key 1") {
		t.Errorf("short previous key: %v", err)
	}
}
