package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/e2e/testkit"
	"dokploy/jobs/routing"
)

func wantDomainError(t *testing.T, res *response, body map[string]any, status int, field, contains string) {
	t.Helper()
	if res.Code != status {
		t.Fatalf("want %d, got %d: %s", status, res.Code, res.Body)
	}
	if got, _ := body["field"].(string); got != field {
		t.Errorf("want field %q, got %q (%s)", field, got, res.Body)
	}
	if msg, _ := body["error"].(string); !strings.Contains(msg, contains) {
		t.Errorf("want message containing %q, got %q", contains, msg)
	}
}

func TestDomainAPI_CreateListPatchDelete(t *testing.T) {
	a := newRoutingApp(t)
	token := a.apiToken()
	app := a.CreateApp("shop")
	base := fmt.Sprintf("/api/v1/applications/%d/domains", app.ID)

	res, out := a.apiJSON(http.MethodPost, base, token, map[string]any{
		"host": "Shop.Example.com", "path": "/", "strip_path": false, "port": 8080, "https": true, "certificate": "letsencrypt"})
	wantStatus(t, res, http.StatusCreated)
	if out["host"] != "shop.example.com" || out["status"] != routing.StatePending {
		t.Fatalf("created = %v", out)
	}
	id := int64(out["id"].(float64))
	testkit.MustContain(t, a.File("shop"), "Host(`shop.example.com`)", "http://shop:8080", "certResolver: letsencrypt")

	res, out = a.apiJSON(http.MethodPost, base, token, map[string]any{"host": "bücher.example", "port": 8080, "https": false})
	wantStatus(t, res, http.StatusCreated)
	if out["host"] != "xn--bcher-kva.example" {
		t.Errorf("IDN stored as %v, want punycode", out["host"])
	}
	idn := int64(out["id"].(float64))

	res, out = a.apiJSON(http.MethodGet, base, token, nil)
	wantStatus(t, res, http.StatusOK)
	if items := out["items"].([]any); len(items) != 2 {
		t.Fatalf("list = %v", out)
	}

	res, out = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/domains/%d", id), token, map[string]any{"port": 9090, "path": "/shop", "strip_path": true})
	wantStatus(t, res, http.StatusOK)
	if out["port"] != float64(9090) || out["path"] != "/shop" || out["https"] != true {
		t.Errorf("patched = %v (unsent fields must keep their values)", out)
	}
	testkit.MustContain(t, a.File("shop"), "http://shop:9090", "PathPrefix(`/shop`)")

	for _, d := range []int64{id, idn} {
		res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/domains/%d", d), token, nil)
		wantStatus(t, res, http.StatusNoContent)
	}
	if a.File("shop") != "" {
		t.Error("file left after the last domain was deleted")
	}
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/domains/%d", id), token, nil)
	wantStatus(t, res, http.StatusNotFound)
}

