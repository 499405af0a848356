package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"dokploy/db"
)

func (r *fakeRig) newDatabase(name string, envID int64, password string) *db.Database {
	r.t.Helper()
	d := &db.Database{EnvironmentID: envID, Name: name, Engine: db.EnginePostgres, Image: "postgres:17",
		DatabaseName: "shop", Username: "shop", RedisPersistence: db.RedisAOF}
	if err := r.store.CreateDatabase(context.Background(), d, db.DatabaseSecrets{Password: password}); err != nil {
		r.t.Fatal(err)
	}
	return d
}

// An app's env refers to a database; each deploy resolves it to the URL
// with the database's current password, and the log never shows it.
func TestFake_DatabaseReferenceFollowsThePassword(t *testing.T) {
	rig := newFakeRig(t)
	rig.start(1)
	ctx := context.Background()
	a := rig.newGitApp("shop-web")
	dbase := rig.newDatabase("shop-db", a.EnvironmentID, "first-password-0123456789")
	if err := rig.store.SetAppVariables(ctx, a.ID, db.VarEnv, []db.Variable{{Key: "DATABASE_URL", Value: "${{database.shop-db.url}}"}}); err != nil {
		t.Fatal(err)
	}
	deployed := func() string {
		t.Helper()
		d := rig.wait(rig.deploy(a).ID)
		if d.Status != db.DeployDone {
			t.Fatalf("deploy: %s %s\n%s", d.Status, d.Error, rig.logs(d.ID))
		}
		if strings.Contains(rig.logs(d.ID), "password-0123456789") {
			t.Fatalf("the resolved password is in the deploy log:\n%s", rig.logs(d.ID))
		}
		rig.engine.mu.Lock()
		defer rig.engine.mu.Unlock()
		return rig.engine.services["shop-web"].Env["DATABASE_URL"]
	}
	if got := deployed(); got != "postgresql://shop:first-password-0123456789@shop-db:5432/shop" {
		t.Fatalf("DATABASE_URL = %q", got)
	}
	if err := rig.store.SetDatabasePassword(ctx, dbase.ID, "second-password-0123456789"); err != nil {
		t.Fatal(err)
	}
	if got := deployed(); got != "postgresql://shop:second-password-0123456789@shop-db:5432/shop" {
		t.Fatalf("after the password change DATABASE_URL = %q", got)
	}
	// A reference to a database that is gone fails the deploy by name.
	if err := rig.store.DeleteDatabase(ctx, dbase.ID); err != nil {
		t.Fatal(err)
	}
	d := rig.wait(rig.deploy(a).ID)
	if d.Status != db.DeployError || !strings.Contains(d.Error, `database "shop-db"`) {
		t.Fatalf("deploy with a dangling reference: %s %q", d.Status, d.Error)
	}
}

// A page polling a database while it stops must not keep showing the
// shared read it took mid-stop: once the operation is recorded finished,
// the next look reads Swarm afresh, however long reads are shared.
func TestFake_DatabaseStopIsSeenAtOnceDespiteSharedReads(t *testing.T) {
	rig := newFakeRig(t)
	rig.runner.opts.LiveTTL = time.Hour
	rig.start(1)
	ctx := context.Background()
	proj, err := rig.store.CreateProject(ctx, "p-stopdb", "")
	if err != nil {
		t.Fatal(err)
	}
	dbase := rig.newDatabase("stop-db", proj.Environments[0].ID, "a-password-0123456789abcdef")
	op := func(action string) {
		t.Helper()
		d, err := rig.store.CreateOperation(ctx, dbase.ID, action, "test", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := rig.runner.Enqueue(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if d = rig.wait(d.ID); d.Status != db.DeployDone {
			t.Fatalf("%s: %s %s\n%s", action, d.Status, d.Error, rig.logs(d.ID))
		}
	}
	// The fake reports its tasks running, none healthy yet: "starting".
	op(db.ActionDeploy)
	if st := rig.runner.Live(ctx, dbase.Name).State; st != "starting" {
		t.Fatalf("after deploy the live state is %q, want starting", st)
	}
	op(db.ActionStop)
	if st := rig.runner.Live(ctx, dbase.Name).State; st != "stopped" {
		t.Fatalf("after stop the live state is %q, want stopped", st)
	}
	op(db.ActionStart)
	if st := rig.runner.Live(ctx, dbase.Name).State; st != "starting" {
		t.Fatalf("after start the live state is %q, want starting", st)
	}
}
