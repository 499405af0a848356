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
	"dokploy/jobs/routing/routingtest"
	"dokploy/traefik"
)

func TestRouting_SyncRendersEveryAppFromTheDatabase(t *testing.T) {
	a := routingtest.New(t, dbtest.NewStore(t))
	ctx := context.Background()
	shop := a.CreateApp("shop")
	blog := a.CreateApp("blog")
	a.AddDomain(shop, db.Domain{Host: "shop.example.com", Path: "/api", StripPath: true, HTTPS: true, Certificate: db.CertLetsEncrypt})
	if err := a.Store.AddBasicAuthUser(ctx, shop.ID, "alice", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.CreateRedirect(ctx, &db.Redirect{ServiceID: shop.ID, Regex: `^https?://www\.shop\.example\.com/(.*)`, Replacement: "https://shop.example.com/${1}", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.SetAppHeaders(ctx, shop.ID, db.HeaderResponse, []db.Header{{Name: "X-Frame-Options", Value: "DENY"}}); err != nil {
		t.Fatal(err)
	}

	rep, err := a.Routing.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 1 || rep.Written[0] != "shop" {
		t.Fatalf("report = %+v; want only shop written (blog has no domain)", rep)
	}
	testkit.MustContain(t, a.File("shop"), traefik.Marker("shop"), "Host(`shop.example.com`) && PathPrefix(`/api`)",
		"http://shop:8080", "certResolver: letsencrypt", "shop-auth", "alice:", "shop-redirect-", "X-Frame-Options", "shop-strip-d")
	if a.File("blog") != "" {
		t.Error("an app without domains has a file")
	}

	// A second Sync with nothing changed rewrites nothing.
	if rep, err = a.Routing.Sync(ctx); err != nil || len(rep.Written) != 0 || len(rep.Unchanged) != 1 {
		t.Fatalf("second sync = %+v, %v", rep, err)
	}

	// Deleting the app (cascade) removes its file on the next Sync.
	if err := a.Store.DeleteApp(ctx, shop.ID); err != nil {
		t.Fatal(err)
	}
	if rep, err = a.Routing.Sync(ctx); err != nil || len(rep.Removed) != 1 {
		t.Fatalf("sync after delete = %+v, %v", rep, err)
	}
	if a.File("shop") != "" {
		t.Error("deleted app still has a file")
	}
	_ = blog
}

func TestRouting_StatusFollowsTraefik(t *testing.T) {
	a := routingtest.New(t, dbtest.NewStore(t))
	ctx := context.Background()
	app := a.CreateApp("web")
	plain := a.AddDomain(app, db.Domain{Host: "web.example.com"})
	secure := a.AddDomain(app, db.Domain{Host: "secure.example.com", HTTPS: true, Certificate: db.CertLetsEncrypt})
	if _, err := a.Routing.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	domains := []db.Domain{*plain, *secure}
	st := a.Routing.Status(ctx, "web", domains)
	if st[plain.ID].State != routing.StatePending || st[secure.ID].State != routing.StatePending {
		t.Fatalf("before Traefik loads the file: %+v", st)
	}

	a.Fake.Set(traefik.RouterName("web", plain.ID, "web"), "enabled")
	a.Fake.Set(traefik.RouterName("web", secure.ID, "web"), "enabled")
	a.Fake.Set(traefik.RouterName("web", secure.ID, "websecure"), "disabled")
	st = a.Routing.Status(ctx, "web", domains)
	if st[plain.ID].State != routing.StateActive {
		t.Errorf("plain = %+v, want active", st[plain.ID])
	}
	if st[secure.ID].State != routing.StateError || !strings.Contains(st[secure.ID].Detail, "does not exist") {
		t.Errorf("secure = %+v, want Traefik's error", st[secure.ID])
	}

	a.Fake.Set(traefik.RouterName("web", secure.ID, "websecure"), "enabled")
	if got := a.Routing.Status(ctx, "web", domains)[secure.ID].State; got != routing.StateNoCert {
		t.Errorf("secure without certificate = %q, want %q", got, routing.StateNoCert)
	}
	acme := `{"letsencrypt":{"Certificates":[{"domain":{"main":"secure.example.com"}}]}}`
	if err := os.WriteFile(filepath.Join(a.Routing.ConfigDir(), routing.ACMEFile), []byte(acme), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := a.Routing.Status(ctx, "web", domains)[secure.ID].State; got != routing.StateIssued {
		t.Errorf("secure with certificate = %q, want %q", got, routing.StateIssued)
	}

	off, err := routing.New(routing.Options{Store: a.Store, ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Status(ctx, "web", domains)[plain.ID].State; got != routing.StateUnknown {
		t.Errorf("without Traefik = %q, want unknown", got)
	}
}

func TestRouting_StaticConfigWrittenWhenMissingAndOnACMEChange(t *testing.T) {
	a := routingtest.New(t, dbtest.NewStore(t))
	ctx := context.Background()
	path := filepath.Join(a.Routing.ConfigDir(), routing.StaticFile)
	h1, err := a.Routing.WriteStaticConfig(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	testkit.MustContain(t, string(data), "directory: /etc/dokploy/traefik/dynamic", "storage: /etc/dokploy/traefik/acme/acme.json",
		"providersThrottleDuration: 100ms", "entryPoint: web")

	// An existing file is left alone at start.
	if err := a.Store.SetSetting(ctx, routing.SettingACMEEmail, "new@example.com"); err != nil {
		t.Fatal(err)
	}
	if h2, err := a.Routing.WriteStaticConfig(ctx, false); err != nil || h2 != h1 {
		t.Fatalf("rewrote an existing static config: %v", err)
	}

	// Changing the ACME settings rewrites it and restarts Traefik.
	ca := string(testkit.SelfSignedPEM(t, "ca.example.com"))
	if err := a.Routing.SetACME(ctx, routing.ACMESettings{Email: "ops@example.com", Server: routing.ACMEStaging, CABundle: ca}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	testkit.MustContain(t, string(data), "email: ops@example.com", "caServer: "+routing.ACMEStaging, "/etc/dokploy/traefik/ca/acme-ca.pem")
	if len(a.Restarts) != 1 || a.Restarts[0] == h1 {
		t.Fatalf("restarts = %v; want one with a new hash", a.Restarts)
	}
}

func TestRouting_DashboardDomainRoutesToTheControlPlane(t *testing.T) {
	a := routingtest.New(t, dbtest.NewStore(t))
	ctx := context.Background()
	d := &db.Domain{Host: "dokploy.example.com", Path: "/", InternalPath: "/", Port: 3000, HTTPS: true, Certificate: db.CertLetsEncrypt, Enabled: true}
	if err := a.Store.CreateDomain(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Routing.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.MustContain(t, a.File(routing.DashboardApp), "Host(`dokploy.example.com`)", "http://host.docker.internal:3000", "certResolver: letsencrypt")
}
