package alerts_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/alerts"
	"dokploy/jobs/notify"
)

// alertEnv is a database with a webhook channel subscribed to the alert
// events and a clock the test moves.
type alertEnv struct {
	t        *testing.T
	store    *db.Store
	notifier *notify.Notifier
	channel  int64
	now      time.Time
	mu       sync.Mutex
}

func newAlertEnv(t *testing.T) *alertEnv {
	t.Helper()
	store := dbtest.NewStore(t)
	ch := &db.NotificationChannel{Name: "sink", Kind: notify.KindWebhook, Enabled: true,
		Events: []string{notify.EventAlertFiring, notify.EventAlertResolved}}
	if err := store.CreateNotificationChannel(context.Background(), ch, "{}"); err != nil {
		t.Fatal(err)
	}
	return &alertEnv{t: t, store: store, notifier: notify.New(store, nil), channel: ch.ID,
		now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
}

func (e *alertEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// evaluator is a new Evaluator each time: state must come from the
// database, as after a restart.
func (e *alertEnv) evaluator() *alerts.Evaluator {
	return alerts.New(alerts.Options{Store: e.store, Notifier: e.notifier, Now: e.clock,
		Settings: func(context.Context) (db.MetricsSettings, error) { return db.DefaultMetricsSettings, nil }})
}

// evaluateAt sets the clock and runs one round.
func (e *alertEnv) evaluateAt(at time.Time) {
	e.t.Helper()
	e.mu.Lock()
	e.now = at
	e.mu.Unlock()
	if err := e.evaluator().Evaluate(context.Background()); err != nil {
		e.t.Fatalf("evaluate at %s: %v", at.Format(time.TimeOnly), err)
	}
}

// deliveries are the queued notifications of an event, oldest first.
func (e *alertEnv) deliveries(event string) []db.Notification {
	e.t.Helper()
	list, err := e.store.Notifications(context.Background(), e.channel, 50, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []db.Notification
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Event == event {
			out = append(out, list[i])
		}
	}
	return out
}

func (e *alertEnv) newApp(name string) int64 {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.store.CreateProject(ctx, "Shop", "")
	if err != nil {
		e.t.Fatal(err)
	}
	env, err := e.store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		e.t.Fatal(err)
	}
	app := &db.App{EnvironmentID: env.ID, Name: name, AppName: name, SourceType: db.SourceImage, Image: "nginx:1",
		Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
	if err := e.store.CreateApp(ctx, app); err != nil {
		e.t.Fatal(err)
	}
	return app.ID
}

func (e *alertEnv) cpuSample(service string, replica int, at time.Time, cpu float64) {
	e.t.Helper()
	err := e.store.InsertMetrics(context.Background(), []db.ContainerSample{{TS: at, Target: service, Service: service,
		ContainerID: "c1", Replica: replica, Node: "n1", CPU: cpu, Mem: 64 << 20, MemLimit: 1 << 30}}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *alertEnv) state(ruleID int64) alerts.StateSummary {
	e.t.Helper()
	all, err := e.store.AlertStates(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var mine []db.AlertState
	for _, st := range all {
		if st.RuleID == ruleID {
			mine = append(mine, st)
		}
	}
	return alerts.Summarize(mine)
}

func dataOf(t *testing.T, n db.Notification) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(n.Data, &m); err != nil {
		t.Fatalf("data %s: %v", n.Data, err)
	}
	return m
}

// A CPU rule waits until every sample of its 30 s held, fires once however
// many rounds follow, resolves when the load stops, does not fire again
// within its cooldown though the load comes back, and fires again once the
// cooldown is over.
func TestServiceRule_FiresOnceResolvesAndCoolsDown(t *testing.T) {
	dbtest.Integration(t)
	e := newAlertEnv(t)
	ctx := context.Background()
	appID := e.newApp("shop-web")
	rule := &db.AlertRule{Name: "hot", Target: db.AlertTargetService, ServiceID: &appID, Metric: "cpu", Comparison: ">",
		Threshold: 50, ForSeconds: 30, CooldownSeconds: 300, Enabled: true}
	if err := e.store.CreateAlertRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	t0 := e.now
	// round i: a sample at t0+10i s, evaluated 2 s later.
	round := func(i int, cpu float64) {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		e.cpuSample("shop-web", 1, at, cpu)
		e.evaluateAt(at.Add(2 * time.Second))
	}
	for i := 0; i < 3; i++ { // 0, 10, 20 s: 20 s of the 30 held
		round(i, 80)
	}
	if n := len(e.deliveries(notify.EventAlertFiring)); n != 0 {
		t.Fatalf("fired after 20 s of a 30 s rule: %d", n)
	}
	if st := e.state(rule.ID); st.Status != "pending" || st.Since == nil || !st.Since.Equal(t0) || *st.Value != 80 {
		t.Fatalf("state after 20 s: %+v, want pending since t0 at 80", st)
	}
	for i := 3; i < 10; i++ { // fires at 30 s, then six more rounds
		round(i, 80)
	}
	fired := e.deliveries(notify.EventAlertFiring)
	if len(fired) != 1 {
		t.Fatalf("firing notifications: %d, want exactly 1", len(fired))
	}
	f := fired[0]
	if f.Title != "CPU of shop-web replica 1 above 50 % for 30 s" || f.Severity != notify.SeverityWarning ||
		!strings.Contains(f.Body, "80.0 %") {
		t.Errorf("firing: %q %q %q", f.Title, f.Severity, f.Body)
	}
	if f.ServiceID == nil || *f.ServiceID != appID || f.Project != "Shop" || f.Service != "shop-web" {
		t.Errorf("subject %+v, want the app and its project", f.NotificationSubject)
	}
	d := dataOf(t, f)
	if d["rule_id"] != float64(rule.ID) || d["value"] != float64(80) || d["metric"] != "cpu" || d["comparison"] != ">" ||
		d["threshold"] != float64(50) || d["for_seconds"] != float64(30) || d["replica"] != float64(1) || d["target"] != "service" {
		t.Errorf("data %v", d)
	}
	if st := e.state(rule.ID); st.Status != "firing" || st.Since == nil || !st.Since.Equal(t0.Add(30*time.Second)) {
		t.Errorf("state while firing: %+v, want firing since t0+30s", st)
	}

	round(10, 5) // the load stops
	round(11, 5)
	resolved := e.deliveries(notify.EventAlertResolved)
	if len(resolved) != 1 {
		t.Fatalf("resolved notifications: %d, want 1", len(resolved))
	}
	if r := resolved[0]; !strings.Contains(r.Title, "Resolved: CPU of shop-web replica 1") || !strings.Contains(r.Body, "5.0 %") ||
		!strings.Contains(r.Body, "fired for 1m12s") || dataOf(t, r)["fired_seconds"] != float64(72) {
		t.Errorf("resolved: %q %q %s", r.Title, r.Body, r.Data)
	}
	if st := e.state(rule.ID); st.Status != "ok" || *st.Value != 5 {
		t.Errorf("state after resolving: %+v", st)
	}

	// The load comes back for 90 s, well within the 300 s cooldown of the
	// firing at 32 s: recorded as pending, not fired.
	for i := 12; i < 22; i++ {
		round(i, 90)
	}
	if n := len(e.deliveries(notify.EventAlertFiring)); n != 1 {
		t.Fatalf("fired %d times within the cooldown, want 1", n)
	}
	if st := e.state(rule.ID); st.Status != "pending" {
		t.Errorf("state while cooling down: %+v, want pending", st)
	}
	// Still holding when the cooldown ends (32 s + 300 s): fires again, once.
	for i := 22; i < 36; i++ {
		round(i, 90)
	}
	fired = e.deliveries(notify.EventAlertFiring)
	if len(fired) != 2 {
		t.Fatalf("firings after the cooldown: %d, want 2", len(fired))
	}
	if fired[1].DedupeKey == fired[0].DedupeKey {
		t.Errorf("both firings have the dedupe key %q", fired[0].DedupeKey)
	}
}

// Samples with a hole in them do not cover the window: no firing though
// every sample is above the threshold; a stale sample is not current.
func TestServiceRule_GapsAndStaleSamplesDoNotHold(t *testing.T) {
	dbtest.Integration(t)
	e := newAlertEnv(t)
	appID := e.newApp("api")
	rule := &db.AlertRule{Name: "hot", Target: db.AlertTargetService, ServiceID: &appID, Metric: "cpu", Comparison: ">=",
		Threshold: 50, ForSeconds: 60, Enabled: true}
	if err := e.store.CreateAlertRule(context.Background(), rule); err != nil {
		t.Fatal(err)
	}
	t0 := e.now
	for _, s := range []int{0, 10, 20, 70, 80} { // 50 s without a sample
		e.cpuSample("api", 1, t0.Add(time.Duration(s)*time.Second), 99)
	}
	e.evaluateAt(t0.Add(82 * time.Second))
	// Long after the last sample: nothing is current.
	e.evaluateAt(t0.Add(10 * time.Minute))
	if n := len(e.deliveries(notify.EventAlertFiring)); n != 0 {
		t.Fatalf("fired over a gap or on stale samples: %d", n)
	}
}

// The built-in disk rule watches every node: a node above 90 % for two
// minutes fires once, about no project; a node at 50 % does not.
func TestNodeDiskRule_BuiltIn(t *testing.T) {
	dbtest.Integration(t)
	e := newAlertEnv(t)
	ctx := context.Background()
	rules, err := e.store.AlertRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Name != "Disk almost full" || !rules[0].Builtin || rules[0].Metric != "disk_percent" ||
		rules[0].Threshold != 90 || rules[0].ForSeconds != 120 || rules[0].CooldownSeconds != 6*3600 || !rules[0].Enabled {
		t.Fatalf("seeded rules: %+v", rules)
	}
	t0 := e.now
	for i := 0; i <= 15; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		err := e.store.InsertMetrics(ctx, nil, []db.NodeSample{
			{TS: at, Node: "nodeA", Hostname: "alpha", CPU: 10, CPUs: 2, MemUsed: 1, MemTotal: 4, DiskUsed: 95, DiskTotal: 100},
			{TS: at, Node: "nodeB", Hostname: "beta", CPU: 10, CPUs: 2, MemUsed: 1, MemTotal: 4, DiskUsed: 50, DiskTotal: 100},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.evaluateAt(at.Add(time.Second))
		if i == 11 { // 110 s held
			if n := len(e.deliveries(notify.EventAlertFiring)); n != 0 {
				t.Fatalf("disk rule fired after 110 s of 120: %d", n)
			}
		}
	}
	fired := e.deliveries(notify.EventAlertFiring)
	if len(fired) != 1 {
		t.Fatalf("disk firings: %d, want 1 (node alpha only)", len(fired))
	}
	f := fired[0]
	d := dataOf(t, f)
	if f.Title != "Disk of alpha above 90 % for 2 min" || f.ProjectID != nil || f.ServiceID != nil ||
		d["node"] != "nodeA" || d["hostname"] != "alpha" || d["value"] != float64(95) {
		t.Errorf("disk firing: %q project %v service %v data %v", f.Title, f.ProjectID, f.ServiceID, d)
	}
}

// Two evaluators (two control-plane processes) racing over the same rule
// and samples queue one firing between them.
func TestTwoEvaluators_FireOnce(t *testing.T) {
	dbtest.Integration(t)
	e := newAlertEnv(t)
	ctx := context.Background()
	appID := e.newApp("race")
	rule := &db.AlertRule{Name: "hot", Target: db.AlertTargetService, ServiceID: &appID, Metric: "cpu", Comparison: ">",
		Threshold: 50, ForSeconds: 0, CooldownSeconds: 600, Enabled: true}
	if err := e.store.CreateAlertRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	e.cpuSample("race", 1, e.now, 99)
	e.now = e.now.Add(time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 2 {
		ev := e.evaluator()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 8 {
				if err := ev.Evaluate(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(e.deliveries(notify.EventAlertFiring)); n != 1 {
		t.Fatalf("two evaluators queued %d firings, want 1", n)
	}
}
