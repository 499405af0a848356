package cpbackup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/e2e/testkit"
	"dokploy/jobs/cpbackup"
	"dokploy/jobs/objstore"
)

// The service on a real S3 server: a due schedule fires one backup,
// retention keeps the newest keep_last, and a run whose process went
// silent is marked failed.
func TestService_ScheduleRetentionAndStaleRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	conn, store := newDatabase(t, true)
	m := testkit.StartMinIO(t)
	bucket := m.Bucket(t)
	dest := &db.Destination{Name: "minio", Endpoint: m.Endpoint, Bucket: bucket, Prefix: "cp", AccessKey: m.AccessKey, PathStyle: true}
	if err := store.CreateDestination(ctx, dest, m.SecretKey); err != nil {
		t.Fatal(err)
	}
	svc := cpbackup.New(cpbackup.Options{Store: store, DB: conn, DataDir: t.TempDir(), SecretKey: testSecretKey, Version: "test", Period: 100 * time.Millisecond})
	svc.Start(ctx)
	t.Cleanup(func() { cancel(); svc.Wait() })

	cfg, err := svc.SaveSettings(ctx, cpbackup.SettingsInput{DestinationID: &dest.ID, Schedule: "daily", Enabled: true, KeepLast: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Make the schedule due now.
	past := time.Now().Add(-time.Second)
	if won, err := store.AdvanceControlPlaneSchedule(ctx, *cfg.NextRunAt, &past); err != nil || !won {
		t.Fatalf("advance: %v %v", won, err)
	}
	first := waitRun(t, store, func(r db.ControlPlaneBackupRun) bool { return r.Reason == "schedule" })
	if first.Status != "done" || first.SHA256 == "" {
		t.Fatalf("the scheduled run: %+v", first)
	}
	if now, _ := store.ControlPlaneBackupSettings(ctx); now.NextRunAt == nil || !now.NextRunAt.After(time.Now()) {
		t.Fatalf("after firing the next run is %v, want tomorrow", now.NextRunAt)
	}

	var last db.ControlPlaneBackupRun
	for range 2 {
		run, err := svc.RunNow(ctx, "manual", "test")
		if err != nil {
			t.Fatal(err)
		}
		last = waitRun(t, store, func(r db.ControlPlaneBackupRun) bool { return r.ID == run.ID })
		if last.Status != "done" {
			t.Fatalf("manual run: %+v", last)
		}
	}
	// Retention runs right after a run is recorded done: wait for it
	// (bounded) to mark the oldest deleted, then look at the bucket.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if gone, _ := store.ControlPlaneBackupRun(ctx, first.ID); gone.DeletedAt != nil {
			break
		}
	}
	st, err := objstore.Open(objstore.Config{Endpoint: m.Endpoint, Bucket: bucket, Prefix: "cp", AccessKey: m.AccessKey, SecretKey: m.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var archives []string
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".tar.gz") {
			archives = append(archives, o.Key)
		}
	}
	if len(archives) != 2 {
		t.Fatalf("after three runs with keep_last 2 the bucket holds %v", archives)
	}
	if gone, _ := store.ControlPlaneBackupRun(ctx, first.ID); gone.DeletedAt == nil {
		t.Fatalf("the oldest run is not marked deleted: %+v", gone)
	}

	// A run whose process stopped refreshing its heartbeat is failed.
	stale, err := store.QueueControlPlaneBackup(ctx, dest.ID, "manual", "test", "dead-worker")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`UPDATE control_plane_backup_runs SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1`, stale.ID); err != nil {
		t.Fatal(err)
	}
	failed := waitRun(t, store, func(r db.ControlPlaneBackupRun) bool { return r.ID == stale.ID })
	if failed.Status != "error" || !strings.Contains(failed.Error, "interrupted") {
		t.Fatalf("a silent run: %+v, want error interrupted", failed)
	}
}

// waitRun waits until a run matching pick has finished.
func waitRun(t *testing.T, store *db.Store, pick func(db.ControlPlaneBackupRun) bool) db.ControlPlaneBackupRun {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		runs, err := store.ControlPlaneBackupRuns(context.Background(), 20, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if pick(r) && r.Status != "queued" && r.Status != "running" {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished run matched within a minute: %+v", runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
