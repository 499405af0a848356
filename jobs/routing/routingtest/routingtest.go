// Package routingtest builds a routing service for tests of the packages
// that route (jobs/routing, the web layer), on a real database with a fake
// Traefik API.
package routingtest

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"dokploy/db"
	"dokploy/jobs/routing"
	"dokploy/traefik/traefiktest"
)

// Fixture is a routing service on a test's database, writing to a temp
// dir, with a fake Traefik API and a recorded restart hook: the Fixture
// is the service's Traefik container.
type Fixture struct {
	T        testing.TB
	Store    *db.Store
	Routing  *routing.Service
	Fake     *traefiktest.API
	Restarts []string // the static-config hash of every restart
}

// Restart and RecentLog make the Fixture the service's Traefik container.
func (a *Fixture) Restart(_ context.Context, hash string) error {
	a.Restarts = append(a.Restarts, hash)
	return nil
}

func (a *Fixture) RecentLog(context.Context) (string, error) { return "", nil }

// Addresses: a fake Traefik proxies from nowhere.
func (a *Fixture) Addresses(context.Context) ([]netip.Addr, error) { return nil, nil }

// New builds a Fixture on store.
func New(t testing.TB, store *db.Store) *Fixture {
	t.Helper()
	a := &Fixture{T: t, Store: store, Fake: traefiktest.NewAPI(t)}
	r, err := routing.New(routing.Options{
		Store: a.Store, ConfigDir: t.TempDir(), TraefikPath: "/etc/dokploy/traefik",
		API: a.Fake.Client(), DashboardUpstream: "http://host.docker.internal:3000", Traefik: a,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Routing = r
	return a
}

// CreateApp makes a project and an image app through the store.
func (a *Fixture) CreateApp(appName string) *db.App {
	a.T.Helper()
	ctx := context.Background()
	p, err := a.Store.CreateProject(ctx, "Project "+appName, "")
	if err != nil {
		a.T.Fatal(err)
	}
	env, err := a.Store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		a.T.Fatal(err)
	}
	app := &db.App{EnvironmentID: env.ID, Name: "App " + appName, AppName: appName, SourceType: db.SourceImage,
		Image: "nginx:1", Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
	if err := a.Store.CreateApp(ctx, app); err != nil {
		a.T.Fatal(err)
	}
	return app
}

// File is the content of name's file in the dynamic directory, or "".
func (a *Fixture) File(name string) string {
	a.T.Helper()
	data, err := os.ReadFile(filepath.Join(a.Routing.DynamicDir(), name+".yml"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		a.T.Fatal(err)
	}
	return string(data)
}

// AddDomain stores an enabled domain of app with defaults filled in.
func (a *Fixture) AddDomain(app *db.App, d db.Domain) *db.Domain {
	a.T.Helper()
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
	if err := a.Store.CreateDomain(context.Background(), &d); err != nil {
		a.T.Fatal(err)
	}
	return &d
}
