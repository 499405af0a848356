package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dokploy/db"
	"dokploy/traefik"
)

// fakeTraefik serves the two API endpoints Routing reads. Routers listed in
// states are reported with that status; errors go with "disabled".
type fakeTraefik struct {
	mu     sync.Mutex
	states map[string]string // router name (without @file) → enabled|disabled|warning
	srv    *httptest.Server
}

func newFakeTraefik(t *testing.T) *fakeTraefik {
	f := &fakeTraefik{states: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.URL.Path {
		case "/ping":
			_, _ = w.Write([]byte("OK"))
		case "/api/http/routers":
			var out []traefik.RouterStatus
			for name, st := range f.states {
				rs := traefik.RouterStatus{Name: name + "@file", Provider: "file", Status: st}
				if st == "disabled" {
					rs.Errors = []string{`middleware "nope@file" does not exist`}
				}
				out = append(out, rs)
			}
			_ = json.NewEncoder(w).Encode(out)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTraefik) set(name, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[name] = state
}

// routingApp is a testApp whose handler applies routing to a temp dir, with
// a fake Traefik API and a recorded restart hook.
type routingApp struct {
	*testApp
	routing  *Routing
	fake     *fakeTraefik
	restarts []string
}

func newRoutingApp(t *testing.T) *routingApp {
	t.Helper()
	a := &routingApp{testApp: newTestApp(t), fake: newFakeTraefik(t)}
	r, err := NewRouting(RoutingOptions{
		Store: a.store, ConfigDir: t.TempDir(), TraefikPath: "/etc/dokploy/traefik",
		API:               &traefik.Client{BaseURL: a.fake.srv.URL},
		DashboardUpstream: "http://host.docker.internal:3000",
		Restart: func(_ context.Context, hash string) error {
			a.restarts = append(a.restarts, hash)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.routing = r
	a.h.routing = r // the router reads h.routing per request
	return a
}

// createApp makes a project and an image app through the store.
func (a *routingApp) createApp(appName string) *db.App {
	a.t.Helper()
	ctx := context.Background()
	p, err := a.store.CreateProject(ctx, "Project "+appName, "")
	if err != nil {
		a.t.Fatal(err)
	}
	env, err := a.store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		a.t.Fatal(err)
	}
	app := &db.App{EnvironmentID: env.ID, Name: "App " + appName, AppName: appName, SourceType: db.SourceImage,
		Image: "nginx:1", Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
	if err := a.store.CreateApp(ctx, app); err != nil {
		a.t.Fatal(err)
	}
	return app
}

func (a *routingApp) file(name string) string {
	a.t.Helper()
	data, err := os.ReadFile(filepath.Join(a.routing.DynamicDir(), name+".yml"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		a.t.Fatal(err)
	}
	return string(data)
}

func (a *routingApp) addDomain(app *db.App, d db.Domain) *db.Domain {
	a.t.Helper()
	id := app.ID
	d.AppID = &id
	for p, def := range map[*string]string{&d.Path: "/", &d.InternalPath: "/", &d.Certificate: db.CertNone} {
		if *p == "" {
			*p = def
		}
	}
	if d.Port == 0 {
		d.Port = 8080
	}
	d.Enabled = true
	if err := a.store.CreateDomain(context.Background(), &d); err != nil {
		a.t.Fatal(err)
	}
	return &d
}

func TestRouting_SyncRendersEveryAppFromTheDatabase(t *testing.T) {
	a := newRoutingApp(t)
	ctx := context.Background()
	shop := a.createApp("shop")
	blog := a.createApp("blog")
	a.addDomain(shop, db.Domain{Host: "shop.example.com", Path: "/api", StripPath: true, HTTPS: true, Certificate: db.CertLetsEncrypt})
	if err := a.store.AddBasicAuthUser(ctx, shop.ID, "alice", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"); err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateRedirect(ctx, &db.Redirect{AppID: shop.ID, Regex: `^https?://www\.shop\.example\.com/(.*)`, Replacement: "https://shop.example.com/${1}", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetAppHeaders(ctx, shop.ID, db.HeaderResponse, []db.Header{{Name: "X-Frame-Options", Value: "DENY"}}); err != nil {
		t.Fatal(err)
	}

	rep, err := a.routing.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 1 || rep.Written[0] != "shop" {
		t.Fatalf("report = %+v; want only shop written (blog has no domain)", rep)
	}
	mustContain(t, a.file("shop"), traefik.Marker("shop"), "Host(`shop.example.com`) && PathPrefix(`/api`)",
		"http://shop:8080", "certResolver: letsencrypt", "shop-auth", "alice:", "shop-redirect-", "X-Frame-Options", "shop-strip-d")
	if a.file("blog") != "" {
		t.Error("an app without domains has a file")
	}

	// A second Sync with nothing changed rewrites nothing.
	if rep, err = a.routing.Sync(ctx); err != nil || len(rep.Written) != 0 || len(rep.Unchanged) != 1 {
		t.Fatalf("second sync = %+v, %v", rep, err)
	}

	// Deleting the app (cascade) removes its file on the next Sync.
	if err := a.store.DeleteApp(ctx, shop.ID); err != nil {
		t.Fatal(err)
	}
	if rep, err = a.routing.Sync(ctx); err != nil || len(rep.Removed) != 1 {
		t.Fatalf("sync after delete = %+v, %v", rep, err)
	}
	if a.file("shop") != "" {
		t.Error("deleted app still has a file")
	}
	_ = blog
}

func TestRouting_StatusFollowsTraefik(t *testing.T) {
	a := newRoutingApp(t)
	ctx := context.Background()
	app := a.createApp("web")
	plain := a.addDomain(app, db.Domain{Host: "web.example.com"})
	secure := a.addDomain(app, db.Domain{Host: "secure.example.com", HTTPS: true, Certificate: db.CertLetsEncrypt})
	if _, err := a.routing.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	domains := []db.Domain{*plain, *secure}
	st := a.routing.Status(ctx, "web", domains)
	if st[plain.ID].State != StatePending || st[secure.ID].State != StatePending {
		t.Fatalf("before Traefik loads the file: %+v", st)
	}

	a.fake.set(traefik.RouterName("web", plain.ID, "web"), "enabled")
	a.fake.set(traefik.RouterName("web", secure.ID, "web"), "enabled")
	a.fake.set(traefik.RouterName("web", secure.ID, "websecure"), "disabled")
	st = a.routing.Status(ctx, "web", domains)
	if st[plain.ID].State != StateActive {
		t.Errorf("plain = %+v, want active", st[plain.ID])
	}
	if st[secure.ID].State != StateError || !strings.Contains(st[secure.ID].Detail, "does not exist") {
		t.Errorf("secure = %+v, want Traefik's error", st[secure.ID])
	}

	a.fake.set(traefik.RouterName("web", secure.ID, "websecure"), "enabled")
	if got := a.routing.Status(ctx, "web", domains)[secure.ID].State; got != StateNoCert {
		t.Errorf("secure without certificate = %q, want %q", got, StateNoCert)
	}
	acme := `{"letsencrypt":{"Certificates":[{"domain":{"main":"secure.example.com"}}]}}`
	if err := os.WriteFile(filepath.Join(a.routing.ConfigDir(), acmeFile), []byte(acme), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := a.routing.Status(ctx, "web", domains)[secure.ID].State; got != StateIssued {
		t.Errorf("secure with certificate = %q, want %q", got, StateIssued)
	}

	off, err := NewRouting(RoutingOptions{Store: a.store, ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Status(ctx, "web", domains)[plain.ID].State; got != StateUnknown {
		t.Errorf("without Traefik = %q, want unknown", got)
	}
}

func TestRouting_StaticConfigWrittenWhenMissingAndOnACMEChange(t *testing.T) {
	a := newRoutingApp(t)
	ctx := context.Background()
	path := filepath.Join(a.routing.ConfigDir(), staticFile)
	h1, err := a.routing.WriteStaticConfig(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	mustContain(t, string(data), "directory: /etc/dokploy/traefik/dynamic", "storage: /etc/dokploy/traefik/acme/acme.json",
		"providersThrottleDuration: 100ms", "entryPoint: web")

	// An existing file is left alone at start.
	if err := a.store.SetSetting(ctx, settingACMEEmail, "new@example.com"); err != nil {
		t.Fatal(err)
	}
	if h2, err := a.routing.WriteStaticConfig(ctx, false); err != nil || h2 != h1 {
		t.Fatalf("rewrote an existing static config: %v", err)
	}

	// Changing the ACME settings rewrites it and restarts Traefik.
	ca := string(selfSignedPEM(t, "ca.example.com"))
	if err := a.routing.SetACME(ctx, ACMESettings{Email: "ops@example.com", Server: ACMEStaging, CABundle: ca}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	mustContain(t, string(data), "email: ops@example.com", "caServer: "+ACMEStaging, "/etc/dokploy/traefik/ca/acme-ca.pem")
	if len(a.restarts) != 1 || a.restarts[0] == h1 {
		t.Fatalf("restarts = %v; want one with a new hash", a.restarts)
	}
}

func TestRouting_DashboardDomainRoutesToTheControlPlane(t *testing.T) {
	a := newRoutingApp(t)
	ctx := context.Background()
	d := &db.Domain{Host: "dokploy.example.com", Path: "/", InternalPath: "/", Port: 3000, HTTPS: true, Certificate: db.CertLetsEncrypt, Enabled: true}
	if err := a.store.CreateDomain(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := a.routing.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mustContain(t, a.file(dashboardApp), "Host(`dokploy.example.com`)", "http://host.docker.internal:3000", "certResolver: letsencrypt")
}
