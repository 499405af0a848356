package db_test

import (
	"context"
	"errors"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// The service model migration keeps every app, with its id, domains and
// deployments, both ways; and a name is claimed once across every kind.
func TestServices_MigrationKeepsAppsBothWays(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	p, err := store.CreateProject(ctx, "Shop", "")
	if err != nil {
		t.Fatal(err)
	}
	env, err := store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	newApp := func(name string) *db.App {
		a := &db.App{EnvironmentID: env.ID, Name: "App " + name, AppName: name, SourceType: db.SourceImage, Image: "nginx:1",
			Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
		if err := store.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	web := newApp("web")
	id := web.ID
	if err := store.CreateDomain(ctx, &db.Domain{ServiceID: &id, Host: "web.example.com", Path: "/", InternalPath: "/",
		Port: 8080, Certificate: db.CertNone, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateDeployment(ctx, web.ID, "user", "ops@example.com"); err != nil {
		t.Fatal(err)
	}

	// A second service of any kind cannot take the name.
	dup := &db.App{EnvironmentID: env.ID, Name: "Other", AppName: "web", SourceType: db.SourceImage, Image: "nginx:1", Port: 80, Replicas: 1}
	if err := store.CreateApp(ctx, dup); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("second service named web: %v, want ErrConflict", err)
	}

	// Down past every later migration, then past the services one (00006).
	if err := db.MigrateTo(ctx, store.DB(), 5); err != nil {
		t.Fatalf("down: %v", err)
	}
	var name string
	if err := store.DB().Get(&name, `SELECT app_name FROM applications WHERE id = $1`, web.ID); err != nil || name != "web" {
		t.Fatalf("after down the app row holds its name again: %q %v", name, err)
	}
	var domains int
	if err := store.DB().Get(&domains, `SELECT count(*) FROM domains WHERE app_id = $1`, web.ID); err != nil || domains != 1 {
		t.Fatalf("after down the domain belongs to the app: %d %v", domains, err)
	}
	if err := db.Migrate(ctx, store.DB()); err != nil {
		t.Fatalf("up again: %v", err)
	}

	got, err := store.App(ctx, web.ID)
	if err != nil || got.AppName != "web" || got.EnvironmentID != env.ID || got.ProjectName != "Shop" {
		t.Fatalf("app after up: %+v %v", got, err)
	}
	svc, err := store.ServiceByName(ctx, "web")
	if err != nil || svc.ID != web.ID || svc.Kind != db.KindApp {
		t.Fatalf("service row: %+v %v", svc, err)
	}
	if ds, err := store.AppDomains(ctx, web.ID); err != nil || len(ds) != 1 {
		t.Fatalf("domains after up: %v %v", ds, err)
	}
	if deps, err := store.Deployments(ctx, web.ID, 10); err != nil || len(deps) != 1 || deps[0].AppName != "web" {
		t.Fatalf("deployments after up: %+v %v", deps, err)
	}
	// New services get fresh ids after the backfill.
	if api := newApp("api"); api.ID <= web.ID {
		t.Fatalf("new app id %d reuses or precedes %d", api.ID, web.ID)
	}
	// Deleting the app deletes its service and everything hanging off it.
	if err := store.DeleteApp(ctx, web.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := store.DB().Get(&left, `SELECT (SELECT count(*) FROM services WHERE id = $1) + (SELECT count(*) FROM domains WHERE service_id = $1)
		+ (SELECT count(*) FROM deployments WHERE service_id = $1)`, web.ID); err != nil || left != 0 {
		t.Fatalf("rows left after delete: %d %v", left, err)
	}
}
