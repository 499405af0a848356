package jobs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/netguard"
	"dokploy/jobs/notify"
)

const notifySecret = "whsec-jobs-test-0123456789abcdef"

// TestNotify_FailedDeployNotifiesOnceAcrossTwoRunners runs two control-plane
// processes (two Runners with their own senders) on one database and
// Redis: a deploy of an image that exists nowhere fails, and the signed
// webhook receives exactly one deploy.failed message with the reason and
// a link; further events are each delivered once, by either sender.
func TestNotify_FailedDeployNotifiesOnceAcrossTwoRunners(t *testing.T) {
	dk := testDocker(t)
	store := dbtest.NewStore(t)
	ctx := context.Background()
	pool, err := OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	ns := dbtest.RedisNamespace(t, pool)

	var mu sync.Mutex
	var got []notify.WebhookPayload
	badSig := 0
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if notify.Verify(notifySecret, r.Header.Get(notify.SignatureHeader), body, time.Now(), time.Minute) != nil {
			badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p notify.WebhookPayload
		_ = json.Unmarshal(body, &p)
		got = append(got, p)
	}))
	defer sink.Close()
	received := func() []notify.WebhookPayload {
		mu.Lock()
		defer mu.Unlock()
		return append([]notify.WebhookPayload{}, got...)
	}

	cfg := notify.Config{URL: sink.URL, Secret: notifySecret}
	if errs := cfg.Validate(notify.KindWebhook); len(errs) > 0 {
		t.Fatal(errs)
	}
	ch := &db.NotificationChannel{Name: "hook", Kind: notify.KindWebhook, Enabled: true,
		Events: []string{notify.EventDeployFailed, notify.EventDeploySucceeded, notify.EventBackupFailed}}
	if err := store.CreateNotificationChannel(ctx, ch, notify.EncodeConfig(&cfg)); err != nil {
		t.Fatal(err)
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var runners []*Runner
	for range 2 {
		n := notify.New(store, netguard.New(), notify.WithPublicURL("https://dash.example.com/"), notify.WithPollInterval(20*time.Millisecond),
			notify.WithLogger(quiet))
		r := NewRunner(Options{Store: store, Redis: pool, Docker: dk, Namespace: ns, Logger: quiet, DeployTimeout: 2 * time.Minute, Notifier: n})
		if err := r.StartWorker(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.StopWorker)
		runners = append(runners, r)
	}

	name := testName(t)
	proj, err := store.CreateProject(ctx, "p-"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	a := &db.App{EnvironmentID: proj.Environments[0].ID, Name: name, AppName: name, SourceType: db.SourceImage,
		Image: name + "-missing:v1", Port: 8080, Replicas: 1}
	if err := store.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	d, err := store.CreateDeployment(ctx, a.ID, "user", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := runners[0].Enqueue(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cur, err := store.Deployment(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Finished() {
			d = cur
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment still %s", cur.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d.Status != db.DeployError || d.Error == "" {
		t.Fatalf("deployment ended %s (%q); want error", d.Status, d.Error)
	}
	for deadline := time.Now().Add(10 * time.Second); len(received()) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive now

	msgs := received()
	if len(msgs) != 1 || badSig != 0 {
		t.Fatalf("receiver got %d messages (%d badly signed); want exactly 1: %+v", len(msgs), badSig, msgs)
	}
	m := msgs[0]
	wantLink := "https://dash.example.com/deployments/" + strconv.FormatInt(d.ID, 10)
	if m.Type != notify.EventDeployFailed || m.Severity != notify.SeverityError || m.URL != wantLink ||
		!strings.Contains(m.Title, name) || !strings.Contains(m.Body, d.Error) || !strings.Contains(m.Body, "#"+strconv.FormatInt(d.ID, 10)) {
		t.Errorf("message = %+v; want deploy.failed for %s with reason %q and link %s", m, name, d.Error, wantLink)
	}
	// The envelope says what it is about.
	if m.Project == nil || m.Project.Name != "p-"+name || m.Project.ID != proj.ID ||
		m.Service == nil || m.Service.Name != name || m.Service.Kind != "app" ||
		m.Deployment == nil || m.Deployment.ID != d.ID {
		t.Errorf("envelope project %+v, service %+v, deployment %+v; want p-%s, app %s, #%d", m.Project, m.Service, m.Deployment, name, name, d.ID)
	}
	var data map[string]any
	if err := json.Unmarshal(m.Data, &data); err != nil || data["error"] != d.Error || data["action"] != db.ActionDeploy {
		t.Errorf("envelope data %s (%v); want the action and the error", m.Data, err)
	}
	t.Logf("notified: %s — %s (%s)", m.Title, m.Body, m.URL)
	rows, err := store.Notifications(ctx, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Status != db.NotifySent || rows[0].Attempts != 1 {
		t.Fatalf("outbox = %+v; want one sent row", rows)
	}

	// More events: both senders work the outbox, none is sent twice.
	const more = 20
	for i := range more {
		if _, err := runners[i%2].Notifier().Notify(ctx, notify.Event{Name: notify.EventBackupFailed, Title: "backup " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(15 * time.Second); len(received()) < more+1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	ids := map[int64]int{}
	for _, p := range received() {
		ids[p.ID]++
	}
	if len(received()) != more+1 || len(ids) != more+1 {
		t.Errorf("receiver got %d messages for %d rows; want %d, each once", len(received()), len(ids), more+1)
	}
}

// TestNotify_FailedBackupNotifies: a database backup whose destination
// does not answer ends in error and queues exactly one backup.failed
// message with the reason.
func TestNotify_FailedBackupNotifies(t *testing.T) {
	rig := newFakeRig(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []notify.WebhookPayload
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p notify.WebhookPayload
		_ = json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer sink.Close()
	cfg := notify.Config{URL: sink.URL, Secret: notifySecret}
	ch := &db.NotificationChannel{Name: "hook", Kind: notify.KindWebhook, Enabled: true, Events: []string{notify.EventBackupFailed}}
	if err := rig.store.CreateNotificationChannel(ctx, ch, notify.EncodeConfig(&cfg)); err != nil {
		t.Fatal(err)
	}
	a := rig.newGitApp("notify-web")
	dbase := rig.newDatabase("notify-db", a.EnvironmentID, "password-0123456789abc")
	plan := rig.newPlan(dbase, "")
	run, err := rig.store.QueueBackup(ctx, plan, db.BackupManual, "me")
	if err != nil {
		t.Fatal(err)
	}
	rig.start(1)
	if err := rig.runner.Enqueue(ctx, run.DeploymentID); err != nil {
		t.Fatal(err)
	}
	d := rig.wait(run.DeploymentID)
	if d.Status != db.DeployError {
		t.Fatalf("backup ended %s; want error", d.Status)
	}
	var msgs []notify.WebhookPayload
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		msgs = append([]notify.WebhookPayload{}, got...)
		mu.Unlock()
		if len(msgs) > 0 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 1 || msgs[0].Type != notify.EventBackupFailed || !strings.Contains(msgs[0].Title, "notify-db") || !strings.Contains(msgs[0].Body, d.Error) {
		t.Fatalf("receiver got %d messages %+v; want one backup.failed for notify-db with %q", n, msgs, d.Error)
	}
	t.Logf("notified: %s — %s", msgs[0].Title, msgs[0].Body)
}
