package traefik

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestStaticConfig_Golden(t *testing.T) {
	got, err := StaticConfig(StaticOptions{
		DynamicDir:         "/etc/dokploy/traefik/dynamic",
		ACMEEmail:          "ops@example.com",
		ACMEStorage:        "/etc/dokploy/traefik/acme.json",
		ACMECAServer:       "https://pebble:14000/dir",
		ACMECACertificates: []string{"/etc/dokploy/traefik/pebble.minica.pem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "static.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("static config differs from %s\n%s", path, got)
	}
}

func TestStaticConfig_Defaults(t *testing.T) {
	data, err := StaticConfig(StaticOptions{DynamicDir: "/dyn", ACMEStorage: "/acme.json"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg staticConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"web":       {cfg.EntryPoints[EntryPointWeb].Address, ":80"},
		"websecure": {cfg.EntryPoints[EntryPointWebSecure].Address, ":443"},
		"api":       {cfg.EntryPoints[EntryPointAPI].Address, ":8080"},
		"throttle":  {cfg.Providers.ProvidersThrottleDuration, "100ms"},
		"log":       {cfg.Log.Level, "INFO"},
		"challenge": {cfg.CertificatesResolvers[ResolverLetsEncrypt].ACME.HTTPChallenge.EntryPoint, "web"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if cfg.API.Insecure || cfg.API.Dashboard || !cfg.Providers.File.Watch || cfg.Global.CheckNewVersion || cfg.Global.SendAnonymousUsage {
		t.Errorf("unexpected flags: %+v", cfg)
	}
	if strings.Contains(string(data), "email") || strings.Contains(string(data), "caServer") {
		t.Errorf("optional ACME fields rendered although unset:\n%s", data)
	}
}

func TestStaticConfig_Errors(t *testing.T) {
	tests := []struct {
		name string
		opts StaticOptions
		want string
	}{
		{"no dir", StaticOptions{ACMEStorage: "/a"}, "dynamicDir: is required"},
		{"no storage", StaticOptions{DynamicDir: "/d"}, "acmeStorage: is required"},
		{"bad address", StaticOptions{DynamicDir: "/d", ACMEStorage: "/a", WebAddress: "80"}, `webAddress: must be [host]:port, got "80"`},
		{"bad email", StaticOptions{DynamicDir: "/d", ACMEStorage: "/a", ACMEEmail: "nobody"}, `acmeEmail: is not an email address: "nobody"`},
		{"bad level", StaticOptions{DynamicDir: "/d", ACMEStorage: "/a", LogLevel: "LOUD"}, `logLevel: unknown level "LOUD"`},
		{"negative throttle", StaticOptions{DynamicDir: "/d", ACMEStorage: "/a", Throttle: -time.Second}, "throttle: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := StaticConfig(tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("StaticConfig error = %v, want %q", err, tt.want)
			}
		})
	}
}