func TestDomainAPI_ValidationErrors(t *testing.T) {
	a := newRoutingApp(t)
	token := a.apiToken()
	shop := a.CreateApp("shop")
	blog := a.CreateApp("blog")
	res, _ := a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", blog.ID), token,
		map[string]any{"host": "taken.example.com", "path": "/blog", "port": 80})
	wantStatus(t, res, http.StatusCreated)

	tests := []struct {
		name          string
		body          any
		status        int
		field, substr string
	}{
		{"host required", map[string]any{"port": 80}, 422, "host", "required"},
		{"host with space", map[string]any{"host": "a b.com", "port": 80}, 422, "host", ""},
		{"wildcard", map[string]any{"host": "*.example.com", "port": 80}, 422, "host", "wildcard"},
		{"host with scheme", map[string]any{"host": "https://x.com", "port": 80}, 422, "host", ""},
		{"path without slash", map[string]any{"host": "x.com", "path": "api", "port": 80}, 422, "path", "start with /"},
		{"internal path without slash", map[string]any{"host": "x.com", "internal_path": "v2", "port": 80}, 422, "internal_path", "start with /"},
		{"path with backtick", map[string]any{"host": "x.com", "path": "/a`) || Host(`b", "port": 80}, 422, "path", ""},
		{"port zero", map[string]any{"host": "x.com", "port": 0}, 422, "port", "1 and 65535"},
		{"port too big", map[string]any{"host": "x.com", "port": 70000}, 422, "port", "1 and 65535"},
		{"unknown certificate", map[string]any{"host": "x.com", "port": 80, "certificate": "self"}, 422, "certificate", ""},
		{"custom without certificate", map[string]any{"host": "x.com", "port": 80, "https": true, "certificate": "custom"}, 422, "certificate_id", "choose"},
		{"custom with missing certificate", map[string]any{"host": "x.com", "port": 80, "https": true, "certificate": "custom", "certificate_id": 999}, 422, "certificate_id", "no such"},
		{"claimed by another app", map[string]any{"host": "Taken.Example.com", "path": "/blog", "port": 80}, 422, "host", `app "App blog" (blog)`},
		{"unknown field", map[string]any{"host": "x.com", "port": 80, "hostname": "y"}, 400, "hostname", "unknown field"},
		{"wrong type", `{"host": "x.com", "port": "80"}`, 400, "port", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, out := a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", shop.ID), token, tc.body)
			wantDomainError(t, res, out, tc.status, tc.field, tc.substr)
		})
	}
	// A host belongs to one service: another app may not take a path of it
	// (Traefik would send it that part of the traffic), the owner may.
	res, out := a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", shop.ID), token,
		map[string]any{"host": "taken.example.com", "path": "/shop", "port": 80})
	wantDomainError(t, res, out, 422, "host", `taken.example.com belongs to app "App blog" (blog)`)
	res, _ = a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", blog.ID), token,
		map[string]any{"host": "taken.example.com", "path": "/", "port": 80})
	wantStatus(t, res, http.StatusCreated)
	// The dashboard's host is reserved the same way.
	if _, err := a.store.DB().Exec(`INSERT INTO domains (service_id, host, port) VALUES (NULL, 'panel.example.com', 3000)`); err != nil {
		t.Fatal(err)
	}
	res, out = a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", shop.ID), token,
		map[string]any{"host": "panel.example.com", "path": "/grafana", "port": 80})
	wantDomainError(t, res, out, 422, "host", "panel.example.com belongs to the dashboard")
	if n := a.count("domains"); n != 3 {
		t.Errorf("%d domains saved; refused requests must save nothing", n)
	}
	testkit.MustNotContain(t, a.File("shop"), "hostname")
	// The other app's file never changed because of shop's refused input.
	testkit.MustContain(t, a.File("blog"), "PathPrefix(`/blog`)")
}

