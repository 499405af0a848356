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

// History retention is one setting behind the settings page and the API:
// the same refusals with nothing saved, the same values read back, and a
// deployment whose log it removed says so on its page.
func TestRetention_SettingsAndPrunedDeployment(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	read := func() map[string]any {
		res, body := a.apiJSON(http.MethodGet, "/api/v1/settings/retention", token, nil)
		wantStatus(t, res, http.StatusOK)
		return body
	}
	if got := read(); got["keep_deployment_logs"] != float64(50) || got["webhook_delivery_days"] != float64(30) || got["audit_days"] != float64(90) {
		t.Fatalf("defaults: %v", got)
	}
	page := b.get("/settings")
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, `hx-get="/settings/retention"`)

	for _, tc := range []struct {
		field string
		value int
		msg   string
	}{
		{"keep_deployment_logs", 0, "1 to 10000 deployments"},
		{"webhook_delivery_days", 4000, "1 to 3650 days"},
		{"audit_days", 0, "1 to 3650 days"},
	} {
		form := url.Values{"keep_deployment_logs": {"50"}, "webhook_delivery_days": {"30"}, "audit_days": {"90"}}
		form.Set(tc.field, fmt.Sprint(tc.value))
		ui := b.postHTMX("/settings/retention", form)
		api, body := a.apiJSON(http.MethodPatch, "/api/v1/settings/retention", token, map[string]any{tc.field: tc.value})
		wantSameRefusal(t, ui, api, body, http.StatusUnprocessableEntity, tc.field, tc.msg)
		// The typed value stays in the form.
		testkit.MustContain(t, ui.Body, fmt.Sprintf(`value="%d"`, tc.value))
		if got := read(); got["keep_deployment_logs"] != float64(50) || got["webhook_delivery_days"] != float64(30) {
			t.Errorf("refused value stored: %v", got)
		}
	}

	wantStatus(t, b.postHTMX("/settings/retention", url.Values{"keep_deployment_logs": {"1"}, "webhook_delivery_days": {"7"}, "audit_days": {"30"}}), http.StatusOK)
	if got := read(); got["keep_deployment_logs"] != float64(1) || got["webhook_delivery_days"] != float64(7) || got["audit_days"] != float64(30) {
		t.Errorf("saved through the page: %v", got)
	}

	// Two finished deployments of one app: keeping one log prunes the older.
	app := a.createImageApp(a.createProject("Shop"), "shop")
	ctx := context.Background()
	var ids []int64
	for range 2 {
		d, err := a.store.CreateDeployment(ctx, app.ID, "user", adminEmail)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.store.AppendLogs(ctx, d.ID, 1, []string{"pulling image"}); err != nil {
			t.Fatal(err)
		}
		if err := a.store.FinishDeployment(ctx, d.ID, "done", ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	res, body := a.apiJSON(http.MethodPost, "/api/v1/settings/retention/prune", token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["deployment_logs"] != float64(1) || body["log_lines"] != float64(1) {
		t.Errorf("prune report: %s", res.Body)
	}
	res, body = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/deployments/%d", ids[0]), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["log_pruned"] != true {
		t.Errorf("old deployment not marked pruned: %s", res.Body)
	}
	old := b.get(fmt.Sprintf("/deployments/%d", ids[0]))
	wantStatus(t, old, http.StatusOK)
	if text := uiText(t, old); !strings.Contains(text, "This log was removed by history retention") {
		t.Errorf("pruned deployment page: %s", testkit.Truncate(text))
	}
	recent := b.get(fmt.Sprintf("/deployments/%d", ids[1]))
	testkit.MustNotContain(t, recent.Body, "removed by history retention")
	testkit.MustContain(t, recent.Body, "sse-connect")
}
