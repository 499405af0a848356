package db_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
)

func TestNotifications_SealedConfigClaimAndRetention(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	const secret = `{"url":"https://hooks.slack.com/services/T/B/topsecrettoken"}`
	ch := &db.NotificationChannel{Name: "slack", Kind: "slack", Events: []string{"deploy.failed"}, Enabled: true}
	if err := store.CreateNotificationChannel(ctx, ch, secret); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := store.DB().Get(&raw, `SELECT config_enc FROM notification_channels WHERE id = $1`, ch.ID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("topsecrettoken")) {
		t.Fatal("the channel config is stored in clear")
	}
	got, err := store.NotificationChannel(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := store.NotificationConfig(got); err != nil || cfg != secret {
		t.Fatalf("config = %q, %v", cfg, err)
	}
	if got.LastStatus != "" || got.LastAt != nil {
		t.Errorf("a new channel shows a last delivery: %q %v", got.LastStatus, got.LastAt)
	}
	if err := store.CreateNotificationChannel(ctx, &db.NotificationChannel{Name: "slack", Kind: "slack"}, "{}"); err == nil {
		t.Error("a second channel with the same name was accepted")
	}

	ids, err := store.QueueNotification(ctx, db.NotificationMessage{Event: "deploy.failed", Title: "t"}, time.Minute)
	if err != nil || len(ids) != 1 {
		t.Fatalf("queue = %v, %v", ids, err)
	}
	// A claimed row is leased: nobody else gets it until the lease ends.
	row, err := store.ClaimNotification(ctx, time.Minute)
	if err != nil || row == nil || row.ID != ids[0] || row.Attempts != 1 || row.ChannelName != "slack" {
		t.Fatalf("claim = %+v, %v", row, err)
	}
	if again, err := store.ClaimNotification(ctx, time.Minute); err != nil || again != nil {
		t.Fatalf("second claim = %+v, %v; want nothing", again, err)
	}
	if err := store.MarkNotificationSent(ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.NotificationChannel(ctx, ch.ID); got.LastStatus != db.NotifySent {
		t.Errorf("last status %q; want sent", got.LastStatus)
	}

	// Retention: sent/failed rows older than 30 days go, pending ones stay.
	for _, status := range []string{"sent", "failed", "pending"} {
		dbtest.MustExec(t, store, `INSERT INTO notification_outbox (channel_id, event, title, status, created_at)
			VALUES ($1, 'deploy.failed', 'old', $2, now() - interval '31 days')`, ch.ID, status)
	}
	rep, err := store.PruneHistory(ctx, db.DefaultHistoryRetention)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Notifications != 2 {
		t.Errorf("pruned %d notifications; want 2 (old sent and failed)", rep.Notifications)
	}
	list, err := store.Notifications(ctx, 0, 10, 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("left %d rows (%v); want the recent sent one and the old pending one", len(list), err)
	}

	// Deleting the channel removes its deliveries.
	if err := store.DeleteNotificationChannel(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := store.Notifications(ctx, 0, 10, 0); len(list) != 0 {
		t.Errorf("%d deliveries outlived their channel", len(list))
	}
}

// TestNotifications_ProjectRouting: a channel that chose projects gets
// only their events, plus every event about no project (a node's disk);
// a channel that chose none gets all. Each row keeps what it is about.
func TestNotifications_ProjectRouting(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	shop, err := store.CreateProject(ctx, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	blog, err := store.CreateProject(ctx, "blog", "")
	if err != nil {
		t.Fatal(err)
	}
	onlyShop := &db.NotificationChannel{Name: "shop-team", Kind: "slack", Events: []string{"deploy.failed", "alert.firing"}, Enabled: true,
		ProjectIDs: []int64{shop.ID}}
	all := &db.NotificationChannel{Name: "ops", Kind: "slack", Events: []string{"deploy.failed", "alert.firing"}, Enabled: true}
	for _, ch := range []*db.NotificationChannel{onlyShop, all} {
		if err := store.CreateNotificationChannel(ctx, ch, "{}"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.NotificationChannel(ctx, onlyShop.ID)
	if err != nil || len(got.ProjectIDs) != 1 || got.ProjectIDs[0] != shop.ID {
		t.Fatalf("stored projects %v, %v; want [%d]", got.ProjectIDs, err, shop.ID)
	}
	deployment := int64(7)
	queue := func(project *db.Project, event string) []int64 {
		t.Helper()
		m := db.NotificationMessage{Event: event, Title: event, Data: `{"value": 93.5}`}
		if project != nil {
			m.ProjectID, m.Project, m.Service, m.ServiceKind, m.DeploymentID = &project.ID, project.Name, project.Name+"-web", "app", &deployment
		}
		ids, err := store.QueueNotification(ctx, m, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	channelsOf := func(ids []int64) map[int64]bool {
		out := map[int64]bool{}
		for _, id := range ids {
			n, err := store.Notification(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			out[n.ChannelID] = true
		}
		return out
	}
	if got := channelsOf(queue(blog, "deploy.failed")); len(got) != 1 || !got[all.ID] {
		t.Errorf("a blog event reached channels %v; want only %q", got, all.Name)
	}
	ids := queue(shop, "deploy.failed")
	if got := channelsOf(ids); len(got) != 2 {
		t.Errorf("a shop event reached channels %v; want both", got)
	}
	if got := channelsOf(queue(nil, "alert.firing")); len(got) != 2 {
		t.Errorf("an event about no project reached channels %v; want both", got)
	}
	n, err := store.Notification(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if n.ProjectID == nil || *n.ProjectID != shop.ID || n.Project != "shop" || n.Service != "shop-web" || n.ServiceKind != "app" ||
		n.DeploymentID == nil || *n.DeploymentID != 7 || !bytes.Contains(n.Data, []byte(`"value": 93.5`)) {
		t.Errorf("row %+v (data %s); want the shop subject and data kept", n.NotificationSubject, n.Data)
	}
}
