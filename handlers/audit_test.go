package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dokploy/db"
)

// auditEvents reads the events the API shows with a token.
func auditEvents(t *testing.T, a *testApp, token, query string) []db.AuditEvent {
	t.Helper()
	res, _ := a.apiJSON(http.MethodGet, "/api/v1/audit?limit=100&"+query, token, nil)
	wantStatus(t, res, http.StatusOK)
	var page struct {
		Items []db.AuditEvent `json:"items"`
	}
	if err := json.Unmarshal([]byte(res.Body), &page); err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// findEvent returns the newest event with the action by the actor.
func findEvent(evs []db.AuditEvent, action, email string) *db.AuditEvent {
	for i := range evs {
		if evs[i].Action == action && evs[i].ActorEmail == email {
			return &evs[i]
		}
	}
	return nil
}

// The audit log records a member's deploy, an owner's change with its
// field diff, env changes by key only, sign-ins (and failed ones),
// secret reveals, each with its actor, address, action and project; a
// member sees their projects' events only, in the page, the API and the
// export.
func TestAudit_RecordsChangesAndFiltersByProject(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	a := tm.a
	ctx := context.Background()
	owner, err := a.store.UserByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	_, ownerToken, err := a.store.CreateAPIToken(ctx, owner.ID, "owner-ci", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}

	// The member deploys in A from the page.
	tm.member.postHTMX(fmt.Sprintf("/apps/%d/deploy", tm.appA.ID), url.Values{})
	// The owner changes A's replicas through the API, and B's.
	res, _ := a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", tm.appA.ID), ownerToken, map[string]any{"replicas": 3})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", tm.appB.ID), ownerToken, map[string]any{"replicas": 2})
	wantStatus(t, res, http.StatusOK)
	// Env: set, then change the value and add a key.
	envURL := fmt.Sprintf("/api/v1/applications/%d/env", tm.appA.ID)
	res, _ = a.apiJSON(http.MethodPut, envURL, ownerToken, map[string]any{"env": map[string]string{"API_KEY": "hunter2-first"}})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodPut, envURL, ownerToken, map[string]any{"env": map[string]string{"API_KEY": "hunter2-second", "MODE": "prod"}})
	wantStatus(t, res, http.StatusOK)
	// Reveals: the page's one value, the API's all.
	wantStatus(t, tm.owner.postHTMX(fmt.Sprintf("/apps/%d/env/reveal", tm.appA.ID), url.Values{"key": {"API_KEY"}}), http.StatusOK)
	res, _ = a.apiJSON(http.MethodGet, envURL+"?reveal=true", ownerToken, nil)
	wantStatus(t, res, http.StatusOK)
	// A wrong password, then the right one.
	b := a.browser()
	wantStatus(t, b.postForm("/login", url.Values{"email": {"member@example.com"}, "password": {"not-the-password"}}), http.StatusUnauthorized)
	wantStatus(t, b.postForm("/login", url.Values{"email": {"member@example.com"}, "password": {adminPassword}}), http.StatusSeeOther)

	all := auditEvents(t, a, ownerToken, "")
	deploy := findEvent(all, "app.deploy", "member@example.com")
	if deploy == nil || deploy.ProjectID == nil || *deploy.ProjectID != tm.projA.ID || deploy.ActorType != db.ActorUser ||
		deploy.IP != "127.0.0.1" || deploy.Route != "POST /apps/:id/deploy" || deploy.Resource != "service" || *deploy.ResourceID != tm.appA.ID || deploy.RequestID == "" {
		t.Errorf("member's deploy: %+v", deploy)
	}
	update := findEvent(all, "app.update", adminEmail)
	if update == nil || update.ActorType != db.ActorToken || update.ActorTokenName != "owner-ci" || update.Route != "PATCH /api/v1/applications/:id" {
		t.Fatalf("owner's update: %+v", update)
	}
	for _, e := range all { // the newest update is B's; A's is the older one
		if e.Action == "app.update" && *e.ProjectID == tm.projA.ID {
			update = &e
			break
		}
	}
	if raw, _ := json.Marshal(update.Changes); string(raw) != `{"replicas":{"new":3,"old":1}}` {
		t.Errorf("update's changes: %s", raw)
	}
	env := findEvent(all, "app.env.update", adminEmail)
	if raw, _ := json.Marshal(env.Changes); env == nil || string(raw) != `{"env.API_KEY":"changed","env.MODE":"added"}` {
		t.Errorf("env change: %s", raw)
	}
	var stored string
	if err := a.store.DB().Get(&stored, `SELECT string_agg(coalesce(changes::text, '') || detail || route, ' ') FROM audit_events`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "hunter2") || strings.Contains(stored, "not-the-password") || strings.Contains(stored, adminPassword) {
		t.Errorf("a secret is stored in the audit log: %s", stored)
	}
	reveals := 0
	for _, e := range all {
		if e.Action == "secret.reveal" && e.ActorEmail == adminEmail && e.ProjectID != nil && *e.ProjectID == tm.projA.ID {
			reveals++
		}
	}
	if reveals != 2 {
		t.Errorf("want 2 secret reveals in A (page and API), got %d", reveals)
	}
	failed := findEvent(all, "sign_in.failed", "member@example.com")
	if failed == nil || failed.Status != http.StatusUnauthorized || failed.IP != "127.0.0.1" || failed.ActorUserID == nil || *failed.ActorUserID != tm.memberID {
		t.Errorf("failed sign-in: %+v", failed)
	}
	if e := findEvent(all, "sign_in", "member@example.com"); e == nil || e.ProjectID != nil {
		t.Errorf("sign-in: %+v", e)
	}

	// The member sees A's events and their own sign-ins, never B's.
	mine := auditEvents(t, a, tm.memberToken, "")
	if findEvent(mine, "app.deploy", "member@example.com") == nil || findEvent(mine, "sign_in", "member@example.com") == nil ||
		findEvent(mine, "app.env.update", adminEmail) == nil {
		t.Errorf("member's audit misses A's events: %d events", len(mine))
	}
	for _, e := range mine {
		if e.ProjectID != nil && *e.ProjectID == tm.projB.ID || e.ProjectID == nil && e.ActorEmail != "member@example.com" {
			t.Errorf("member sees an event that is not theirs: %+v", e)
		}
	}
	if f := auditEvents(t, a, tm.memberToken, fmt.Sprintf("project=%d", tm.projB.ID)); len(f) != 0 {
		t.Errorf("member filtering on B: %d events", len(f))
	}
	if f := auditEvents(t, a, ownerToken, "action=sign_in&user=member@example.com"); len(f) < 2 {
		t.Errorf("filter by action and user: %d events", len(f))
	}
	page := tm.member.get("/audit")
	wantStatus(t, page, http.StatusOK)
	text := uiText(t, page)
	if !strings.Contains(text, "app.deploy") || strings.Contains(text, "bravo") || strings.Contains(page.Body, "hunter2") {
		t.Errorf("member's audit page: %s", text)
	}
	if page.doc(t).Find(`header nav a[href="/audit"].active`).Length() != 1 {
		t.Error("no active Audit link in the navigation")
	}

	// The export has the same events as the API, one JSON object a line.
	exp := tm.owner.get("/audit/export.jsonl")
	wantStatus(t, exp, http.StatusOK)
	var lines []db.AuditEvent
	sc := bufio.NewScanner(strings.NewReader(exp.Body))
	for sc.Scan() {
		var e db.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	now := auditEvents(t, a, ownerToken, "")
	if len(lines) == 0 || len(lines) > len(now) {
		t.Fatalf("export has %d lines, the API %d events", len(lines), len(now))
	}
	for i := range lines { // the API's list may have grown by the export's own... nothing: GETs are not recorded
		if lines[i].ID != now[i].ID || lines[i].Action != now[i].Action {
			t.Errorf("line %d: %d %s, API %d %s", i, lines[i].ID, lines[i].Action, now[i].ID, now[i].Action)
		}
	}
	res, _ = a.apiJSON(http.MethodGet, "/api/v1/audit/export", tm.memberToken, nil)
	wantStatus(t, res, http.StatusOK)
	if strings.Contains(res.Body, fmt.Sprintf(`"project_id":%d`, tm.projB.ID)) {
		t.Error("member's export has B's events")
	}

	// The live poll returns what is newer than the newest row shown.
	newest := now[0].ID
	poll := tm.owner.do(withHTMX(tm.owner.newRequest(http.MethodGet, fmt.Sprintf("/audit?after=%d", newest), nil)))
	wantStatus(t, poll, http.StatusNoContent)
	res, _ = a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/stop", tm.appA.ID), ownerToken, nil)
	poll = tm.owner.do(withHTMX(tm.owner.newRequest(http.MethodGet, fmt.Sprintf("/audit?after=%d", newest), nil)))
	wantStatus(t, poll, http.StatusOK)
	if !strings.Contains(poll.Body, "app.stop") || !strings.Contains(poll.Body, `hx-swap-oob="afterbegin:#audit-rows"`) {
		t.Errorf("poll after a stop (%d): %s", res.Code, poll.Body)
	}
}

func withHTMX(r *http.Request) *http.Request {
	r.Header.Set("HX-Request", "true")
	return r
}
