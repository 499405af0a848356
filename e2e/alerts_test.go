package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/notify"
)

// alertSink is a webhook receiver on 127.0.0.1 that keeps every signed
// delivery.
type alertSink struct {
	t      *testing.T
	secret string
	srv    *httptest.Server
	mu     sync.Mutex
	got    []notify.WebhookPayload
	bad    []string
}

func newAlertSink(t *testing.T, secret string) *alertSink {
	s := &alertSink{t: t, secret: secret}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := notify.Verify(secret, r.Header.Get("X-Dokploy-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			s.bad = append(s.bad, err.Error()+": "+string(body))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			s.bad = append(s.bad, err.Error())
		}
		s.got = append(s.got, p)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// of returns the deliveries of one event.
func (s *alertSink) of(event string) []notify.WebhookPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		s.t.Fatalf("deliveries failing the signature check: %v", s.bad)
	}
	var out []notify.WebhookPayload
	for _, p := range s.got {
		if p.Type == event {
			out = append(out, p)
		}
	}
	return out
}

// waitFor polls until the sink has n deliveries of event.
func (s *alertSink) waitFor(t *testing.T, event string, n int, within time.Duration) []notify.WebhookPayload {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.of(event)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s deliveries within %s, want %d", len(got), event, within, n)
		}
		time.Sleep(time.Second)
	}
}

type alertRuleAnswer struct {
	ID    int64 `json:"id"`
	State struct {
		Status string   `json:"status"`
		Value  *float64 `json:"value"`
	} `json:"state"`
}

