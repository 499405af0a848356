package db_test

import (
	"context"
	"fmt"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// History retention keeps the newest deployments' logs of every service
// (and every running one), drops old webhook deliveries and expired
// sessions, and keeps each deployment's row.
func TestPruneHistory(t *testing.T) {
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
		a := &db.App{EnvironmentID: env.ID, Name: name, AppName: name, SourceType: db.SourceImage, Image: "nginx:1",
			Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
		if err := store.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	deploy := func(app *db.App, status string) int64 {
		d, err := store.CreateDeployment(ctx, app.ID, "user", "ops@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AppendLogs(ctx, d.ID, 1, []string{"step 1", "step 2"}); err != nil {
			t.Fatal(err)
		}
		if status != "queued" {
			dbtest.MustExec(t, store, `UPDATE deployments SET status = $2 WHERE id = $1`, d.ID, status)
		}
		return d.ID
	}
	web, api := newApp("web"), newApp("api")
	// web: a running one that is old, then four finished ones.
	running := deploy(web, "running")
	var webIDs []int64
	for range 4 {
		webIDs = append(webIDs, deploy(web, "done"))
	}
	apiOnly := deploy(api, "error")

	// Deliveries: one from 40 days ago, one fresh. Sessions: one expired.
	for _, age := range []string{"40 days", "1 hour"} {
		if err := store.RecordDelivery(ctx, &db.Delivery{ServiceID: web.ID, Provider: "github", Outcome: "ignored"}); err != nil {
			t.Fatal(err)
		}
		dbtest.MustExec(t, store, fmt.Sprintf(`UPDATE webhook_deliveries SET created_at = now() - interval '%s' WHERE id = (SELECT max(id) FROM webhook_deliveries)`, age))
	}
	u, err := store.CreateUser(ctx, "ops@example.com", "x", db.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := store.CreateSession(ctx, u.ID, "127.0.0.1", "test"); err != nil {
			t.Fatal(err)
		}
	}
	dbtest.MustExec(t, store, `UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE ctid = (SELECT ctid FROM sessions LIMIT 1)`)

	rep, err := store.PruneHistory(ctx, db.HistoryRetention{KeepDeploymentLogs: 2, DeliveryDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	// web has 5 deployments: the 2 newest keep logs, the running one is
	// never touched, so 2 lose theirs; api's only one stays.
	want := db.HistoryPruneReport{DeploymentLogs: 2, LogLines: 4, Deliveries: 1, Sessions: 1}
	if rep != want {
		t.Errorf("report: %+v, want %+v", rep, want)
	}
	hasLog := func(id int64) bool {
		lines, err := store.Logs(ctx, id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(lines) == 2
	}
	for id, keep := range map[int64]bool{running: true, webIDs[0]: false, webIDs[1]: false, webIDs[2]: true, webIDs[3]: true, apiOnly: true} {
		if hasLog(id) != keep {
			t.Errorf("deployment %d: log kept %v, want %v", id, !keep, keep)
		}
		d, err := store.Deployment(ctx, id)
		if err != nil {
			t.Fatalf("deployment %d row gone: %v", id, err)
		}
		if d.LogPruned == keep {
			t.Errorf("deployment %d: log_pruned %v", id, d.LogPruned)
		}
	}
	var deliveries, sessions int
	if err := store.DB().Get(&deliveries, `SELECT count(*) FROM webhook_deliveries`); err != nil || deliveries != 1 {
		t.Errorf("deliveries left: %d %v, want the fresh one", deliveries, err)
	}
	if err := store.DB().Get(&sessions, `SELECT count(*) FROM sessions`); err != nil || sessions != 1 {
		t.Errorf("sessions left: %d %v, want the live one", sessions, err)
	}

	// A second run finds nothing more to do.
	if rep, err := store.PruneHistory(ctx, db.HistoryRetention{KeepDeploymentLogs: 2, DeliveryDays: 30}); err != nil || rep != (db.HistoryPruneReport{}) {
		t.Errorf("second run: %+v %v, want nothing removed", rep, err)
	}
}
