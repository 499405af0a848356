package traefik

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testHash is a syntactically valid bcrypt hash; rendering never checks the
// password, so a fixed value keeps golden files stable.
const testHash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

func domain(id int64, host string) Domain {
	return Domain{ID: id, Host: host, Port: 3000, Enabled: true}
}

func goldenCases() map[string]App {
	https := domain(7, "shop.example.com")
	https.HTTPS, https.Certificate = true, CertLetsEncrypt

	strip := domain(3, "api.example.com")
	strip.Path, strip.StripPath = "/api", true

	internal := domain(4, "docs.example.com")
	internal.Path, internal.StripPath, internal.InternalPath = "/docs", true, "/v2/docs"

	custom := domain(5, "secure.example.com")
	custom.HTTPS, custom.Certificate = true, CertCustom
	custom.CertFile, custom.KeyFile = "/etc/dokploy/certs/secure/chain.crt", "/etc/dokploy/certs/secure/privkey.key"

	several := []Domain{
		{ID: 12, Host: "Bücher.example", Port: 8080, HTTPS: true, Certificate: CertLetsEncrypt, Enabled: true},
		{ID: 2, Host: "www.example.org", Path: "/blog", StripPath: true, Port: 80, Enabled: true},
		{ID: 9, Host: "old.example.org", Port: 80, Enabled: false},
		{ID: 4, Host: "example.org", Port: 80, HTTPS: true, Enabled: true},
	}

	return map[string]App{
		"plain_http":         {Name: "web", Domains: []Domain{domain(1, "app.example.com")}},
		"https_letsencrypt":  {Name: "shop", Domains: []Domain{https}},
		"path_strip":         {Name: "api", Domains: []Domain{strip}},
		"internal_path":      {Name: "docs", Domains: []Domain{internal}},
		"basic_auth":         {Name: "admin", Domains: []Domain{domain(1, "admin.example.com")}, BasicAuth: []BasicAuthUser{{"zoe", testHash}, {"alice", testHash}}},
		"regex_redirect":     {Name: "blog", Domains: []Domain{domain(1, "blog.example.com")}, Redirects: []Redirect{{ID: 8, Regex: `^https?://blog\.example\.com/old/(.*)`, Replacement: "https://blog.example.com/new/${1}", Permanent: true}, {ID: 3, Regex: `^(.*)/index\.html$`, Replacement: "${1}/"}}},
		"custom_headers":     {Name: "hdr", Domains: []Domain{domain(1, "hdr.example.com")}, Headers: map[string]string{"X-Frame-Options": "DENY", "Strict-Transport-Security": "max-age=31536000; includeSubDomains", "Server": ""}, RequestHeaders: map[string]string{"X-Forwarded-App": "hdr"}},
		"custom_certificate": {Name: "secure", Domains: []Domain{custom}},
		"several_domains":    {Name: "multi", Domains: several, Redirects: []Redirect{{ID: 1, Regex: `^http://www\.(.*)`, Replacement: "https://${1}"}}, BasicAuth: []BasicAuthUser{{"ops", testHash}}},
		"upstreams":          {Name: "ext", Upstreams: []string{"http://10.0.0.2:8080", "http://10.0.0.1:8080"}, Domains: []Domain{domain(1, "ext.example.com"), domain(2, "ext2.example.com")}},
	}
}

func TestRender_Golden(t *testing.T) {
	for name, app := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(app)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if err := Check(app.Name, got); err != nil {
				t.Fatalf("rendered file fails Check: %v\n%s", err, got)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update if intended)\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

func TestRender_IndependentOfInputOrder(t *testing.T) {
	app := goldenCases()["several_domains"]
	app.BasicAuth = []BasicAuthUser{{"b", testHash}, {"a", testHash}}
	app.Redirects = append(app.Redirects, Redirect{ID: 5, Regex: "^/x", Replacement: "/y"})
	want, err := Render(app)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := app
	shuffled.Domains = slices.Clone(app.Domains)
	slices.Reverse(shuffled.Domains)
	shuffled.BasicAuth = slices.Clone(app.BasicAuth)
	slices.Reverse(shuffled.BasicAuth)
	shuffled.Redirects = slices.Clone(app.Redirects)
	slices.Reverse(shuffled.Redirects)
	for range 5 {
		got, err := Render(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("output depends on input order:\n%s\nvs\n%s", got, want)
		}
	}
}

func TestRender_NoEnabledDomainIsErrNoRoutes(t *testing.T) {
	for name, app := range map[string]App{
		"no domains":       {Name: "idle"},
		"all disabled":     {Name: "idle", Domains: []Domain{{ID: 1, Host: "a.example", Port: 80}}},
		"auth but no host": {Name: "idle", BasicAuth: []BasicAuthUser{{"u", testHash}}},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := Render(app)
			if !errors.Is(err, ErrNoRoutes) || data != nil {
				t.Fatalf("Render = %q, %v; want nil, ErrNoRoutes", data, err)
			}
			names, err := RouterNames(app)
			if err != nil || len(names) != 0 {
				t.Fatalf("RouterNames = %v, %v; want none", names, err)
			}
		})
	}
}

func TestRender_InvalidAppIsRejected(t *testing.T) {
	_, err := Render(App{Name: "Bad Name", Domains: []Domain{domain(1, "a.example")}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "name" {
		t.Fatalf("Render error = %v; want a FieldError for name", err)
	}
}

func TestRouterNames(t *testing.T) {
	names, err := RouterNames(goldenCases()["several_domains"])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"multi-d12-web", "multi-d12-websecure", "multi-d2-web", "multi-d4-web", "multi-d4-websecure"}
	if !slices.Equal(names, want) {
		t.Fatalf("RouterNames = %v, want %v", names, want)
	}
}

// Names of app "a" must never equal names of app "a-d1" and the like:
// Traefik keeps only the first of two equal names across files.
func TestRender_NamesDoNotCollideAcrossApps(t *testing.T) {
	full := func(name string) App {
		d := domain(1, name+".example.com")
		d.HTTPS, d.Path, d.StripPath, d.InternalPath = true, "/p", true, "/q"
		return App{Name: name, Domains: []Domain{d, domain(2, name+"2.example.com")},
			BasicAuth: []BasicAuthUser{{"u", testHash}}, Redirects: []Redirect{{ID: 1, Regex: "a", Replacement: "b"}},
			Headers: map[string]string{"X-A": "1"}}
	}
	owner := map[string]string{}
	for _, name := range []string{"a", "a-d1", "a-d1-web", "a-svc", "a-svc-3000", "a-redirect", "a-strip", "a-https", "a-auth", "a-d2", "a-addprefix"} {
		data, err := Render(full(name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := decodeStrict(data)
		if err != nil {
			t.Fatal(err)
		}
		all := append(append(sortedKeys(cfg.HTTP.Routers), sortedKeys(cfg.HTTP.Services)...), sortedKeys(cfg.HTTP.Middlewares)...)
		for _, n := range all {
			if prev, dup := owner[n]; dup && prev != name {
				t.Errorf("name %q produced by apps %q and %q", n, prev, name)
			}
			owner[n] = name
		}
	}
}