func TestDomainAPI_UploadedCertificates(t *testing.T) {
	a := newRoutingApp(t)
	token := a.apiToken()
	app := a.CreateApp("secure")
	cert, key := testkit.SelfSigned(t, "secure.example.com", time.Now().Add(30*24*time.Hour))
	_, otherKey := testkit.SelfSigned(t, "secure.example.com", time.Now().Add(30*24*time.Hour))
	oldCert, oldKey := testkit.SelfSigned(t, "secure.example.com", time.Now().Add(-time.Hour))

	res, out := a.apiJSON(http.MethodPost, "/api/v1/certificates", token, map[string]any{"name": "mismatch", "cert": string(cert), "key": string(otherKey)})
	wantDomainError(t, res, out, 422, "cert", "do not form a pair")
	res, out = a.apiJSON(http.MethodPost, "/api/v1/certificates", token, map[string]any{"name": "old", "cert": string(oldCert), "key": string(oldKey)})
	wantDomainError(t, res, out, 422, "cert", "expired")
	res, out = a.apiJSON(http.MethodPost, "/api/v1/certificates", token, map[string]any{"name": "junk", "cert": "not pem", "key": "nope"})
	wantDomainError(t, res, out, 422, "cert", "")
	res, out = a.apiJSON(http.MethodPost, "/api/v1/certificates", token, map[string]any{"name": "secure", "cert": string(cert), "key": string(key)})
	wantStatus(t, res, http.StatusCreated)
	certID := int64(out["id"].(float64))
	if hosts := out["hosts"].([]any); len(hosts) != 1 || hosts[0] != "secure.example.com" {
		t.Errorf("hosts = %v", out["hosts"])
	}
	if strings.Contains(res.Body, "PRIVATE KEY") {
		t.Fatal("the API returned the private key")
	}

	base := fmt.Sprintf("/api/v1/applications/%d/domains", app.ID)
	res, out = a.apiJSON(http.MethodPost, base, token, map[string]any{"host": "other.example.com", "port": 80, "https": true, "certificate": "custom", "certificate_id": certID})
	wantDomainError(t, res, out, 422, "certificate_id", "does not cover other.example.com")
	res, _ = a.apiJSON(http.MethodPost, base, token, map[string]any{"host": "secure.example.com", "port": 80, "https": true, "certificate": "custom", "certificate_id": certID})
	wantStatus(t, res, http.StatusCreated)

	certFile := filepath.Join(a.Routing.ConfigDir(), "certs", fmt.Sprint(certID), "cert.pem")
	keyFile := filepath.Join(a.Routing.ConfigDir(), "certs", fmt.Sprint(certID), "key.pem")
	if data, err := os.ReadFile(keyFile); err != nil || !strings.Contains(string(data), "PRIVATE KEY") {
		t.Fatalf("key file: %v", err)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(certFile); err != nil {
		t.Fatal(err)
	}
	testkit.MustContain(t, a.File("secure"), fmt.Sprintf("certFile: /etc/dokploy/traefik/certs/%d/cert.pem", certID))

	res, out = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/certificates/%d", certID), token, nil)
	wantDomainError(t, res, out, 409, "", "used by a domain")
}

func TestDomainAPI_ACMESettings(t *testing.T) {
	a := newRoutingApp(t)
	token := a.apiToken()
	res, out := a.apiJSON(http.MethodPatch, "/api/v1/settings", token, map[string]any{"acme_email": "not-an-email"})
	wantDomainError(t, res, out, 422, "acme_email", "")
	res, out = a.apiJSON(http.MethodPatch, "/api/v1/settings", token, map[string]any{"acme_server": "http://insecure/dir"})
	wantDomainError(t, res, out, 422, "acme_server", "https://")
	res, out = a.apiJSON(http.MethodPatch, "/api/v1/settings", token, map[string]any{"acme_ca_bundle": "garbage"})
	wantDomainError(t, res, out, 422, "acme_ca_bundle", "PEM")
	if len(a.Restarts) != 0 {
		t.Fatal("refused settings restarted Traefik")
	}

	res, out = a.apiJSON(http.MethodPatch, "/api/v1/settings", token, map[string]any{
		"acme_email": "ops@example.com", "acme_server": "staging", "acme_ca_bundle": string(testkit.SelfSignedPEM(t, "ca.test"))})
	wantStatus(t, res, http.StatusOK)
	if out["acme_server"] != routing.ACMEStaging {
		t.Errorf("acme_server = %v", out["acme_server"])
	}
	data, err := os.ReadFile(filepath.Join(a.Routing.ConfigDir(), routing.StaticFile))
	if err != nil {
		t.Fatal(err)
	}
	testkit.MustContain(t, string(data), "email: ops@example.com", "caServer: "+routing.ACMEStaging)
	if len(a.Restarts) != 1 {
		t.Errorf("Traefik restarted %d times, want 1", len(a.Restarts))
	}
	// PATCH keeps what is not sent; "production" clears the custom server.
	res, out = a.apiJSON(http.MethodPatch, "/api/v1/settings", token, map[string]any{"acme_server": "production"})
	wantStatus(t, res, http.StatusOK)
	if out["acme_email"] != "ops@example.com" || out["acme_server"] != "" {
		t.Errorf("after PATCH = %v", out)
	}
}

func TestDomainUI_PanelAddEditRemove(t *testing.T) {
	a := newRoutingApp(t)
	b := a.setupAdmin()
	app := a.CreateApp("shop")

	// The Domains tab has its own URL; the tab bar links to it.
	res := b.get(fmt.Sprintf("/apps/%d", app.ID))
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, fmt.Sprintf(`hx-get="/apps/%d/domains"`, app.ID))
	res = b.get(fmt.Sprintf("/apps/%d/domains", app.ID))
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="app-domains"`, "No domains", "Access rules")

	res = b.postHTMX(fmt.Sprintf("/apps/%d/domains", app.ID), url.Values{"host": {"Bücher.Example"}, "path": {"/"}, "port": {"8080"}, "certificate": {"none"}, "enabled": {"on"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "bücher.example", "no redeploy needed", "pending", `hx-trigger="every 2s"`)
	testkit.MustNotContain(t, res.Body, "<html")
	testkit.MustContain(t, a.File("shop"), "Host(`xn--bcher-kva.example`)")

	res = b.postHTMX(fmt.Sprintf("/apps/%d/domains", app.ID), url.Values{"host": {"x.example.com"}, "path": {"api"}, "port": {"99999"}, "certificate": {"none"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "must start with /")

	d, err := a.store.AppDomains(context.Background(), app.ID)
	if err != nil || len(d) != 1 {
		t.Fatalf("domains = %v, %v", d, err)
	}
	a.Fake.Set(fmt.Sprintf("shop-d%d-web", d[0].ID), "enabled")
	res = b.get(fmt.Sprintf("/apps/%d/domains/status", app.ID))
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `hx-swap-oob="true"`, "active")
	testkit.MustNotContain(t, res.Body, `hx-trigger`) // final: the poller stops

	res = b.postHTMX(fmt.Sprintf("/domains/%d", d[0].ID), url.Values{"host": {"shop.example.com"}, "path": {"/"}, "port": {"3000"}, "certificate": {"none"}, "enabled": {"on"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, a.File("shop"), "Host(`shop.example.com`)", "http://shop:3000")

	res = b.postHTMX(fmt.Sprintf("/apps/%d/basic-auth", app.ID), url.Values{"username": {"alice"}, "password": {"short"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	res = b.postHTMX(fmt.Sprintf("/apps/%d/basic-auth", app.ID), url.Values{"username": {"alice"}, "password": {"long enough"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, a.File("shop"), "alice:$2a$")
	testkit.MustNotContain(t, a.File("shop"), "long enough")

	res = b.postHTMX(fmt.Sprintf("/apps/%d/redirects", app.ID), url.Values{"regex": {"("}, "replacement": {"x"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	res = b.postHTMX(fmt.Sprintf("/apps/%d/redirects", app.ID), url.Values{"regex": {`^http://www\.shop\.example\.com/(.*)`}, "replacement": {"http://shop.example.com/${1}"}})
	wantStatus(t, res, http.StatusOK)
	res = b.postHTMX(fmt.Sprintf("/apps/%d/headers", app.ID), url.Values{"headers": {"X-Frame-Options: DENY\nbad header: {{env}}"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	res = b.postHTMX(fmt.Sprintf("/apps/%d/headers", app.ID), url.Values{"headers": {"X-Frame-Options: DENY"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, a.File("shop"), "shop-redirect-", "X-Frame-Options: DENY")

	res = b.postHTMX(fmt.Sprintf("/domains/%d/delete", d[0].ID), nil)
	wantStatus(t, res, http.StatusOK)
	if a.File("shop") != "" {
		t.Error("file left after removing the only domain")
	}
}

func TestDomainUI_SettingsRoutingSection(t *testing.T) {
	a := newRoutingApp(t)
	b := a.setupAdmin()
	res := b.get("/settings")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="settings-routing"`)

	if err := os.WriteFile(filepath.Join(a.Routing.DynamicDir(), "mine.yml"), []byte("http: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = b.postHTMX("/settings/routing/sync", nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Files not managed by dokploy", "mine.yml")

	res = b.postHTMX("/settings/dashboard-domain", url.Values{"host": {"panel.example.com"}, "https": {"on"}, "certificate": {"letsencrypt"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, a.File(routing.DashboardApp), "Host(`panel.example.com`)", "host.docker.internal:3000")

	// An app cannot take the dashboard's address.
	token := a.apiToken2()
	app := a.CreateApp("shop")
	r, out := a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", app.ID), token, map[string]any{"host": "panel.example.com", "port": 80})
	wantDomainError(t, r, out, 422, "host", "the dashboard")

	res = b.postHTMX("/settings/acme", url.Values{"acme_email": {"ops@example.com"}, "acme_mode": {"custom"}, "acme_server": {"https://acme.internal/dir"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Traefik restarted")
	if len(a.Restarts) != 1 {
		t.Errorf("restarts = %d", len(a.Restarts))
	}
}

// apiToken2 returns a token for the admin that already exists.
func (a *routingApp) apiToken2() string {
	a.t.Helper()
	u, err := a.store.UserByEmail(context.Background(), adminEmail)
	if err != nil {
		a.t.Fatal(err)
	}
	_, token, err := a.store.CreateAPIToken(context.Background(), u.ID, "routing", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		a.t.Fatal(err)
	}
	return token
}

// TestDashboardDomainAPI: the API sets, shows and removes the dashboard's
// domain like the Settings form, and refuses a bad host or one an app
// uses without changing anything.
func TestDashboardDomainAPI(t *testing.T) {
	a := newRoutingApp(t)
	a.setupAdmin()
	token := a.apiToken2()
	path := "/api/v1/settings/dashboard-domain"

	res, out := a.apiJSON(http.MethodGet, path, token, nil)
	wantStatus(t, res, http.StatusOK)
	if out["domain"] != nil {
		t.Fatalf("a new install has a dashboard domain: %v", out)
	}
	res, _ = a.apiJSON(http.MethodDelete, path, token, nil)
	wantStatus(t, res, http.StatusNotFound)

	res, out = a.apiJSON(http.MethodPut, path, token, map[string]any{"host": "bad host!"})
	wantDomainError(t, res, out, 422, "host", "")
	app := a.CreateApp("shop")
	res, _ = a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/domains", app.ID), token, map[string]any{"host": "shop.example.com", "port": 80})
	wantStatus(t, res, http.StatusCreated)
	res, out = a.apiJSON(http.MethodPut, path, token, map[string]any{"host": "shop.example.com"})
	if res.Code != http.StatusConflict && res.Code != http.StatusUnprocessableEntity {
		t.Fatalf("a host the app uses: %d %v", res.Code, out)
	}
	if a.File(routing.DashboardApp) != "" {
		t.Error("a refused domain was routed")
	}

	res, out = a.apiJSON(http.MethodPut, path, token, map[string]any{"host": "panel.example.com"})
	wantStatus(t, res, http.StatusOK)
	d, _ := out["domain"].(map[string]any)
	if d["host"] != "panel.example.com" || d["https"] != true || d["certificate"] != "letsencrypt" || d["path"] != "/" {
		t.Fatalf("domain %v", out)
	}
	testkit.MustContain(t, a.File(routing.DashboardApp), "Host(`panel.example.com`)", "host.docker.internal:3000")
	// A second PUT replaces it: still one domain.
	res, _ = a.apiJSON(http.MethodPut, path, token, map[string]any{"host": "admin.example.com", "https": false})
	wantStatus(t, res, http.StatusOK)
	if n := a.count("domains WHERE service_id IS NULL"); n != 1 {
		t.Errorf("%d dashboard domains; want 1", n)
	}
	_, out = a.apiJSON(http.MethodGet, path, token, nil)
	if d, _ := out["domain"].(map[string]any); d["host"] != "admin.example.com" || d["https"] != false {
		t.Errorf("after the second PUT: %v", out)
	}
	testkit.MustNotContain(t, a.File(routing.DashboardApp), "panel.example.com")

	res, _ = a.apiJSON(http.MethodDelete, path, token, nil)
	wantStatus(t, res, http.StatusNoContent)
	if a.File(routing.DashboardApp) != "" {
		t.Error("the dashboard's route is left after DELETE")
	}
}

// A refused form on the app page comes back with what was typed, and
// nothing is saved: a bad .env line keeps the pasted block and the new
// row; a bad redirect regex keeps both fields; a short basic-auth password
// keeps the user name (never the password).
func TestAppForms_RefusalKeepsTypedInput(t *testing.T) {
	a := newRoutingApp(t)
	b := a.setupAdmin()
	app := a.CreateApp("shop")
	base := fmt.Sprintf("/apps/%d", app.ID)

	res := b.postHTMX(base+"/env", url.Values{"key": {"NEW_ONE"}, "value": {"typed-value"}, "dotenv": {"GOOD=1\nthis is not a line"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "Nothing was saved", `value="NEW_ONE"`, `value="typed-value"`, "GOOD=1\nthis is not a line")
	env := b.get(base + "/environment")
	testkit.MustNotContain(t, env.Body, "NEW_ONE", "GOOD")

	res = b.postHTMX(base+"/redirects", url.Values{"regex": {"^/old/(.*"}, "replacement": {"/new/${1}"}, "permanent": {"on"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "Access rules", `value="^/old/(.*"`, `value="/new/${1}"`, `name="permanent" checked`)

	res = b.postHTMX(base+"/basic-auth", url.Values{"username": {"alice"}, "password": {"short"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, `value="alice"`, "No users")
	testkit.MustNotContain(t, res.Body, `value="short"`)

	adv := b.get(base + "/advanced")
	wantStatus(t, adv, http.StatusOK)
	testkit.MustContain(t, adv.Body, "No users: the app is public.")
	testkit.MustNotContain(t, adv.Body, "^/old/")
}
