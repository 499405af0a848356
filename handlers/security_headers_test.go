package handlers

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"dokploy/db/dbtest"
)

// Every page kind, its HTMX partials and the error page carry the
// Content-Security-Policy, and what they render satisfies it: scripts only
// from /static/, no on* handler, hx-on, style attribute or <style>, no htmx
// feature that needs eval.
func TestCSP_PagesCarryThePolicyAndSatisfyIt(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	anon := app.browser()
	setup := anon.get(app.setupPath())
	wantStatus(t, setup, http.StatusOK)
	checkCSP(t, app.setupPath(), setup)

	b := app.setupAdmin()
	p := app.createProject("csp")
	a := app.createImageApp(p, "csp-web-"+dbtest.RandomSuffix())
	dep, err := app.store.CreateDeployment(context.Background(), a.ID, "user", adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	d := b.createDatabase(p, "csp-db-"+dbtest.RandomSuffix())
	s := b.createCompose(p, stackName("csp"))

	for _, path := range []string{
		"/", fmt.Sprintf("/projects/%d", p.ID),
		fmt.Sprintf("/apps/%d", a.ID), fmt.Sprintf("/apps/%d/webhooks", a.ID),
		fmt.Sprintf("/deployments/%d", dep.ID),
		fmt.Sprintf("/databases/%d", d.ID), fmt.Sprintf("/databases/%d/backups", d.ID), fmt.Sprintf("/databases/%d/advanced", d.ID),
		fmt.Sprintf("/compose/%d", s.ID), fmt.Sprintf("/compose/%d/file", s.ID),
		"/settings", "/settings/destinations", "/account", "/api-docs",
	} {
		res := b.get(path)
		wantStatus(t, res, http.StatusOK)
		checkCSP(t, path, res)
	}
	// The error page, and a JSON answer, carry it too.
	res := b.get("/projects/999999999")
	wantStatus(t, res, http.StatusNotFound)
	checkCSP(t, "/projects/999999999", res)
	if got := b.get("/api/health").Header.Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("/api/health: Content-Security-Policy %q", got)
	}
	// The stylesheet that replaced the style attributes is served.
	css := b.get("/static/app.css")
	wantStatus(t, css, http.StatusOK)
	for _, want := range []string{".u-mt-0 {", ".htmx-request .htmx-indicator"} {
		if !strings.Contains(css.Body, want) {
			t.Errorf("app.css lacks %q", want)
		}
	}
}

// checkCSP checks the policy header and that the page's HTML needs nothing
// the policy refuses.
func checkCSP(t *testing.T, path string, res *response) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
		"base-uri 'self'", "frame-ancestors 'none'", "form-action 'self'", "img-src 'self' data:", "connect-src 'self'"} {
		if !strings.Contains(csp, want+";") && !strings.HasSuffix(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: Content-Security-Policy %q allows %s", path, csp, bad)
		}
	}
	if problems := inlineCode(res.doc(t)); len(problems) > 0 {
		t.Errorf("%s renders what the policy refuses:\n%s", path, strings.Join(problems, "\n"))
	}
}

// inlineCode lists the elements of a rendered page that script-src 'self'
// or style-src 'self' refuse, or that need htmx's eval.
func inlineCode(d *goquery.Document) []string {
	var out []string
	d.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, _ := s.Attr("src"); !strings.HasPrefix(src, "/static/") {
			out = append(out, fmt.Sprintf("<script src=%q>%s</script>", src, s.Text()))
		}
	})
	if n := d.Find("style").Length(); n > 0 {
		out = append(out, fmt.Sprintf("%d <style> elements", n))
	}
	d.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			k, v := strings.ToLower(a.Key), strings.TrimSpace(a.Val)
			switch {
			case strings.HasPrefix(k, "on"), strings.HasPrefix(k, "hx-on"), strings.HasPrefix(k, "data-hx-on"), k == "style":
				out = append(out, fmt.Sprintf("<%s %s=%q>", s.Nodes[0].Data, a.Key, a.Val))
			case (k == "hx-vals" || k == "hx-headers" || k == "hx-vars") && !strings.HasPrefix(v, "{"):
				out = append(out, fmt.Sprintf("<%s %s=%q> (js: needs eval)", s.Nodes[0].Data, a.Key, a.Val))
			case k == "hx-trigger" && strings.Contains(v, "["):
				out = append(out, fmt.Sprintf("<%s hx-trigger=%q> (a filter needs eval)", s.Nodes[0].Data, a.Val))
			case k == "href" && strings.HasPrefix(strings.ToLower(v), "javascript:"):
				out = append(out, fmt.Sprintf("<%s href=%q>", s.Nodes[0].Data, a.Val))
			}
		}
	})
	return out
}

// templateInlineCode finds, in template source, an inline <script> (one
// without src), an on*= handler, hx-on, a style attribute, <style>, a
// javascript: URL or an htmx js: value.
var templateInlineCode = regexp.MustCompile(`(?i)<script\b[^>]*>|<style\b|\s(on[a-z]+|hx-on[a-z:-]*|data-hx-on[a-z:-]*|style)\s*=|javascript:|hx-(vals|headers|vars)\s*=\s*['"]\s*js:|hx-trigger\s*=\s*"[^"]*\[`)

