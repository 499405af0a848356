package routing_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/routing"
	"dokploy/traefik"
	"dokploy/traefik/traefiktest"
)

// fixture is a routing service on a fresh database, writing to a temp
// dir, with a fake Traefik API and a recorded restart hook.
type fixture struct {
	t        *testing.T
	store    *db.Store
	routing  *routing.Service
	fake     *traefiktest.API
	restarts []string
}

// Restart and RecentLog make the fixture the service's Traefik container.
func (a *fixture) Restart(_ context.Context, hash string) error {
	a.restarts = append(a.restarts, hash)
	return nil
}

func (a *fixture) RecentLog(context.Context) (string, error) { return "", nil }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	a := &fixture{t: t, store: dbtest.NewStore(t), fake: traefiktest.NewAPI(t)}
	r, err := routing.New(routing.Options{
		Store: a.store, ConfigDir: t.TempDir(), TraefikPath: "/etc/dokploy/traefik",
		API: a.fake.Client(), DashboardUpstream: "http://host.docker.internal:3000", Traefik: a,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.routing = r
	return a
}

// createApp makes a project and an image app through the store.
func (a *fixture) createApp(appName string) *db.App {
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

func (a *fixture) file(name string) string {
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

func (a *fixture) addDomain(app *db.App, d db.Domain) *db.Domain {
	a.t.Helper()
	id := app.ID
	d.ServiceID = &id
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
	a := newFixture(t)
	ctx := context.Background()
	shop := a.createApp("shop")
	blog := a.createApp("blog")
	a.addDomain(shop, db.Domain{Host: "shop.example.com", Path: "/api", StripPath: true, HTTPS: true, Certificate: db.CertLetsEncrypt})
	if err := a.store.AddBasicAuthUser(ctx, shop.ID, "alice", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"); err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateRedirect(ctx, &db.Redirect{ServiceID: shop.ID, Regex: `^https?://www\.shop\.example\.com/(.*)`, Replacement: "https://shop.example.com/${1}", Permanent: true}); err != nil {
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
	testkit.MustContain(t, a.file("shop"), traefik.Marker("shop"), "Host(`shop.example.com`) && PathPrefix(`/api`)",
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
	a := newFixture(t)
	ctx := context.Background()
	app := a.createApp("web")
	plain := a.addDomain(app, db.Domain{Host: "web.example.com"})
	secure := a.addDomain(app, db.Domain{Host: "secure.example.com", HTTPS: true, Certificate: db.CertLetsEncrypt})
	if _, err := a.routing.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	domains := []db.Domain{*plain, *secure}
	st := a.routing.Status(ctx, "web", domains)
	if st[plain.ID].State != routing.StatePending || st[secure.ID].State != routing.StatePending {
		t.Fatalf("before Traefik loads the file: %+v", st)
	}

	a.fake.Set(traefik.RouterName("web", plain.ID, "web"), "enabled")
	a.fake.Set(traefik.RouterName("web", secure.ID, "web"), "enabled")
	a.fake.Set(traefik.RouterName("web", secure.ID, "websecure"), "disabled")
	st = a.routing.Status(ctx, "web", domains)
	if st[plain.ID].State != routing.StateActive {
		t.Errorf("plain = %+v, want active", st[plain.ID])
	}
	if st[secure.ID].State != routing.StateError || !strings.Contains(st[secure.ID].Detail, "does not exist") {
		t.Errorf("secure = %+v, want Traefik's error", st[secure.ID])
	}

	a.fake.Set(traefik.RouterName("web", secure.ID, "websecure"), "enabled")
	if got := a.routing.Status(ctx, "web", domains)[secure.ID].State; got != routing.StateNoCert {
		t.Errorf("secure without certificate = %q, want %q", got, routing.StateNoCert)
	}
	acme := `{"letsencrypt":{"Certificates":[{"domain":{"main":"secure.example.com"}}]}}`
	if err := os.WriteFile(filepath.Join(a.routing.ConfigDir(), routing.ACMEFile), []byte(acme), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := a.routing.Status(ctx, "web", domains)[secure.ID].State; got != routing.StateIssued {
		t.Errorf("secure with certificate = %q, want %q", got, routing.StateIssued)
	}

	off, err := routing.New(routing.Options{Store: a.store, ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Status(ctx, "web", domains)[plain.ID].State; got != routing.StateUnknown {
		t.Errorf("without Traefik = %q, want unknown", got)
	}
}

func TestRouting_StaticConfigWrittenWhenMissingAndOnACMEChange(t *testing.T) {
	a := newFixture(t)
	ctx := context.Background()
	path := filepath.Join(a.routing.ConfigDir(), routing.StaticFile)
	h1, err := a.routing.WriteStaticConfig(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	testkit.MustContain(t, string(data), "directory: /etc/dokploy/traefik/dynamic", "storage: /etc/dokploy/traefik/acme/acme.json",
		"providersThrottleDuration: 100ms", "entryPoint: web")

	// An existing file is left alone at start.
	if err := a.store.SetSetting(ctx, routing.SettingACMEEmail, "new@example.com"); err != nil {
		t.Fatal(err)
	}
	if h2, err := a.routing.WriteStaticConfig(ctx, false); err != nil || h2 != h1 {
		t.Fatalf("rewrote an existing static config: %v", err)
	}

	// Changing the ACME settings rewrites it and restarts Traefik.
	ca := string(testkit.SelfSignedPEM(t, "ca.example.com"))
	if err := a.routing.SetACME(ctx, routing.ACMESettings{Email: "ops@example.com", Server: routing.ACMEStaging, CABundle: ca}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	testkit.MustContain(t, string(data), "email: ops@example.com", "caServer: "+routing.ACMEStaging, "/etc/dokploy/traefik/ca/acme-ca.pem")
	if len(a.restarts) != 1 || a.restarts[0] == h1 {
		t.Fatalf("restarts = %v; want one with a new hash", a.restarts)
	}
}

func TestRouting_DashboardDomainRoutesToTheControlPlane(t *testing.T) {
	a := newFixture(t)
	ctx := context.Background()
	d := &db.Domain{Host: "dokploy.example.com", Path: "/", InternalPath: "/", Port: 3000, HTTPS: true, Certificate: db.CertLetsEncrypt, Enabled: true}
	if err := a.store.CreateDomain(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := a.routing.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.MustContain(t, a.file(routing.DashboardApp), "Host(`dokploy.example.com`)", "http://host.docker.internal:3000", "certResolver: letsencrypt")
}
