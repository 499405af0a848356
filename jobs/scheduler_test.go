package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"dokploy/db"
)

func (r *fakeRig) newPlan(d *db.Database, cron string) *db.Backup {
	r.t.Helper()
	ctx := context.Background()
	dest := &db.Destination{Name: "s3-" + d.Name, Endpoint: "http://127.0.0.1:9", Bucket: "b", AccessKey: "a", PathStyle: true}
	if err := r.store.CreateDestination(ctx, dest, "secret"); err != nil {
		r.t.Fatal(err)
	}
	due := time.Now().Add(-time.Minute)
	plan := &db.Backup{ServiceID: d.ID, DestinationID: dest.ID, Cron: cron, Timezone: "UTC", Enabled: true, KeepLast: 3, NextRunAt: &due}
	if err := r.store.CreateBackup(ctx, plan); err != nil {
		r.t.Fatal(err)
	}
	return plan
}

// A due plan is queued once and its next time moves past now; a second
// round at the same time queues nothing more.
func TestScheduler_QueuesADuePlanOnce(t *testing.T) {
	rig := newFakeRig(t)
	ctx := context.Background()
	a := rig.newGitApp("cron-web")
	d := rig.newDatabase("cron-db", a.EnvironmentID, "password-0123456789abc")
	plan := rig.newPlan(d, "0 * * * *")
	now := time.Now()
	for range 2 {
		if err := rig.runner.scheduleRound(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := rig.store.BackupRunsOf(ctx, d.ID, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Reason != db.BackupSchedule || runs[0].Status != db.DeployQueued {
		t.Fatalf("after two rounds the runs are %+v, want one queued scheduled run", runs)
	}
	fresh, _ := rig.store.Backup(ctx, plan.ID)
	if fresh.NextRunAt == nil || !fresh.NextRunAt.After(now) || fresh.NextRunAt.Minute() != 0 {
		t.Fatalf("next run %v, want the next full hour after %s", fresh.NextRunAt, now)
	}
}

// A plan with no success for more than twice its interval raises one
// event per episode, however many rounds see it.
func TestScheduler_MissedPlanRaisesOneEvent(t *testing.T) {
	rig := newFakeRig(t)
	ctx := context.Background()
	a := rig.newGitApp("miss-web")
	d := rig.newDatabase("miss-db", a.EnvironmentID, "password-0123456789abc")
	plan := rig.newPlan(d, "0 * * * *")
	later := time.Now().Add(3 * time.Hour)
	next := later.Add(time.Hour)
	if _, err := rig.store.AdvanceSchedule(ctx, plan.ID, false, *plan.NextRunAt, &next); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := rig.runner.scheduleRound(ctx, later); err != nil {
			t.Fatal(err)
		}
	}
	events, err := rig.store.Events(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var missed []db.Event
	for _, e := range events {
		if e.Kind == "backup.missed" && e.ServiceID != nil && *e.ServiceID == d.ID {
			missed = append(missed, e)
		}
	}
	if len(missed) != 1 || !strings.Contains(missed[0].Message, "miss-db") || !strings.Contains(missed[0].Message, "never") {
		t.Fatalf("missed events %+v, want one naming the database and \"never\"", missed)
	}
	fresh, _ := rig.store.Backup(ctx, plan.ID)
	if fresh.MissedAt == nil {
		t.Fatal("the plan is not marked missed")
	}
}

// A due drill schedule queues a drill of the latest backup; with no
// backup yet it queues nothing.
func TestScheduler_DrillsTheLatestBackup(t *testing.T) {
	rig := newFakeRig(t)
	ctx := context.Background()
	a := rig.newGitApp("drill-web")
	d := rig.newDatabase("drill-db", a.EnvironmentID, "password-0123456789abc")
	plan := rig.newPlan(d, "")
	due := time.Now().Add(-time.Minute)
	plan.DrillCron, plan.NextDrillAt, plan.NextRunAt = "0 4 * * *", &due, nil
	if err := rig.store.UpdateBackup(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if err := rig.runner.scheduleRound(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	ops, _ := rig.store.Deployments(ctx, d.ID, 10)
	if len(ops) != 0 {
		t.Fatalf("a drill with no backup to restore queued %+v", ops)
	}
	run, err := rig.store.QueueBackup(ctx, plan, db.BackupManual, "me")
	if err != nil {
		t.Fatal(err)
	}
	if err := rig.store.RecordBackupArtifact(ctx, run.ID, db.BackupArtifact{ObjectKey: "k.dump", SizeBytes: 1, SHA256: "abc", Format: "pg_dump-custom"}); err != nil {
		t.Fatal(err)
	}
	again := time.Now().Add(-time.Minute)
	if _, err := rig.store.AdvanceSchedule(ctx, plan.ID, true, mustBackup(t, rig, plan.ID).NextDrillAt.UTC(), &again); err != nil {
		t.Fatal(err)
	}
	if err := rig.runner.scheduleRound(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	ops, _ = rig.store.Deployments(ctx, d.ID, 10)
	if len(ops) == 0 || ops[0].Action != db.ActionDrill || ops[0].BackupRunID == nil || *ops[0].BackupRunID != run.ID {
		t.Fatalf("after a backup the due drill queued %+v, want a drill of run %d", ops, run.ID)
	}
}

func mustBackup(t *testing.T, rig *fakeRig, id int64) *db.Backup {
	t.Helper()
	b, err := rig.store.Backup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
