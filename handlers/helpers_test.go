package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/handlers/web"
	"dokploy/jobs"
	"dokploy/jobs/docker"
	"dokploy/views"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery"
)

// testApp is a real Handler on a fresh database, a private Redis namespace
// and the local Docker engine, served over HTTP.
type testApp struct {
	t     *testing.T
	h     *Handler
	store *db.Store
	srv   *httptest.Server
}

// newTestApp builds the whole handler stack the way main does.
func newTestApp(t *testing.T) *testApp {
	t.Helper()
	store := dbtest.NewStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := jobs.OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	ns := dbtest.RedisNamespace(t, pool)
	dk, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	runner := jobs.NewRunner(jobs.Options{Store: store, Redis: pool, Docker: dk, Namespace: ns})
	renderer, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	// The test server's peer is loopback; tests play a trusted proxy there
	// (like Traefik) unless they say otherwise.
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	h := New(Options{PublicURL: "http://dokploy.test", Version: "test", TrustedProxies: []*net.IPNet{loopback}}, store, renderer, runner)
	if err := h.PrepareSetup(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Router())
	t.Cleanup(srv.Close)
	return &testApp{t: t, h: h, store: store, srv: srv}
}

// browser is one HTTP client with its own cookie jar; it never follows
// redirects so tests see the status codes handlers send.
type browser struct {
	app    *testApp
	client *http.Client
	// csrfToken is the CSRF token pages showed for csrfSession (the session
	// cookie then): the token is bound to the session, so it is fetched again
	// after signing in or out.
	csrfToken, csrfSession string
}

func (a *testApp) browser() *browser {
	return &browser{app: a, client: testkit.NewClient(a.t)}
}

// response is what a test looks at.
type response struct {
	Code   int
	Body   string
	Header http.Header
}

func (r *response) doc(t *testing.T) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// location is the redirect target, for plain and HTMX redirects alike.
func (r *response) location() string {
	if l := r.Header.Get("HX-Redirect"); l != "" {
		return l
	}
	return r.Header.Get("Location")
}

// setCookie returns the raw Set-Cookie header for name.
func (r *response) setCookie(name string) string {
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

func (b *browser) do(req *http.Request) *response {
	b.app.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.app.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.app.t.Fatal(err)
	}
	return &response{Code: res.StatusCode, Body: string(body), Header: res.Header}
}

func (b *browser) newRequest(method, path string, body io.Reader) *http.Request {
	b.app.t.Helper()
	req, err := http.NewRequest(method, b.app.srv.URL+path, body)
	if err != nil {
		b.app.t.Fatal(err)
	}
	return req
}

func (b *browser) get(path string) *response {
	b.app.t.Helper()
	return b.do(b.newRequest(http.MethodGet, path, nil))
}

// cookie returns the value of one of this browser's cookies.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.app.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// csrf returns the browser's CSRF token as its pages show it, fetching a
// page when the session changed since the last one.
func (b *browser) csrf() string {
	b.app.t.Helper()
	session := b.cookie(web.SessionCookie)
	if b.csrfToken != "" && session == b.csrfSession {
		return b.csrfToken
	}
	pages := []string{"/login", "/setup"} // /login redirects while setup is open
	if session != "" {
		pages = []string{"/settings", "/account"} // /account for a user sent to set up two-factor
	}
	for _, page := range pages {
		if m := csrfInPage.FindStringSubmatch(b.get(page).Body); m != nil {
			b.csrfToken, b.csrfSession = m[1]+m[2], session
			return b.csrfToken
		}
	}
	b.app.t.Fatalf("no page of %v shows a CSRF token", pages)
	return ""
}

// csrfInPage finds the token in a form field or the body's hx-headers.
var csrfInPage = regexp.MustCompile(`name="_csrf" value="([^"]+)"|"X-CSRF-Token": "([^"]+)"`)

// postFormRaw posts exactly the given values (no CSRF added).
func (b *browser) postFormRaw(path string, values url.Values, headers ...string) *response {
	b.app.t.Helper()
	req := b.newRequest(http.MethodPost, path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// postForm submits a plain HTML form with the _csrf field, like a browser.
func (b *browser) postForm(path string, values url.Values, headers ...string) *response {
	b.app.t.Helper()
	v := url.Values{}
	for k, vs := range values {
		v[k] = vs
	}
	v.Set("_csrf", b.csrf())
	return b.postFormRaw(path, v, headers...)
}

// postHTMX submits a form the way HTMX does: HX-Request and X-CSRF-Token headers.
func (b *browser) postHTMX(path string, values url.Values) *response {
	b.app.t.Helper()
	return b.postFormRaw(path, values, "HX-Request", "true", "X-CSRF-Token", b.csrf())
}

// apiJSON calls the JSON API; token may be empty (then only cookies are sent).
func (b *browser) apiJSON(method, path, token string, body any) (*response, map[string]any) {
	b.app.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		buf, err := json.Marshal(v)
		if err != nil {
			b.app.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req := b.newRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res := b.do(req)
	var out map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
			b.app.t.Fatalf("%s %s: invalid JSON %q: %v", method, path, res.Body, err)
		}
	}
	return res, out
}

// apiJSON calls the API from a client without cookies.
func (a *testApp) apiJSON(method, path, token string, body any) (*response, map[string]any) {
	a.t.Helper()
	return a.browser().apiJSON(method, path, token, body)
}

// setupPath is the one-time setup link as a path on the test server.
func (a *testApp) setupPath() string {
	a.t.Helper()
	link := a.h.SetupLink()
	if link == "" {
		a.t.Fatal("no setup link: setup already done")
	}
	u, err := url.Parse(link)
	if err != nil {
		a.t.Fatal(err)
	}
	return u.RequestURI()
}

func (a *testApp) setupToken() string {
	a.t.Helper()
	u, _ := url.Parse(a.setupPath())
	return u.Query().Get("token")
}

// setupAdmin creates the first admin through /setup and returns a browser
// signed in as that admin.
func (a *testApp) setupAdmin() *browser {
	a.t.Helper()
	return &browser{app: a, client: testkit.Setup(a.t, a.srv.URL+a.setupPath(), adminEmail, adminPassword)}
}

// login signs a new browser in.
func (a *testApp) login(email, password string) *browser {
	a.t.Helper()
	return &browser{app: a, client: testkit.Login(a.t, a.srv.URL, email, password)}
}

// count returns the number of rows of a table.
func (a *testApp) count(table string) int {
	a.t.Helper()
	var n int
	if err := a.store.DB().Get(&n, "SELECT count(*) FROM "+table); err != nil {
		a.t.Fatal(err)
	}
	return n
}

// createProject creates a project through the store and returns it.
func (a *testApp) createProject(name string) *db.Project {
	a.t.Helper()
	p, err := a.store.CreateProject(context.Background(), name, "")
	if err != nil {
		a.t.Fatal(err)
	}
	return p
}

func wantStatus(t *testing.T, res *response, code int) {
	t.Helper()
	if res.Code != code {
		t.Fatalf("want status %d, got %d: %s", code, res.Code, testkit.Truncate(res.Body))
	}
}
