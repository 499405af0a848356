package traefik

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRenderValidate checks the contract between the validators and the
// renderer: whatever Validate accepts renders to a file that passes Check,
// whose every name is within the app's prefix, and whose host is stable
// under NormalizeHost.
func FuzzRenderValidate(f *testing.F) {
	f.Add("shop", "shop.example.com", "/", false, "", 3000, false, uint8(0), "^/old", "/new", "admin", "X-Frame-Options", "DENY", "")
	f.Add("a-d1", "Bücher.example", "/api", true, "/v1", 8080, true, uint8(1), `^https?://www\.(.*)`, "https://${1}", "bob", "Server", "", "http://10.0.0.1:80")
	f.Add("x", "x.example", "/p", false, "/p", 1, true, uint8(2), "a{2}", "b", "u", "X-A", "v\tw", "h2c://svc")
	f.Add("x", "a`) || Host(`b", "/{{env}}", false, "..", 0, true, uint8(3), "(", "", "a:b", "X A", "v\r\n", "ftp://x")
	f.Fuzz(func(t *testing.T, name, host, path string, strip bool, internal string, port int, https bool, cert uint8,
		regex, repl, user, hname, hvalue, upstream string) {
		app := App{
			Name: name,
			Domains: []Domain{{
				ID: 1, Host: host, Path: path, StripPath: strip, InternalPath: internal, Port: port,
				HTTPS: https, Certificate: []string{"", CertNone, CertLetsEncrypt, CertCustom}[cert%4],
				CertFile: "/certs/" + name + ".crt", KeyFile: "/certs/" + name + ".key", Enabled: true,
			}},
			BasicAuth: []BasicAuthUser{{Username: user, PasswordHash: testHash}},
			Redirects: []Redirect{{ID: 1, Regex: regex, Replacement: repl}},
			Headers:   map[string]string{hname: hvalue},
		}
		if upstream != "" {
			app.Upstreams = []string{upstream}
		}
		if Validate(app) != nil {
			if _, err := Render(app); err == nil {
				t.Fatalf("Render accepted an app Validate rejects")
			}
			return
		}
		data, err := Render(app)
		if err != nil {
			t.Fatalf("Render failed on a valid app: %v", err)
		}
		if err := Check(name, data); err != nil {
			t.Fatalf("Check failed on rendered output: %v\n%s", err, data)
		}
		names, err := RouterNames(app)
		if err != nil || len(names) == 0 {
			t.Fatalf("RouterNames = %v, %v", names, err)
		}
		for _, n := range names {
			if !strings.HasPrefix(n, name+"-") {
				t.Fatalf("router %q outside prefix %q", n, name+"-")
			}
		}
		h, err := NormalizeHost(host)
		if err != nil {
			t.Fatalf("NormalizeHost rejected a host Validate accepted: %v", err)
		}
		if h2, err := NormalizeHost(h); err != nil || h2 != h {
			t.Fatalf("NormalizeHost not idempotent: %q -> %q -> %q, %v", host, h, h2, err)
		}
		// Another app's file must not pass Check for this app.
		if err := Check(name+"-x", data); err == nil {
			t.Fatalf("Check accepted the file under another app name")
		}
		app.Domains[0].Enabled = false
		if _, err := Render(app); !errors.Is(err, ErrNoRoutes) {
			t.Fatalf("disabled app: Render error = %v, want ErrNoRoutes", err)
		}
	})
}
