package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dokploy/e2e/testkit"
)

// The app's Advanced tab saves placement; a bad constraint is refused at
// its field and nothing changes.
func TestPlacement_AppFormRoundTrip(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	a := app.createImageApp(p, "web")
	base := fmt.Sprintf("/apps/%d", a.ID)

	res := b.get(base + "/advanced")
	wantStatus(t, res, http.StatusOK)
	doc := res.doc(t)
	if doc.Find(`#app-placement textarea[name=placement_constraints]`).Length() != 1 ||
		doc.Find(`#app-placement input[name=max_replicas_per_node]`).Length() != 1 ||
		doc.Find(`#app-placement a[href="/nodes"]`).Length() != 1 {
		t.Fatalf("Advanced tab lacks the placement fields:\n%s", res.Body)
	}

	res = b.postHTMX(base, url.Values{"placement_constraints": {" node.labels.region == eu \r\nnode.role==worker\n\n"}, "max_replicas_per_node": {"2"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Saved. Deploy to apply the changes.", "Save placement")
	got, err := app.store.App(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.PlacementConstraints, "|") != "node.labels.region == eu|node.role==worker" || got.MaxReplicasPerNode != 2 {
		t.Fatalf("saved %q max %d", got.PlacementConstraints, got.MaxReplicasPerNode)
	}
	if got.Image != "nginx:1.27" || got.HealthStatus != a.HealthStatus {
		t.Errorf("the placement form changed other settings: %+v", got)
	}
	if v := res.doc(t).Find(`#placement_constraints`).Text(); v != "node.labels.region == eu\nnode.role==worker" {
		t.Errorf("textarea shows %q", v)
	}

	for field, tc := range map[string]url.Values{
		"placement_constraints": {"placement_constraints": {"node.role==worker\nnode.colour==red"}, "max_replicas_per_node": {"0"}},
		"max_replicas_per_node": {"placement_constraints": {""}, "max_replicas_per_node": {"5000"}},
	} {
		res = b.postHTMX(base, tc)
		wantStatus(t, res, http.StatusUnprocessableEntity)
		testkit.MustContain(t, res.Body, "Nothing was saved")
		msg := res.doc(t).Find(fmt.Sprintf(`[name=%q]`, field)).Closest(".field.invalid").Find(".error-text").Text()
		want := map[string]string{"placement_constraints": `constraint 2: unknown key "node.colour"`, "max_replicas_per_node": "between 0 (no limit) and 1000"}[field]
		if !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want %q", field, msg, want)
		}
		if v := res.doc(t).Find(`#placement_constraints`).Text(); v != tc.Get("placement_constraints") {
			t.Errorf("%s: textarea %q, want what was typed", field, v)
		}
		after, _ := app.store.App(context.Background(), a.ID)
		if strings.Join(after.PlacementConstraints, "|") != "node.labels.region == eu|node.role==worker" || after.MaxReplicasPerNode != 2 {
			t.Errorf("%s: refused input changed placement to %q %d", field, after.PlacementConstraints, after.MaxReplicasPerNode)
		}
	}
}

// PATCH /api/v1/applications/{id} takes and returns placement; bad input is
// a 422 naming the field and changes nothing.
func TestPlacement_AppAPI(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	p := app.createProject("shop")
	a := app.createImageApp(p, "web")
	path := fmt.Sprintf("/api/v1/applications/%d", a.ID)

	res, body := app.apiJSON(http.MethodGet, path, token, nil)
	wantStatus(t, res, http.StatusOK)
	if c, ok := body["placement_constraints"].([]any); !ok || len(c) != 0 || body["max_replicas_per_node"] != float64(0) {
		t.Errorf("default placement: %s", res.Body)
	}
	res, _ = app.apiJSON(http.MethodPatch, path, token, map[string]any{
		"placement_constraints": []string{"node.labels.region==eu", "node.hostname!=db1"}, "max_replicas_per_node": 1})
	wantStatus(t, res, http.StatusOK)
	res, body = app.apiJSON(http.MethodGet, path, token, nil)
	if c, _ := body["placement_constraints"].([]any); len(c) != 2 || c[0] != "node.labels.region==eu" || c[1] != "node.hostname!=db1" || body["max_replicas_per_node"] != float64(1) {
		t.Fatalf("after PATCH: %s", res.Body)
	}
	// Another field alone keeps the placement.
	res, _ = app.apiJSON(http.MethodPatch, path, token, map[string]any{"replicas": 2})
	wantStatus(t, res, http.StatusOK)

	for _, tc := range []struct {
		body  map[string]any
		field string
		msg   string
	}{
		{map[string]any{"placement_constraints": []string{"node.role==boss"}}, "placement_constraints", "manager or worker"},
		{map[string]any{"placement_constraints": []string{"node.labels.region=eu"}}, "placement_constraints", "==<value>"},
		{map[string]any{"placement_constraints": []string{"node.hostname==a\nb"}}, "placement_constraints", "control characters"},
		{map[string]any{"max_replicas_per_node": -1}, "max_replicas_per_node", "between 0"},
	} {
		res, body = app.apiJSON(http.MethodPatch, path, token, tc.body)
		wantAPIError(t, res, body, http.StatusUnprocessableEntity, tc.field)
		if msg, _ := body["error"].(string); !strings.Contains(msg, tc.msg) {
			t.Errorf("%v: error %q, want %q", tc.body, msg, tc.msg)
		}
	}
	got, _ := app.store.App(context.Background(), a.ID)
	if strings.Join(got.PlacementConstraints, "|") != "node.labels.region==eu|node.hostname!=db1" || got.MaxReplicasPerNode != 1 || got.Replicas != 2 {
		t.Errorf("refused PATCHes changed the app: %q %d replicas %d", got.PlacementConstraints, got.MaxReplicasPerNode, got.Replicas)
	}
}

// The database's Advanced form and PATCH carry placement the same way.
func TestPlacement_Database(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	b := app.login(adminEmail, adminPassword)
	p := app.createProject("shop")
	d := b.createDatabase(p, "pg")
	base := fmt.Sprintf("/databases/%d", d.ID)

	res := b.get(base + "/advanced")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `name="placement_constraints"`, `name="max_replicas_per_node"`, `href="/nodes"`)

	form := url.Values{"image": {"postgres:17"}, "placement_constraints": {"node.labels.disk==ssd"}, "max_replicas_per_node": {"1"}}
	res = b.postHTMX(base, form)
	wantStatus(t, res, http.StatusOK)
	got, _ := app.store.Database(context.Background(), d.ID)
	if strings.Join(got.PlacementConstraints, "|") != "node.labels.disk==ssd" || got.MaxReplicasPerNode != 1 {
		t.Fatalf("saved %q %d", got.PlacementConstraints, got.MaxReplicasPerNode)
	}

	form.Set("placement_constraints", "engine.labels.==x")
	res = b.postHTMX(base, form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if msg := res.doc(t).Find(`[name=placement_constraints]`).Closest(".field.invalid").Find(".error-text").Text(); !strings.Contains(msg, "label name") {
		t.Errorf("message %q", msg)
	}

	path := fmt.Sprintf("/api/v1/databases/%d", d.ID)
	res, body := app.apiJSON(http.MethodPatch, path, token, map[string]any{"placement_constraints": []string{"node.os==linux"}})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "placement_constraints")
	res, _ = app.apiJSON(http.MethodPatch, path, token, map[string]any{"placement_constraints": []string{}, "max_replicas_per_node": 0})
	wantStatus(t, res, http.StatusOK)
	res, body = app.apiJSON(http.MethodGet, path, token, nil)
	if c, ok := body["placement_constraints"].([]any); !ok || len(c) != 0 || body["max_replicas_per_node"] != float64(0) {
		t.Errorf("after clearing: %s", res.Body)
	}
}
