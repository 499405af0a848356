package db_test

import (
	"context"
	"errors"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
)

func newTestDatabase(t *testing.T, store *db.Store, name string) *db.Database {
	t.Helper()
	ctx := context.Background()
	p, err := store.CreateProject(ctx, "P "+name, "")
	if err != nil {
		t.Fatal(err)
	}
	env, err := store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	d := &db.Database{EnvironmentID: env.ID, Name: name, Engine: db.EnginePostgres, Image: "postgres:17",
		DatabaseName: "shop", Username: "shop", RedisPersistence: db.RedisAOF}
	if err := store.CreateDatabase(ctx, d, db.DatabaseSecrets{Password: "first-password-0123456789"}); err != nil {
		t.Fatal(err)
	}
	return d
}

// A database is a service: its name is claimed across kinds, its secrets
// are sealed, and deleting it removes its history.
func TestDatabases_StoreRoundTrip(t *testing.T) {
	store := dbtest.NewServicesStore(t)
	ctx := context.Background()
	d := newTestDatabase(t, store, "shop-db")
	if d.ID == 0 || d.ProjectName != "P shop-db" || d.EnvironmentName != db.DefaultEnvironment || d.Status != db.AppIdle {
		t.Fatalf("created: %+v", d)
	}
	var raw []byte
	if err := store.DB().Get(&raw, `SELECT password_enc FROM databases WHERE id = $1`, d.ID); err != nil || string(raw) == "first-password-0123456789" {
		t.Fatalf("password stored in clear (%v)", err)
	}
	sec, err := store.DatabaseSecrets(d)
	if err != nil || sec.Password != "first-password-0123456789" {
		t.Fatalf("secrets: %+v %v", sec, err)
	}
	app := &db.App{EnvironmentID: d.EnvironmentID, Name: "App", AppName: "shop-db", SourceType: db.SourceImage, Image: "nginx:1", Port: 80, Replicas: 1}
	if err := store.CreateApp(ctx, app); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("an app took the database's name: %v", err)
	}
	if _, err := store.CreateDeployment(ctx, d.ID, "user", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteDatabase(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Database(ctx, d.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	var left int
	if err := store.DB().Get(&left, `SELECT count(*) FROM deployments WHERE service_id = $1`, d.ID); err != nil || left != 0 {
		t.Fatalf("%d deployments left (%v)", left, err)
	}
}

// Operations share the deploy queue: the last of start/stop/restart wins,
// a deploy replaces only queued deploys, and a queued password change is
// never dropped; its sealed secret is cleared once it ends.
func TestDatabases_OperationsQueue(t *testing.T) {
	store := dbtest.NewServicesStore(t)
	ctx := context.Background()
	d := newTestDatabase(t, store, "queue-db")
	pw, err := store.CreateOperation(ctx, d.ID, db.ActionPassword, "a", "new-password-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	stop, err := store.CreateOperation(ctx, d.ID, db.ActionStop, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	start, err := store.CreateOperation(ctx, d.ID, db.ActionStart, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	deploy, err := store.CreateDeployment(ctx, d.ID, "user", "a")
	if err != nil {
		t.Fatal(err)
	}
	status := func(id int64) string {
		got, err := store.Deployment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	for id, want := range map[int64]string{pw.ID: db.DeployQueued, stop.ID: db.DeployCancelled, start.ID: db.DeployQueued, deploy.ID: db.DeployQueued} {
		if got := status(id); got != want {
			t.Errorf("deployment %d: %s, want %s", id, got, want)
		}
	}
	got, err := store.Deployment(ctx, pw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if secret, err := store.DeploymentSecret(got); err != nil || secret != "new-password-0123456789" || got.Action != db.ActionPassword || got.ServiceKind != db.KindDatabase {
		t.Fatalf("password operation: %q %v %+v", secret, err, got)
	}
	claimed, err := store.ClaimDeployment(ctx, pw.ID, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ClaimDeployment(ctx, start.ID, "w2"); !errors.Is(err, db.ErrAppBusy) {
		t.Fatalf("a second operation of one database ran at once: %v", err)
	}
	if err := store.FinishDeployment(ctx, claimed.ID, db.DeployDone, ""); err != nil {
		t.Fatal(err)
	}
	var left []byte
	if err := store.DB().Get(&left, `SELECT secret_enc FROM deployments WHERE id = $1`, pw.ID); err != nil || left != nil {
		t.Fatalf("the new password stays sealed in the finished operation (%v)", err)
	}
}
