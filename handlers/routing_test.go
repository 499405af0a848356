package handlers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"dokploy/jobs/ops"
	"dokploy/jobs/routing"
	"dokploy/traefik/traefiktest"

	"dokploy/db"
)

// routingApp is a testApp whose handler applies routing to a temp dir, with
// a fake Traefik API and a recorded restart hook.
type routingApp struct {
	*testApp
	routing  *routing.Service
	fake     *traefiktest.API
	restarts []string
}

// Restart and RecentLog make the test app routing's Traefik container.
func (a *routingApp) Restart(_ context.Context, hash string) error {
	a.restarts = append(a.restarts, hash)
	return nil
}

func (a *routingApp) RecentLog(context.Context) (string, error) { return "", nil }

func newRoutingApp(t *testing.T) *routingApp {
	t.Helper()
	a := &routingApp{testApp: newTestApp(t), fake: traefiktest.NewAPI(t)}
	r, err := routing.New(routing.Options{
		Store: a.store, ConfigDir: t.TempDir(), TraefikPath: "/etc/dokploy/traefik",
		API: a.fake.Client(), DashboardUpstream: "http://host.docker.internal:3000", Traefik: a,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.routing = r
	// The front-ends share one Deps, read per request.
	a.h.Routing, a.h.Ops = r, ops.New(a.store, a.h.Runner, r)
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
