package jobs

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/jobs/notify"
)

// webhookChannel subscribes a webhook channel (to an address nothing
// needs to answer: the tests read the outbox) to events.
func webhookChannel(t *testing.T, store *db.Store, events ...string) *db.NotificationChannel {
	t.Helper()
	cfg := notify.Config{URL: "http://127.0.0.1:9/hook", Secret: notifySecret}
	ch := &db.NotificationChannel{Name: "hook-" + strconv.FormatInt(time.Now().UnixNano(), 36), Kind: notify.KindWebhook, Enabled: true, Events: events}
	if err := store.CreateNotificationChannel(context.Background(), ch, notify.EncodeConfig(&cfg)); err != nil {
		t.Fatal(err)
	}
	return ch
}

// A plan whose cron was due long ago with no success queues one
// backup.missed message about its database, however many rounds see it.
func TestScheduler_MissedPlanNotifiesOnce(t *testing.T) {
	rig := newFakeRig(t)
	ctx := context.Background()
	ch := webhookChannel(t, rig.store, notify.EventBackupMissed)
	a := rig.newGitApp("missn-web")
	d := rig.newDatabase("missn-db", a.EnvironmentID, "password-0123456789abc")
	plan := rig.newPlan(d, "0 * * * *")
	later := time.Now().Add(3 * time.Hour)
	next := later.Add(time.Hour)
	if _, err := rig.store.AdvanceSchedule(ctx, plan.ID, false, *plan.NextRunAt, &next); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := rig.runner.scheduleRound(ctx, later); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := rig.store.Notifications(ctx, ch.ID, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("outbox has %d rows; want one backup.missed: %+v", len(rows), rows)
	}
	m := rows[0]
	if m.Event != notify.EventBackupMissed || m.Severity != notify.SeverityError || m.Title != "Backups of missn-db missed their schedule" ||
		!strings.Contains(m.Body, "0 * * * *") || !strings.Contains(m.Body, "never") ||
		m.ServiceID == nil || *m.ServiceID != d.ID || m.Service != "missn-db" || m.ServiceKind != db.KindDatabase || m.ProjectID == nil {
		t.Errorf("row = %+v; want backup.missed about missn-db with the cron and \"never\"", m)
	}
	var data map[string]any
	if err := json.Unmarshal(m.Data, &data); err != nil || data["plan_id"] != float64(plan.ID) || data["cron"] != "0 * * * *" ||
		data["destination"] != "s3-missn-db" || data["last_success_at"] != nil {
		t.Errorf("data %s; want the plan, cron, destination and no last success", m.Data)
	}
	if !strings.HasPrefix(m.DedupeKey, "backup.missed:"+strconv.FormatInt(plan.ID, 10)+":") {
		t.Errorf("dedupe key %q", m.DedupeKey)
	}
}
