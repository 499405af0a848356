package traefik

import (
	"errors"
	"strings"
	"testing"
)

func validApp() App {
	return App{
		Name:      "shop",
		Domains:   []Domain{{ID: 1, Host: "shop.example.com", Port: 3000, Enabled: true}},
		BasicAuth: []BasicAuthUser{{Username: "admin", PasswordHash: testHash}},
		Redirects: []Redirect{{ID: 1, Regex: "^/old", Replacement: "/new"}},
		Headers:   map[string]string{"X-Frame-Options": "DENY"},
	}
}

func TestValidate_Valid(t *testing.T) {
	if err := Validate(validApp()); err != nil {
		t.Fatalf("Validate(validApp) = %v", err)
	}
}

func TestValidate_Messages(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		mutate func(*App)
		want   string
	}{
		{"empty name", func(a *App) { a.Name = "" }, "name: is required"},
		{"long name", func(a *App) { a.Name = long }, "name: is longer than 63 characters"},
		{"upper-case name", func(a *App) { a.Name = "Shop" }, `name: must contain only a-z, 0-9 and '-' and must not start or end with '-', got "Shop"`},
		{"name with slash", func(a *App) { a.Name = "../etc" }, `name: must contain only a-z, 0-9 and '-' and must not start or end with '-', got "../etc"`},
		{"name ends with dash", func(a *App) { a.Name = "shop-" }, `name: must contain only a-z, 0-9 and '-' and must not start or end with '-', got "shop-"`},

		{"upstream scheme", func(a *App) { a.Upstreams = []string{"ftp://x"} }, `upstreams[0]: scheme must be http, https or h2c, got "ftp://x"`},
		{"upstream no host", func(a *App) { a.Upstreams = []string{"http://"} }, `upstreams[0]: must be scheme://host[:port], got "http://"`},
		{"upstream userinfo", func(a *App) { a.Upstreams = []string{"http://u:p@x"} }, `upstreams[0]: must be scheme://host[:port], got "http://u:p@x"`},
		{"upstream path", func(a *App) { a.Upstreams = []string{"http://x/api"} }, `upstreams[0]: must not have a path, query or fragment, got "http://x/api"`},
		{"upstream port", func(a *App) { a.Upstreams = []string{"http://x:70000"} }, `upstreams[0]: port must be between 1 and 65535, got "http://x:70000"`},
		{"upstream garbage", func(a *App) { a.Upstreams = []string{"http://x y"} }, `upstreams[0]: is not a valid URL: "http://x y"`},
		{"too many upstreams", func(a *App) { a.Upstreams = make([]string, 33); fill(a.Upstreams, "http://x") }, "upstreams: at most 32 upstreams are allowed"},

		{"domain id", func(a *App) { a.Domains[0].ID = 0 }, "domains[0].id: must be positive, got 0"},
		{"duplicate domain id", func(a *App) { a.Domains = append(a.Domains, domain(1, "b.example")) }, "domains[1].id: duplicate domain ID 1 (also domains[0])"},
		{"duplicate route", func(a *App) { a.Domains = append(a.Domains, domain(2, "SHOP.example.com")) }, `domains[1].host: host "shop.example.com" with path "/" is already used by domain 1`},
		{"empty host", func(a *App) { a.Domains[0].Host = " " }, "domains[0].host: is required"},
		{"wildcard", func(a *App) { a.Domains[0].Host = "*.example.com" }, `domains[0].host: wildcards are not supported, got "*.example.com"`},
		{"host with port", func(a *App) { a.Domains[0].Host = "example.com:80" }, `domains[0].host: must be a bare host name without port, path or scheme, got "example.com:80"`},
		{"host with scheme", func(a *App) { a.Domains[0].Host = "https://example.com" }, `domains[0].host: must be a bare host name without port, path or scheme, got "https://example.com"`},
		{"host with backtick", func(a *App) { a.Domains[0].Host = "a`) || Host(`b" }, `domains[0].host: must be a bare host name without port, path or scheme, got "a` + "`) || Host(`" + `b"`},
		{"host underscore", func(a *App) { a.Domains[0].Host = "a_b.example" }, `domains[0].host: is not a valid host name: "a_b.example"`},
		{"host label too long", func(a *App) { a.Domains[0].Host = long + ".example" }, `domains[0].host: is not a valid host name: "` + long + `.example"`},
		{"host leading hyphen", func(a *App) { a.Domains[0].Host = "-a.example" }, `domains[0].host: is not a valid host name: "-a.example"`},
		{"host empty label", func(a *App) { a.Domains[0].Host = "a..example" }, `domains[0].host: is not a valid host name: "a..example"`},
		{"host ipv4", func(a *App) { a.Domains[0].Host = "10.0.0.1" }, `domains[0].host: IP addresses and numeric top-level labels are not supported, got "10.0.0.1"`},
		{"host ipv6", func(a *App) { a.Domains[0].Host = "[::1]" }, `domains[0].host: must be a bare host name without port, path or scheme, got "[::1]"`},
		{"path without slash", func(a *App) { a.Domains[0].Path = "api" }, `domains[0].path: must start with '/', got "api"`},
		{"path with backtick", func(a *App) { a.Domains[0].Path = "/a`)" }, "domains[0].path: contains forbidden character '`'"},
		{"path with quote", func(a *App) { a.Domains[0].Path = `/a"` }, `domains[0].path: contains forbidden character '"'`},
		{"path with space", func(a *App) { a.Domains[0].Path = "/a b" }, `domains[0].path: contains forbidden character ' '`},
		{"path with template", func(a *App) { a.Domains[0].Path = "/{{env}}" }, `domains[0].path: contains forbidden character '{'`},
		{"path with dotdot", func(a *App) { a.Domains[0].Path = "/a/../b" }, `domains[0].path: must not contain '.' or '..' segments, got "/a/../b"`},
		{"path with double slash", func(a *App) { a.Domains[0].Path = "/a//b" }, `domains[0].path: must not contain '//', got "/a//b"`},
		{"path too long", func(a *App) { a.Domains[0].Path = "/" + strings.Repeat("a", 512) }, "domains[0].path: is longer than 512 characters"},
		{"internal path", func(a *App) { a.Domains[0].InternalPath = "v1" }, `domains[0].internalPath: must start with '/', got "v1"`},
		{"port zero", func(a *App) { a.Domains[0].Port = 0 }, "domains[0].port: must be between 1 and 65535, got 0"},
		{"port too big", func(a *App) { a.Domains[0].Port = 65536 }, "domains[0].port: must be between 1 and 65535, got 65536"},
		{"certificate kind", func(a *App) { a.Domains[0].Certificate = "acme" }, `domains[0].certificate: must be "letsencrypt", "custom" or "none", got "acme"`},
		{"custom without files", func(a *App) { a.Domains[0].Certificate = CertCustom; a.Domains[0].KeyFile = "/k.pem" }, "domains[0].certFile: is required for a custom certificate"},
		{"custom relative", func(a *App) {
			a.Domains[0].Certificate = CertCustom
			a.Domains[0].CertFile, a.Domains[0].KeyFile = "c.pem", "/k.pem"
		}, `domains[0].certFile: must be an absolute path, got "c.pem"`},
		{"custom bad char", func(a *App) {
			a.Domains[0].Certificate = CertCustom
			a.Domains[0].CertFile, a.Domains[0].KeyFile = "/c.pem", "/k\n.pem"
		}, `domains[0].keyFile: contains forbidden character '\n'`},

		{"empty username", func(a *App) { a.BasicAuth[0].Username = "" }, "basicAuth[0].username: is required"},
		{"username colon", func(a *App) { a.BasicAuth[0].Username = "a:b" }, "basicAuth[0].username: must not contain ':', '{' or '}'"},
		{"username space", func(a *App) { a.BasicAuth[0].Username = "a b" }, "basicAuth[0].username: must not contain spaces or control characters"},
		{"username long", func(a *App) { a.BasicAuth[0].Username = strings.Repeat("u", 129) }, "basicAuth[0].username: is longer than 128 characters"},
		{"plain password", func(a *App) { a.BasicAuth[0].PasswordHash = "secret" }, "basicAuth[0].passwordHash: must be a bcrypt hash"},
		{"duplicate user", func(a *App) { a.BasicAuth = append(a.BasicAuth, a.BasicAuth[0]) }, `basicAuth[1].username: duplicate username "admin" (also basicAuth[0])`},

		{"redirect id", func(a *App) { a.Redirects[0].ID = -1 }, "redirects[0].id: must be positive, got -1"},
		{"duplicate redirect", func(a *App) { a.Redirects = append(a.Redirects, a.Redirects[0]) }, "redirects[1].id: duplicate redirect ID 1 (also redirects[0])"},
		{"empty regex", func(a *App) { a.Redirects[0].Regex = "" }, "redirects[0].regex: is required"},
		{"bad regex", func(a *App) { a.Redirects[0].Regex = "(" }, "redirects[0].regex: does not compile: error parsing regexp: missing closing ): `(`"},
		{"template regex", func(a *App) { a.Redirects[0].Regex = `{{env "X"}}` }, "redirects[0].regex: must not contain '{{' (Traefik treats it as a template)"},
		{"multiline regex", func(a *App) { a.Redirects[0].Regex = "a\nb" }, "redirects[0].regex: must not contain line breaks"},
		{"long regex", func(a *App) { a.Redirects[0].Regex = strings.Repeat("a", 1025) }, "redirects[0].regex: is longer than 1024 characters"},
		{"empty replacement", func(a *App) { a.Redirects[0].Replacement = "" }, "redirects[0].replacement: is required"},
		{"replacement newline", func(a *App) { a.Redirects[0].Replacement = "/a\r\nSet-Cookie: x" }, "redirects[0].replacement: must not contain spaces or control characters"},
		{"replacement template", func(a *App) { a.Redirects[0].Replacement = "{{.}}" }, "redirects[0].replacement: must not contain '{{' (Traefik treats it as a template)"},

		{"header name space", func(a *App) { a.Headers = map[string]string{"X Bad": "v"} }, `headers[X Bad]: header name "X Bad" is not a valid token`},
		{"header name colon", func(a *App) { a.Headers = map[string]string{"X:": "v"} }, `headers[X:]: header name "X:" is not a valid token`},
		{"header empty name", func(a *App) { a.Headers = map[string]string{"": "v"} }, "headers[]: header name is required"},
		{"header CRLF", func(a *App) { a.Headers = map[string]string{"X-A": "v\r\nX-B: w"} }, "headers[X-A]: value must not contain CR, LF or other control characters"},
		{"header template", func(a *App) { a.Headers = map[string]string{"X-A": `{{ env "SECRET" }}`} }, "headers[X-A]: value must not contain '{{' (Traefik treats it as a template)"},
		{"header long", func(a *App) { a.Headers = map[string]string{"X-A": strings.Repeat("v", 4097)} }, "headers[X-A]: value is longer than 4096 characters"},
		{"request header", func(a *App) { a.RequestHeaders = map[string]string{"X-A": "\n"} }, "requestHeaders[X-A]: value must not contain CR, LF or other control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := validApp()
			app.Domains = append([]Domain(nil), app.Domains...)
			app.BasicAuth = append([]BasicAuthUser(nil), app.BasicAuth...)
			app.Redirects = append([]Redirect(nil), app.Redirects...)
			tt.mutate(&app)
			err := Validate(app)
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Validate =\n  %q\nwant\n  %q", err.Error(), tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
		})
	}
}