func templateViolations(src string) []string {
	var out []string
	for _, m := range templateInlineCode.FindAllString(src, -1) {
		if strings.HasPrefix(strings.ToLower(m), "<script") && regexp.MustCompile(`\ssrc="`).MatchString(m) {
			continue
		}
		out = append(out, strings.TrimSpace(m))
	}
	return out
}

// No template holds inline code, so the policy cannot be broken again by
// a new page; the checker itself is tried on snippets first.
func TestTemplates_NoInlineScriptOrHandlers(t *testing.T) {
	for _, bad := range []string{
		`<script>alert(1)</script>`, `<script type="module">x()</script>`, `<button onclick="go()">`,
		`<input type="text"
		  oninput="x()">`, `<form ONSUBMIT="return false">`, `<div hx-on:click="x()">`, `<div hx-on::after-request="x()">`,
		`<p style="margin:0">`, `<style>p{}</style>`, `<a href="javascript:go()">`, `<div hx-vals='js:{a: 1}'>`,
		`<div hx-trigger="keyup[key=='Enter']">`,
	} {
		if len(templateViolations(bad)) == 0 {
			t.Errorf("the check misses %q", bad)
		}
	}
	for _, good := range []string{
		`<script src="/static/pages.js?v={{.Version}}" defer></script>`, `<button data-dialog-open="x">`,
		`<div hx-vals='{"key": "{{.Key}}"}'>`, `<div hx-trigger="every 2s">`, `<p class="u-m-0">Online: yes</p>`,
		`<option value="on">`, `<div data-state="idle" hx-trigger="sse:eof, sse:line once">`,
	} {
		if v := templateViolations(good); len(v) > 0 {
			t.Errorf("the check flags %q: %v", good, v)
		}
	}

	root := os.DirFS("../views/templates")
	n := 0
	err := fs.WalkDir(root, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		n++
		for _, v := range templateViolations(string(b)) {
			t.Errorf("views/templates/%s: %s (put code in static/*.js wired by data-* attributes, styles in app.css)", path, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("read only %d templates", n)
	}
}

// HSTS is sent when the browser talks HTTPS: over TLS, when a trusted proxy
// says so, or for the https public URL's host; never on plain http, and
// not because an untrusted client claims HTTPS.
func TestHSTS_OnlyOverHTTPS(t *testing.T) {
	t.Parallel()
	app := newTestApp(t) // loopback, the test client, is a trusted proxy
	b := app.browser()
	hsts := func(host string, headers ...string) string {
		t.Helper()
		req := b.newRequest(http.MethodGet, "/api/health", nil)
		if host != "" {
			req.Host = host
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res := b.do(req)
		wantStatus(t, res, http.StatusOK)
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("no Content-Security-Policy with %v", headers)
		}
		return res.Header.Get("Strict-Transport-Security")
	}
	const want = "max-age=31536000"

	if got := hsts(""); got != "" {
		t.Errorf("plain http: Strict-Transport-Security %q, want none", got)
	}
	if got := hsts("", "X-Forwarded-Proto", "https"); got != want {
		t.Errorf("trusted proxy, X-Forwarded-Proto https: Strict-Transport-Security %q, want %q", got, want)
	}
	if got := hsts("", "X-Forwarded-Proto", "http"); got != "" {
		t.Errorf("trusted proxy, X-Forwarded-Proto http: Strict-Transport-Security %q, want none", got)
	}

	// No proxy trusted (the default): the client's claim is not believed.
	app.h.proxies = newProxyTrust(nil, nil, "http://dokploy.test")
	for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Protocol", "X-Url-Scheme"} {
		if got := hsts("", h, "https"); got != "" {
			t.Errorf("untrusted client, %s https: Strict-Transport-Security %q, want none", h, got)
		}
	}
	if got := hsts("", "X-Forwarded-Ssl", "on"); got != "" {
		t.Errorf("untrusted client, X-Forwarded-Ssl on: Strict-Transport-Security %q, want none", got)
	}

	// An https public URL: its host is reached through the TLS terminator.
	app.h.proxies = newProxyTrust(nil, nil, "https://dokploy.example.com")
	if got := hsts("dokploy.example.com"); got != want {
		t.Errorf("https public URL's host: Strict-Transport-Security %q, want %q", got, want)
	}
	if got := hsts(""); got != "" {
		t.Errorf("https public URL, request for another host (plain http): Strict-Transport-Security %q, want none", got)
	}
	// A trusted proxy's word wins over the public URL.
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	app.h.proxies = newProxyTrust([]*net.IPNet{loopback}, nil, "https://dokploy.example.com")
	if got := hsts("dokploy.example.com", "X-Forwarded-Proto", "http"); got != "" {
		t.Errorf("trusted proxy says http for the public host: Strict-Transport-Security %q, want none", got)
	}

	// TLS on the connection itself.
	tls := httptest.NewTLSServer(app.h.Router())
	t.Cleanup(tls.Close)
	resp, err := tls.Client().Get(tls.URL + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != want {
		t.Errorf("TLS: Strict-Transport-Security %q, want %q", got, want)
	}
}
