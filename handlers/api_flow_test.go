package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"dokploy/e2e/testkit"
)

// TestAPIFlow_ProjectAppDeployLogs drives a whole workflow the way a CI
// script does: only /api/v1 calls with a token, no browser and no store.
func TestAPIFlow_ProjectAppDeployLogs(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	if err := app.h.Runner.StartWorker(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.h.Runner.StopWorker)
	bootstrap := app.apiToken()
	call := func(token, method, path string, body any, want int) map[string]any {
		t.Helper()
		res, out := app.apiJSON(method, path, token, body)
		if res.Code != want {
			t.Fatalf("%s %s: want %d, got %d: %s", method, path, want, res.Code, res.Body)
		}
		return out
	}
	id := func(m map[string]any) int64 {
		t.Helper()
		v, ok := m["id"].(float64)
		if !ok {
			t.Fatalf("no id in %v", m)
		}
		return int64(v)
	}

	// A token for CI, made through the API; the rest runs on it.
	tok := call(bootstrap, "POST", "/api/v1/tokens", map[string]any{"name": "ci"}, http.StatusCreated)
	token, _ := tok["token"].(string)
	if !strings.HasPrefix(token, "dkp_") {
		t.Fatalf("created token: %v", tok)
	}
	list := call(token, "GET", "/api/v1/tokens", nil, http.StatusOK)
	if items, _ := list["items"].([]any); len(items) != 2 {
		t.Fatalf("tokens: %v", list)
	}

	project := call(token, "POST", "/api/v1/projects", map[string]any{"name": "flow"}, http.StatusCreated)
	pid := id(project)
	env := call(token, "POST", fmt.Sprintf("/api/v1/projects/%d/environments", pid), map[string]any{"name": "staging"}, http.StatusCreated)
	call(token, "POST", fmt.Sprintf("/api/v1/projects/%d/environments", pid), map[string]any{"name": "staging"}, http.StatusConflict)
	envs := call(token, "GET", fmt.Sprintf("/api/v1/projects/%d/environments?limit=1&offset=1", pid), nil, http.StatusOK)
	if items, _ := envs["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "staging" || envs["total"] != float64(2) {
		t.Fatalf("environments page: %v", envs)
	}
	call(token, "PATCH", fmt.Sprintf("/api/v1/projects/%d/environments/%d", pid, id(env)), map[string]any{"name": "preview"}, http.StatusOK)
	call(token, "PATCH", fmt.Sprintf("/api/v1/projects/%d", pid), map[string]any{"name": "flow-renamed"}, http.StatusOK)
	if got := call(token, "GET", fmt.Sprintf("/api/v1/projects/%d", pid), nil, http.StatusOK); got["name"] != "flow-renamed" {
		t.Fatalf("renamed project: %v", got)
	}

	body := gitAppBody(pid, "flow-web")
	body["environment"] = "preview"
	body["source"].(map[string]any)["url"] = closedGitURL(t)
	created := call(token, "POST", "/api/v1/applications", body, http.StatusCreated)
	appID := id(created)
	if u, _ := created["webhook_url"].(string); !strings.HasPrefix(u, "http://dokploy.test/api/deploy/") {
		t.Errorf("webhook_url: %v", created["webhook_url"])
	}
	res, out := app.apiJSON("POST", "/api/v1/applications", token, body)
	wantAPIError(t, res, out, http.StatusConflict, "app_name")

	put := call(token, "PUT", fmt.Sprintf("/api/v1/applications/%d/env", appID), map[string]any{"env": map[string]string{"A": "1", "B": "two", "C": ""}}, http.StatusOK)
	masked := call(token, "GET", fmt.Sprintf("/api/v1/applications/%d/env", appID), nil, http.StatusOK)
	for _, got := range []map[string]any{put, masked} {
		if fmt.Sprint(got["env"]) != "map[A:******** B:******** C:]" {
			t.Fatalf("env without reveal must be masked: %v", got)
		}
	}
	envVars := call(token, "GET", fmt.Sprintf("/api/v1/applications/%d/env?reveal=true", appID), nil, http.StatusOK)
	if fmt.Sprint(envVars["env"]) != "map[A:1 B:two C:]" {
		t.Fatalf("env: %v", envVars)
	}
	res, out = app.apiJSON("PUT", fmt.Sprintf("/api/v1/applications/%d/env", appID), token, map[string]any{"env": map[string]string{"1BAD": "x"}})
	wantAPIError(t, res, out, http.StatusUnprocessableEntity, "env")

	// Deploy, poll to a final status, read the log.
	dep := call(token, "POST", fmt.Sprintf("/api/v1/applications/%d/deploy", appID), nil, http.StatusAccepted)
	depID := id(dep)
	var final map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for {
		final = call(token, "GET", fmt.Sprintf("/api/v1/deployments/%d", depID), nil, http.StatusOK)
		if s := final["status"]; s == "done" || s == "error" || s == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment did not finish: %v", final)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if final["status"] != "error" || final["error"] == "" {
		t.Errorf("a deployment from an unreachable repository must fail with a reason: %v", final)
	}
	res, _ = app.apiJSON("GET", fmt.Sprintf("/api/v1/deployments/%d/logs", depID), token, nil)
	wantStatus(t, res, http.StatusOK)
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("logs content type: %s", res.Header.Get("Content-Type"))
	}
	testkit.MustContain(t, res.Body, fmt.Sprintf("Deployment #%d", depID), "ERROR")

	call(token, "POST", fmt.Sprintf("/api/v1/applications/%d/deploy", appID), nil, http.StatusAccepted)
	page := call(token, "GET", fmt.Sprintf("/api/v1/applications/%d/deployments?limit=1&offset=1", appID), nil, http.StatusOK)
	if items, _ := page["items"].([]any); len(items) != 1 || id(items[0].(map[string]any)) != depID {
		t.Fatalf("deployments page 2 of size 1 should hold the first deployment: %v", page)
	}

	// Clean-up through the API, in the order the API enforces.
	call(token, "DELETE", fmt.Sprintf("/api/v1/projects/%d", pid), nil, http.StatusConflict)
	waitQueueIdle(t, app.store, appID, time.Minute)
	call(token, "DELETE", fmt.Sprintf("/api/v1/applications/%d", appID), nil, http.StatusNoContent)
	call(token, "DELETE", fmt.Sprintf("/api/v1/projects/%d/environments/%d", pid, id(env)), nil, http.StatusNoContent)
	call(token, "DELETE", fmt.Sprintf("/api/v1/projects/%d", pid), nil, http.StatusNoContent)
	call(token, "GET", fmt.Sprintf("/api/v1/projects/%d", pid), nil, http.StatusNotFound)

	// Revoking the CI token locks it out at once.
	call(bootstrap, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", id(tok)), nil, http.StatusNoContent)
	res, out = app.apiJSON("GET", "/api/v1/projects", token, nil)
	wantAPIError(t, res, out, http.StatusUnauthorized, "")
}
