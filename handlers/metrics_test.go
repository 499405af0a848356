package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

// The metrics settings are one setting behind the settings page and the
// API; the service and server metrics answer one series per replica or
// node with its current values, and refuse unknown ranges and kinds.
func TestMetrics_SettingsAndSeries(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	res, body := a.apiJSON(http.MethodGet, "/api/v1/settings/metrics", token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["interval_seconds"] != float64(10) || body["raw_hours"] != float64(48) || body["rollup_days"] != float64(30) {
		t.Fatalf("defaults: %v", body)
	}
	page := b.get("/settings")
	testkit.MustContain(t, page.Body, `hx-get="/settings/metrics"`)
	for _, tc := range []struct {
		field string
		value int
		msg   string
	}{
		{"interval_seconds", 1, "5 to 300 seconds"},
		{"raw_hours", 12, "24 to 720 hours"},
		{"rollup_days", 3, "7 to 3650 days"},
	} {
		form := url.Values{"interval_seconds": {"10"}, "raw_hours": {"48"}, "rollup_days": {"30"}}
		form.Set(tc.field, fmt.Sprint(tc.value))
		ui := b.postHTMX("/settings/metrics", form)
		api, body := a.apiJSON(http.MethodPatch, "/api/v1/settings/metrics", token, map[string]any{tc.field: tc.value})
		wantSameRefusal(t, ui, api, body, http.StatusUnprocessableEntity, tc.field, tc.msg)
	}
	res, body = a.apiJSON(http.MethodPatch, "/api/v1/settings/metrics", token, map[string]any{"interval_seconds": 15})
	wantStatus(t, res, http.StatusOK)
	if body["interval_seconds"] != float64(15) || body["raw_hours"] != float64(48) {
		t.Errorf("after PATCH: %v", body)
	}

	app := a.createImageApp(a.createProject("Shop"), "shop")
	now := time.Now().UTC().Truncate(time.Second)
	var cs []db.ContainerSample
	for i := range 3 {
		for slot := 1; slot <= 2; slot++ {
			cs = append(cs, db.ContainerSample{TS: now.Add(time.Duration(i-2) * 15 * time.Second), Target: app.AppName, Service: app.AppName,
				ContainerID: fmt.Sprintf("c%d", slot), Replica: slot, Node: "node1", CPU: float64(10 * slot), Mem: int64(slot) << 26,
				MemLimit: 1 << 30, NetRx: 100, Restarts: slot - 1})
		}
	}
	ns := []db.NodeSample{{TS: now, Node: "node1", Hostname: "vps", CPU: 12, CPUs: 2, MemUsed: 1 << 30, MemTotal: 4 << 30, DiskUsed: 1, DiskTotal: 2}}
	if err := a.store.InsertMetrics(context.Background(), cs, ns); err != nil {
		t.Fatal(err)
	}
	res, body = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/services/app/%d/metrics?range=1h", app.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	series, _ := body["series"].([]any)
	if len(series) != 2 {
		t.Fatalf("series: %s", res.Body)
	}
	r2 := series[1].(map[string]any)
	cur, _ := r2["current"].(map[string]any)
	if r2["label"] != "replica 2" || len(r2["ts"].([]any)) != 3 || len(r2["cpu"].([]any)) != 3 || cur == nil ||
		cur["cpu"] != float64(20) || cur["mem"] != float64(2<<26) || cur["restarts"] != float64(1) {
		t.Errorf("replica 2: %v", r2)
	}
	if body["step_seconds"] != float64(12) || body["interval_seconds"] != float64(15) {
		t.Errorf("step and interval: %v %v", body["step_seconds"], body["interval_seconds"])
	}
	res, body = a.apiJSON(http.MethodGet, "/api/v1/server/metrics?range=24h", token, nil)
	wantStatus(t, res, http.StatusOK)
	nodes, _ := body["nodes"].([]any)
	if len(nodes) != 1 || nodes[0].(map[string]any)["mem_total"] != float64(4<<30) || nodes[0].(map[string]any)["current"] == nil {
		t.Errorf("server: %s", res.Body)
	}
	res, body = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/services/app/%d/metrics?range=2d", app.ID), token, nil)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if body["field"] != "range" {
		t.Errorf("bad range: %s", res.Body)
	}
	res, _ = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/services/vm/%d/metrics", app.ID), token, nil)
	wantStatus(t, res, http.StatusNotFound)
	res, _ = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/services/database/%d/metrics", app.ID), token, nil)
	wantStatus(t, res, http.StatusNotFound)

	// The panel on the app page, and the Server page.
	appPage := b.get(fmt.Sprintf("/apps/%d/monitoring", app.ID))
	testkit.MustContain(t, appPage.Body, fmt.Sprintf(`hx-get="/metrics/app/%d"`, app.ID), `/static/metrics.js`, `/static/vendor/uPlot.iife.min.js`)
	panel := b.get(fmt.Sprintf("/metrics/app/%d", app.ID))
	wantStatus(t, panel, http.StatusOK)
	testkit.MustContain(t, panel.Body, fmt.Sprintf(`data-metrics-url="/api/v1/services/app/%d/metrics"`, app.ID), `data-range="7d"`,
		"No samples yet — the collector samples every 15 s.")
	testkit.MustNotContain(t, panel.Body, "<script", "onclick")
	wantStatus(t, b.get(fmt.Sprintf("/metrics/compose/%d", app.ID)), http.StatusNotFound)
	server := b.get("/server")
	wantStatus(t, server, http.StatusOK)
	testkit.MustContain(t, server.Body, `data-metrics-url="/api/v1/server/metrics"`, `data-scope="server"`, `href="/server" class="active"`)
	for _, f := range []string{"/static/metrics.js", "/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.min.css"} {
		wantStatus(t, b.get(f), http.StatusOK)
	}
}

