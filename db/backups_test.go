package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
)

func newTestPlan(t *testing.T, store *db.Store, d *db.Database) (*db.Destination, *db.Backup) {
	t.Helper()
	ctx := context.Background()
	dest := &db.Destination{Name: "s3 " + d.Name, Endpoint: "http://127.0.0.1:9000", Bucket: "b", AccessKey: "ak", PathStyle: true}
	if err := store.CreateDestination(ctx, dest, "the-secret-key"); err != nil {
		t.Fatal(err)
	}
	plan := &db.Backup{ServiceID: d.ID, DestinationID: dest.ID, Timezone: "UTC", Enabled: true, KeepLast: 2}
	if err := store.CreateBackup(ctx, plan); err != nil {
		t.Fatal(err)
	}
	return dest, plan
}

// A run's status is its artifact's: done once recorded, else its
// operation's; "Back up now" twice makes one queued run; retention never
// sees a failed run; a used destination cannot be deleted.
func TestBackups_Store(t *testing.T) {
	store := dbtest.NewServicesStore(t)
	ctx := context.Background()
	d := newTestDatabase(t, store, "shop-db")
	dest, plan := newTestPlan(t, store, d)

	var raw []byte
	if err := store.DB().Get(&raw, `SELECT secret_key_enc FROM destinations WHERE id = $1`, dest.ID); err != nil || strings.Contains(string(raw), "the-secret-key") {
		t.Fatalf("secret key stored in clear (%v)", err)
	}
	if sec, err := store.DestinationSecret(dest); err != nil || sec != "the-secret-key" {
		t.Fatalf("secret: %q %v", sec, err)
	}
	if err := store.CreateDestination(ctx, &db.Destination{Name: dest.Name, Endpoint: "http://x", Bucket: "b", AccessKey: "a"}, "s"); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("a second destination with the same name: %v", err)
	}

	first, err := store.QueueBackup(ctx, plan, db.BackupManual, "me")
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.QueueBackup(ctx, plan, db.BackupManual, "me")
	if err != nil || again.ID != first.ID {
		t.Fatalf("a second Back up now while one is queued made run %d (%v), want %d", again.ID, err, first.ID)
	}
	if first.Status != db.DeployQueued || first.DeploymentID == 0 {
		t.Fatalf("queued run: %+v", first)
	}
	// It fails: no artifact, status error, not a retention candidate.
	if err := store.FinishDeployment(ctx, first.DeploymentID, db.DeployError, "no running container"); err != nil {
		t.Fatal(err)
	}
	failed, _ := store.BackupRun(ctx, first.ID)
	if failed.Status != db.DeployError || failed.Error != "no running container" || failed.Succeeded() {
		t.Fatalf("failed run: %+v", failed)
	}
	second, err := store.QueueBackup(ctx, plan, db.BackupSchedule, "schedule")
	if err != nil || second.ID == first.ID {
		t.Fatalf("a run after a failed one: %+v %v", second, err)
	}
	if err := store.RecordBackupArtifact(ctx, second.ID, db.BackupArtifact{ObjectKey: "k.dump", SizeBytes: 10, SHA256: "abc", Engine: "postgres", Format: "pg_dump-custom"}); err != nil {
		t.Fatal(err)
	}
	// The artifact is whole, but the backup operation still runs (its
	// retention comes next): the run is restorable, not yet done.
	stored, _ := store.BackupRun(ctx, second.ID)
	if stored.Status != db.DeployRunning || !stored.Restorable() {
		t.Fatalf("run with its artifact, operation still running: %+v", stored)
	}
	if err := store.FinishDeployment(ctx, second.DeploymentID, db.DeployDone, ""); err != nil {
		t.Fatal(err)
	}
	done, _ := store.BackupRun(ctx, second.ID)
	if done.Status != db.DeployDone || !done.Restorable() || done.FinishedAt == nil {
		t.Fatalf("recorded run: %+v", done)
	}
	cands, err := store.RetentionCandidates(ctx, plan.ID)
	if err != nil || len(cands) != 1 || cands[0].ID != second.ID {
		t.Fatalf("retention candidates %+v %v, want only run %d", cands, err, second.ID)
	}
	fresh, _ := store.Backup(ctx, plan.ID)
	if fresh.LastSuccessAt == nil {
		t.Fatalf("plan has no last success after a recorded run")
	}

	if err := store.DeleteDestination(ctx, dest.ID); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("deleting a destination a plan uses: %v, want a conflict", err)
	}
	if err := store.DeleteBackup(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteDestination(ctx, dest.ID); err != nil {
		t.Fatalf("deleting an unused destination: %v", err)
	}
	kept, err := store.BackupRun(ctx, second.ID)
	if err != nil || kept.Restorable() || kept.DestinationID != nil {
		t.Fatalf("after its destination went the run is %+v %v: kept, but not restorable", kept, err)
	}
}

// Exactly one of several schedulers advances a due plan.
func TestBackups_AdvanceScheduleOnce(t *testing.T) {
	store := dbtest.NewServicesStore(t)
	ctx := context.Background()
	d := newTestDatabase(t, store, "cron-db")
	_, plan := newTestPlan(t, store, d)
	due := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	plan.Cron, plan.NextRunAt = "0 * * * *", &due
	if err := store.UpdateBackup(ctx, plan); err != nil {
		t.Fatal(err)
	}
	next := due.Add(time.Hour)
	wins := 0
	for range 3 {
		won, err := store.AdvanceSchedule(ctx, plan.ID, false, due, &next)
		if err != nil {
			t.Fatal(err)
		}
		if won {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d schedulers advanced the plan, want exactly 1", wins)
	}
}