// TestAlertRules deploys a service that keeps its CPUs busy, subscribes a
// signed webhook to the alert events and adds "CPU > 50 % for 30 s,
// cooldown 5 min" through the API: the webhook gets exactly one
// alert.firing about the app and its project, still one after three more
// sample rounds; when the load stops (POST /calm on its published port) it
// gets exactly one alert.resolved. Bad rules are refused with 422 and a
// clear message, and nothing is stored.
func TestAlertRules(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	image := metricsBurnImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	c.mustAPI(t, "PATCH", "/api/v1/settings/metrics", map[string]any{"interval_seconds": 5}, http.StatusOK, nil)
	project := c.newProject(t)
	app, name := c.newApp(t, project, map[string]any{"type": "image", "image": image})
	port := testkit.FreePort(t)
	c.mustAPI(t, "PATCH", fmt.Sprintf("/api/v1/applications/%d", app), map[string]any{
		"ports": []any{map[string]any{"published": port, "target": 8080}}}, http.StatusOK, nil)
	c.mustAPI(t, "PUT", fmt.Sprintf("/api/v1/applications/%d/env", app), map[string]any{"env": map[string]string{"HOLD_MB": "16"}}, http.StatusOK, nil)
	if d := c.waitFinished(t, c.deploy(t, app), 3*time.Minute); d.Status != "done" {
		t.Fatalf("deploy: %s %s", d.Status, d.Error)
	}
	metricsFavourCPU(t, name)

	sink := newAlertSink(t, "alert-sink-secret-"+srvRandomHex(4))
	c.mustAPI(t, "POST", "/api/v1/notifications", map[string]any{"name": "alerts sink", "kind": "webhook",
		"events": []string{"alert.firing", "alert.resolved"}, "config": map[string]any{"url": sink.srv.URL + "/hook", "secret": sink.secret}},
		http.StatusCreated, nil)

	// Refused: nothing stored, the message says what is wrong.
	good := map[string]any{"name": "shop hot", "target": "service", "service_id": app, "metric": "cpu", "comparison": ">",
		"threshold": 50, "for_seconds": 30, "cooldown_seconds": 300}
	for _, bad := range []struct {
		field string
		value any
		want  string
	}{
		{"metric", "disk_percent", `unknown metric "disk_percent" for a service rule: use cpu, memory, memory_percent, restarts`},
		{"for_seconds", -5, "for_seconds is 0 to 86400"},
		{"metric", "memory_percent", "has none: set a memory limit"},
		{"comparison", "=", "one of >, >=, <, <="},
	} {
		body := map[string]any{}
		for k, v := range good {
			body[k] = v
		}
		body[bad.field] = bad.value
		code, answer, err := c.api("POST", "/api/v1/alert-rules", body)
		var msg struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		_ = json.Unmarshal(answer, &msg)
		if err != nil || code != http.StatusUnprocessableEntity || !strings.Contains(msg.Error, bad.want) {
			t.Errorf("%s=%v: %d %v %s, want 422 saying %q", bad.field, bad.value, code, err, answer, bad.want)
		}
	}
	var list struct {
		Items []alertRuleAnswer `json:"items"`
	}
	c.mustAPI(t, "GET", "/api/v1/alert-rules", nil, http.StatusOK, &list)
	if len(list.Items) != 1 { // the built-in disk rule
		t.Fatalf("rules after refused creates: %+v, want only the built-in one", list.Items)
	}

	var rule alertRuleAnswer
	c.mustAPI(t, "POST", "/api/v1/alert-rules", good, http.StatusCreated, &rule)
	started := time.Now()
	fired := sink.waitFor(t, notify.EventAlertFiring, 1, 3*time.Minute)
	t.Logf("fired %s after the rule was added: %s", time.Since(started).Round(time.Second), fired[0].Title)
	if rows, err := c.db.Query(`SELECT round(cpu) FROM container_samples WHERE service_id = $1 ORDER BY ts`, app); err == nil {
		var cpus []string
		for rows.Next() {
			var v float64
			_ = rows.Scan(&v)
			cpus = append(cpus, fmt.Sprint(v))
		}
		rows.Close()
		t.Logf("CPU samples until the firing: %s", strings.Join(cpus, " "))
	}
	f := fired[0]
	var data struct {
		RuleID int64   `json:"rule_id"`
		Value  float64 `json:"value"`
		Metric string  `json:"metric"`
	}
	if err := json.Unmarshal(f.Data, &data); err != nil {
		t.Fatal(err)
	}
	if f.Project == nil || f.Project.ID != project || f.Service == nil || f.Service.ID != app || f.Service.Name != name ||
		data.RuleID != rule.ID || data.Value <= 50 || data.Metric != "cpu" || f.Severity != "warning" ||
		!strings.HasPrefix(f.Title, "CPU of "+name) || !strings.HasSuffix(f.Title, "above 50 % for 30 s") {
		t.Errorf("firing: %+v data %s", f, f.Data)
	}
	var got alertRuleAnswer
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/alert-rules/%d", rule.ID), nil, http.StatusOK, &got)
	if got.State.Status != "firing" || got.State.Value == nil || *got.State.Value <= 50 {
		t.Errorf("state while firing: %+v", got.State)
	}

	// Three more sample rounds: still one firing.
	samples := func() int {
		var n int
		if err := c.db.QueryRow(`SELECT count(*) FROM container_samples WHERE service_id = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := samples()
	deadline := time.Now().Add(time.Minute)
	for samples() < base+3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 sample rounds in a minute after the firing")
		}
		time.Sleep(time.Second)
	}
	time.Sleep(6 * time.Second) // an evaluation after the third round
	if n := len(sink.of(notify.EventAlertFiring)); n != 1 {
		t.Fatalf("%d firings after three more rounds, want exactly 1", n)
	}
	if n := len(sink.of(notify.EventAlertResolved)); n != 0 {
		t.Fatalf("resolved before the load stopped (the host starved the service of CPU?): %d", n)
	}

	// The load stops: one resolved.
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/calm", port), "text/plain", nil)
	if err != nil {
		t.Fatalf("POST /calm: %v", err)
	}
	resp.Body.Close()
	resolved := sink.waitFor(t, notify.EventAlertResolved, 1, 2*time.Minute)
	t.Logf("resolved: %s: %s", resolved[0].Title, resolved[0].Body)
	if r := resolved[0]; r.Service == nil || r.Service.ID != app || !strings.Contains(r.Body, "fired for") {
		t.Errorf("resolved: %+v", r)
	}
	// Calm: the state goes ok, and three more rounds bring no other
	// notification.
	base = samples()
	deadline = time.Now().Add(time.Minute)
	for {
		c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/alert-rules/%d", rule.ID), nil, http.StatusOK, &got)
		if got.State.Status == "ok" && samples() >= base+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state a minute after the load stopped: %+v", got.State)
		}
		time.Sleep(time.Second)
	}
	if f, r := len(sink.of(notify.EventAlertFiring)), len(sink.of(notify.EventAlertResolved)); f != 1 || r != 1 {
		t.Errorf("%d firings and %d resolved, want 1 and 1", f, r)
	}
}

// TestAlertRules_Browser adds a rule on the Settings page: a threshold that
// is no number comes back inline with what was typed kept, a good one is
// listed; a firing rule is red, the built-in disk rule green. Screenshots
// at 1280 px and 390 px, and the page fits a phone.
func TestAlertRules_Browser(t *testing.T) {
	dbtest.Integration(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is needed: %v", err)
	}
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve", "DOKPLOY_WORKER=false")
	c.login(t)
	project := c.newProject(t)
	app, name := c.newApp(t, project, map[string]any{"type": "image", "image": "nginx:1"})
	var firing alertRuleAnswer
	c.mustAPI(t, "POST", "/api/v1/alert-rules", map[string]any{"name": "api memory", "target": "service", "service_id": app,
		"metric": "memory", "comparison": ">", "threshold": 512 << 20, "for_seconds": 60, "cooldown_seconds": 3600}, http.StatusCreated, &firing)
	if _, err := c.db.Exec(`INSERT INTO alert_states (rule_id, key, label, firing_since, last_fired_at, last_value)
		VALUES ($1, $2, $3, now() - interval '3 minutes', now() - interval '3 minutes', $4)`,
		firing.ID, name+"#1", name+" replica 1", 700<<20); err != nil {
		t.Fatal(err)
	}

	b := browserOpen(t, c.URL)
	b.step("sign in", 30*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/login"),
			chromedp.SendKeys(chromedp.CSS("#email"), resAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), resAdminPassword),
			chromedp.Submit(chromedp.CSS("#password"))); err != nil {
			return err
		}
		return b.waitPath(ctx, "/")
	})
	b.step("the panel lists the rules with their state", 30*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/settings")); err != nil {
			return err
		}
		return b.waitJS(ctx, "a red firing row and a green built-in row",
			`document.querySelector('#settings-alerts tr[data-rule="api memory"] .badge.state-bad') !== null &&
			 document.querySelector('#settings-alerts tr[data-rule="Disk almost full"] .badge.state-ok') !== null &&
			 /Alert rule fired/.test(document.querySelector('#settings-alerts').textContent)`)
	})
	b.step("a bad threshold is refused inline, the input kept", 30*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#alert-name"), "web busy"),
			chromedp.SetValue(chromedp.CSS("#alert-service"), fmt.Sprint(app)),
			chromedp.SendKeys(chromedp.CSS("#alert-threshold"), "lots"),
			chromedp.Click(chromedp.CSS(`#alert-rule-form button[type=submit]`))); err != nil {
			return err
		}
		return b.waitJS(ctx, "the threshold marked invalid, name and service kept",
			`document.querySelector('#alert-rule-form .field.invalid #alert-threshold') !== null &&
			 document.querySelector('#alert-name').value === "web busy" &&
			 document.querySelector('#alert-service').value === "`+fmt.Sprint(app)+`" &&
			 /Enter a number/.test(document.querySelector('#alert-rule-form').textContent)`)
	})
	b.step("a good rule is listed", 30*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#alert-threshold"), "80"),
			chromedp.Click(chromedp.CSS(`#alert-rule-form button[type=submit]`))); err != nil {
			return err
		}
		return b.waitJS(ctx, "the new rule's row", `(function () {
			const row = document.querySelector('#settings-alerts tr[data-rule="web busy"]');
			return row !== null && /CPU > 80 % for 1 min/.test(row.textContent);
		})()`)
	})
	b.step("screenshots at 1280 px and 390 px", 90*time.Second, func(ctx context.Context) error {
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#settings-alerts")))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.out, "alerts-settings.png"), shot, 0o644); err != nil {
			return err
		}
		if err := b.checkPhoneFit(ctx, "/settings"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile),
			chromedp.Navigate(c.URL+"/settings")); err != nil {
			return err
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
		if err := b.waitJS(ctx, "the panel", `document.querySelector('#settings-alerts tr[data-rule="web busy"]') !== null`); err != nil {
			return err
		}
		shot, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#settings-alerts")))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.out, "alerts-settings-phone.png"), shot, 0o644)
	})
	b.step("watching nodes swaps in the node field and metrics, keeping the name", 30*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/settings")); err != nil {
			return err
		}
		// The panel arrives by an hx-trigger="load" swap; htmx binds the
		// select's change handler only when the swap settles (20 ms later),
		// so a change dispatched before that would go unheard.
		if err := b.waitJS(ctx, "the form", `document.querySelector('#alert-target') !== null &&
			!document.querySelector('#settings-alerts').classList.contains('htmx-settling')`); err != nil {
			return err
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
			document.querySelector('#alert-name').value = "disk of alpha";
			const t = document.querySelector('#alert-target');
			t.value = "node";
			t.dispatchEvent(new Event("change", {bubbles: true}));
			return true;
		})()`)); err != nil {
			return err
		}
		return b.waitJS(ctx, "the node input and node metrics", `document.querySelector('#alert-node') !== null &&
			document.querySelector('#alert-service') === null &&
			document.querySelector('#alert-metric option[value="disk_percent"]') !== null &&
			document.querySelector('#alert-name').value === "disk of alpha"`)
	})
	if exc := b.exceptions(); len(exc) > 0 {
		t.Errorf("console errors: %v", exc)
	}
}