func fill(s []string, v string) {
	for i := range s {
		s[i] = v
	}
}

func TestValidate_ReportsEveryProblem(t *testing.T) {
	app := validApp()
	app.Name = ""
	app.Domains[0].Port = 0
	app.Headers = map[string]string{"X A": ""}
	err := Validate(app)
	if got := len(unjoin(err)); got != 3 {
		t.Fatalf("got %d errors, want 3: %v", got, err)
	}
}

func TestValidate_DisabledDuplicateRouteAllowed(t *testing.T) {
	app := validApp()
	d := domain(2, "shop.example.com")
	d.Enabled = false
	app.Domains = append(app.Domains, d)
	if err := Validate(app); err != nil {
		t.Fatalf("a disabled domain may share a route: %v", err)
	}
}

func TestValidate_UpstreamsMakePortOptional(t *testing.T) {
	app := validApp()
	app.Domains[0].Port = 0
	app.Upstreams = []string{"http://127.0.0.1:9000", "h2c://backend"}
	if err := Validate(app); err != nil {
		t.Fatalf("Validate = %v", err)
	}
}

func TestPerItemValidators(t *testing.T) {
	if err := ValidateDomain(Domain{ID: 1, Host: "a.example", Port: 0}); err == nil || err.Error() != "port: must be between 1 and 65535, got 0" {
		t.Errorf("ValidateDomain = %v", err)
	}
	if err := ValidateRedirect(Redirect{ID: 1, Regex: "[", Replacement: "/"}); err == nil || !strings.HasPrefix(err.Error(), "regex: does not compile") {
		t.Errorf("ValidateRedirect = %v", err)
	}
	if err := ValidateBasicAuthUser(BasicAuthUser{Username: "a:b", PasswordHash: testHash}); err == nil || err.Error() != "username: must not contain ':', '{' or '}'" {
		t.Errorf("ValidateBasicAuthUser = %v", err)
	}
	if err := ValidateHeader("X-A", "ok"); err != nil {
		t.Errorf("ValidateHeader = %v", err)
	}
	if err := ValidateAppName("ok-1"); err != nil {
		t.Errorf("ValidateAppName = %v", err)
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Example.COM", "example.com"},
		{"example.com.", "example.com"},
		{" app.example.com ", "app.example.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"ＥＸＡＭＰＬＥ.com", "example.com"}, // full-width folds to ASCII
		{"localhost", "localhost"},
		{"münchen.de", "xn--mnchen-3ya.de"},
		{"a-b.c-d.example", "a-b.c-d.example"},
		{"1.example", "1.example"},
	}
	for _, tt := range tests {
		got, err := NormalizeHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "*.example.com", "a b.example", "a_b.example", "10.0.0.1", "exa mple", "a.example/x", "xn--zz.example", "a." + strings.Repeat("b", 250) + ".example"} {
		if got, err := NormalizeHost(bad); err == nil {
			t.Errorf("NormalizeHost(%q) = %q, want error", bad, got)
		}
	}
}