// An agent's push is stored for the service its target names, and shows
// in that service's metrics; a stale or malformed push stores nothing.
func TestMetrics_AgentPush(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, token := parityClients(a)
	app := a.createImageApp(a.createProject("Edge"), "edge")
	now := time.Now().UTC()
	sample := func(ts time.Time) map[string]any {
		return map[string]any{"ts": ts, "target": app.AppName, "service": app.AppName, "container_id": "abc", "replica": 3,
			"node": "node-b", "cpu": 42.5, "mem": 1 << 27, "mem_limit": 1 << 30, "net_rx": 1, "net_tx": 2, "blk_read": 0, "blk_write": 0,
			"restarts": 1, "oom": 1}
	}
	node := map[string]any{"ts": now, "node": "node-b", "hostname": "edge-2", "cpu": 5, "cpus": 4, "mem_used": 1 << 30,
		"mem_total": 8 << 30, "disk_used": 1, "disk_total": 2, "load1": 0.1, "load5": 0.1, "load15": 0.1}
	res, body := a.apiJSON(http.MethodPost, "/api/v1/agent/metrics", token, map[string]any{"containers": []any{sample(now.Add(-time.Hour))}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if body["field"] != "containers" {
		t.Errorf("stale push: %s", res.Body)
	}
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/agent/metrics", token, map[string]any{"containers": []any{}, "extra": 1})
	wantStatus(t, res, http.StatusBadRequest)
	// Without a token (and no session) the push is refused before it is read.
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/agent/metrics", "", map[string]any{"containers": []any{sample(now)}})
	wantStatus(t, res, http.StatusForbidden)
	if n := a.count("container_samples"); n != 0 {
		t.Fatalf("%d samples stored by refused pushes", n)
	}
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/agent/metrics", token, map[string]any{"containers": []any{sample(now)}, "nodes": []any{node}})
	wantStatus(t, res, http.StatusNoContent)
	res, body = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/services/app/%d/metrics", app.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	series, _ := body["series"].([]any)
	if len(series) != 1 {
		t.Fatalf("series after a push: %s", res.Body)
	}
	s := series[0].(map[string]any)
	cur, _ := s["current"].(map[string]any)
	if s["node"] != "node-b" || s["label"] != "replica 3" || cur == nil || cur["cpu"] != 42.5 || cur["oom"] != float64(1) {
		t.Errorf("pushed series %v", s)
	}
	res, body = a.apiJSON(http.MethodGet, "/api/v1/server/metrics", token, nil)
	wantStatus(t, res, http.StatusOK)
	if nodes, _ := body["nodes"].([]any); len(nodes) != 1 || nodes[0].(map[string]any)["hostname"] != "edge-2" {
		t.Errorf("nodes after a push: %s", res.Body)
	}
}
