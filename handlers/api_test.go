package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/docker"
	"dokploy/views"

	"dokploy/e2e/testkit"
)

// apiToken sets up the admin and returns an API token for them.
func (a *testApp) apiToken() string {
	a.t.Helper()
	a.setupAdmin()
	u, err := a.store.UserByEmail(context.Background(), adminEmail)
	if err != nil {
		a.t.Fatal(err)
	}
	_, token, err := a.store.CreateAPIToken(context.Background(), u.ID, "test", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		a.t.Fatal(err)
	}
	return token
}

func wantAPIError(t *testing.T, res *response, body map[string]any, status int, field string) {
	t.Helper()
	if res.Code != status {
		t.Fatalf("want %d, got %d: %s", status, res.Code, res.Body)
	}
	if msg, _ := body["error"].(string); msg == "" {
		t.Errorf("no error message in %s", res.Body)
	}
	if got, _ := body["field"].(string); got != field {
		t.Errorf("want field %q, got %q (%s)", field, got, res.Body)
	}
}

func TestAPI_Projects(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()

	res, body := app.apiJSON(http.MethodGet, "/api/v1/projects", token, nil)
	wantStatus(t, res, http.StatusOK)
	if items, ok := body["items"].([]any); !ok || len(items) != 0 {
		t.Fatalf("empty list must be [] not null: %s", res.Body)
	}

	res, body = app.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": "shop"})
	wantStatus(t, res, http.StatusCreated)
	if body["name"] != "shop" || body["id"] == nil {
		t.Fatalf("created project: %s", res.Body)
	}
	res, body = app.apiJSON(http.MethodGet, "/api/v1/projects", token, nil)
	wantStatus(t, res, http.StatusOK)
	items, _ := body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["name"] != "shop" {
		t.Fatalf("list: %s", res.Body)
	}
	testkit.MustContain(t, res.Body, `"production"`)

	res, body = app.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": "shop"})
	wantAPIError(t, res, body, http.StatusConflict, "name")
	res, body = app.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": "a;rm -rf /"})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "name")
	res, body = app.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": "x", "owner": "me"})
	wantAPIError(t, res, body, http.StatusBadRequest, "owner")
	res, body = app.apiJSON(http.MethodPost, "/api/v1/projects", token, `{"name":`)
	wantAPIError(t, res, body, http.StatusBadRequest, "")
	res, body = app.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": 5})
	wantAPIError(t, res, body, http.StatusBadRequest, "name")
	if app.count("projects") != 1 {
		t.Fatalf("refused requests wrote projects: %d", app.count("projects"))
	}
}

// gitAppBody is the documented body of POST /api/v1/applications.
func gitAppBody(projectID any, appName string) map[string]any {
	return map[string]any{
		"project_id":  projectID,
		"environment": "production",
		"name":        "Shop web",
		"app_name":    appName,
		"source": map[string]any{
			"type": "git", "url": "https://github.com/example/shop.git", "branch": "main",
			"context": ".", "dockerfile": "Dockerfile", "token": "ghp_api_secret_token_1",
		},
		"port":     3000,
		"env":      map[string]string{"NODE_ENV": "production", "DB_PASSWORD": "api-db-secret"},
		"replicas": 1,
	}
}

func TestAPI_CreateGetPatchDeleteApp(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	p := app.createProject("shop")

	res, body := app.apiJSON(http.MethodPost, "/api/v1/applications", token, gitAppBody(p.ID, "shop-web"))
	wantStatus(t, res, http.StatusCreated)
	if body["status"] != "idle" || body["app_name"] != "shop-web" || body["environment"] != "production" {
		t.Fatalf("created app: %s", res.Body)
	}
	testkit.MustNotContain(t, res.Body, "ghp_api_secret_token_1", "api-db-secret")
	src, _ := body["source"].(map[string]any)
	if src["type"] != "git" || src["token_set"] != true || src["branch"] != "main" {
		t.Errorf("source: %v", src)
	}
	if keys, _ := body["env_keys"].([]any); len(keys) != 2 || keys[0] != "DB_PASSWORD" {
		t.Errorf("env_keys: %v", body["env_keys"])
	}
	id := int64(body["id"].(float64))
	a, err := app.store.App(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := app.store.AppSecrets(a); s.GitToken != "ghp_api_secret_token_1" {
		t.Errorf("token not stored: %q", s.GitToken)
	}

	// An image app in the same request shape.
	res, body = app.apiJSON(http.MethodPost, "/api/v1/applications", token, map[string]any{
		"project_id": p.ID, "name": "Cache", "app_name": "cache",
		"source": map[string]any{"type": "image", "image": "redis:7",
			"registry": map[string]any{"server": "ghcr.io", "username": "bot", "password": "reg-secret-pw"}},
		"port": 6379, "ports": []map[string]any{{"published": 16379, "target": 6379}},
	})
	wantStatus(t, res, http.StatusCreated)
	testkit.MustNotContain(t, res.Body, "reg-secret-pw")
	imageID := int64(body["id"].(float64))

	res, body = app.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d", id), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["name"] != "Shop web" {
		t.Errorf("get: %s", res.Body)
	}
	res, body = app.apiJSON(http.MethodGet, "/api/v1/applications", token, nil)
	wantStatus(t, res, http.StatusOK)
	if items, _ := body["items"].([]any); len(items) != 2 {
		t.Errorf("list: %s", res.Body)
	}

	res, body = app.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", id), token, map[string]any{
		"port": 8080, "source": map[string]any{"branch": "develop"},
	})
	wantStatus(t, res, http.StatusOK)
	if body["port"] != float64(8080) || body["source"].(map[string]any)["branch"] != "develop" {
		t.Errorf("patch result: %s", res.Body)
	}
	got, _ := app.store.App(context.Background(), id)
	if got.Port != 8080 || got.GitBranch != "develop" || got.GitURL != "https://github.com/example/shop.git" || got.Name != "Shop web" {
		t.Errorf("patch must change only what was sent: %+v", got)
	}
	if s, _ := app.store.AppSecrets(got); s.GitToken != "ghp_api_secret_token_1" {
		t.Errorf("patch without token cleared it: %q", s.GitToken)
	}
	res, body = app.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", id), token, map[string]any{"port": 0})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "port")
	res, body = app.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", id), token, map[string]any{"app_name": "renamed"})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "app_name")
	res, body = app.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", id), token, map[string]any{"colour": "red"})
	wantAPIError(t, res, body, http.StatusBadRequest, "colour")
	if got, _ := app.store.App(context.Background(), id); got.Port != 8080 {
		t.Errorf("refused patch changed the port to %d", got.Port)
	}

	// Never-deployed apps have no service; deleting them must still work.
	for _, appID := range []int64{id, imageID} {
		res, _ = app.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/applications/%d", appID), token, nil)
		wantStatus(t, res, http.StatusNoContent)
		res, body = app.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d", appID), token, nil)
		wantAPIError(t, res, body, http.StatusNotFound, "")
	}
	if app.count("applications") != 0 || app.count("service_variables") != 0 || app.count("service_ports") != 0 {
		t.Fatal("delete left rows behind")
	}
	res, body = app.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/applications/%d", id), token, nil)
	wantAPIError(t, res, body, http.StatusNotFound, "")
}

func TestAPI_CreateAppRejectsBadInput(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	p := app.createProject("shop")

	res, body := app.apiJSON(http.MethodPost, "/api/v1/applications", token, gitAppBody(p.ID, "web"))
	wantStatus(t, res, http.StatusCreated)
	if body["app_name"] != "web" {
		t.Fatalf("created app: %v", body)
	}
	res, body = app.apiJSON(http.MethodPost, "/api/v1/applications", token, gitAppBody(p.ID, "web"))
	wantAPIError(t, res, body, http.StatusConflict, "app_name")

	unknown := gitAppBody(p.ID, "web2")
	unknown["dockerfile_inline"] = "FROM scratch"
	res, body = app.apiJSON(http.MethodPost, "/api/v1/applications", token, unknown)
	wantAPIError(t, res, body, http.StatusBadRequest, "dockerfile_inline")

	set := func(mutate func(map[string]any)) map[string]any {
		b := gitAppBody(p.ID, "web2")
		mutate(b)
		return b
	}
	source := func(b map[string]any) map[string]any { return b["source"].(map[string]any) }
	cases := []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"bad app_name", set(func(b map[string]any) { b["app_name"] = "Web_2" }), 422, "app_name"},
		{"shell in name", set(func(b map[string]any) { b["name"] = "`id`" }), 422, "name"},
		{"git url option", set(func(b map[string]any) { source(b)["url"] = "--upload-pack=x" }), 422, "git_url"},
		{"git url ext", set(func(b map[string]any) { source(b)["url"] = "ext::sh" }), 422, "git_url"},
		{"branch dots", set(func(b map[string]any) { source(b)["branch"] = "a..b" }), 422, "git_branch"},
		{"dockerfile escape", set(func(b map[string]any) { source(b)["dockerfile"] = "../x" }), 422, "git_dockerfile"},
		{"absolute context", set(func(b map[string]any) { source(b)["context"] = "/etc" }), 422, "git_context"},
		{"unknown source", set(func(b map[string]any) { source(b)["type"] = "svn" }), 422, "source_type"},
		{"bad image", set(func(b map[string]any) { source(b)["type"] = "image"; source(b)["image"] = "UPPER CASE" }), 422, "image"},
		{"port zero", set(func(b map[string]any) { b["port"] = 0 }), 422, "port"},
		{"port too high", set(func(b map[string]any) { b["port"] = 70000 }), 422, "port"},
		{"port as string", set(func(b map[string]any) { b["port"] = "80" }), 400, "port"},
		{"bad env key", set(func(b map[string]any) { b["env"] = map[string]string{"BAD-KEY": "x"} }), 422, "env"},
		{"reserved published port", set(func(b map[string]any) { b["ports"] = []map[string]any{{"published": 443, "target": 80}} }), 422, "ports"},
		{"missing project", set(func(b map[string]any) { delete(b, "project_id") }), 422, "project_id"},
		{"unknown project", set(func(b map[string]any) { b["project_id"] = 999999 }), 422, "environment"},
		{"unknown environment", set(func(b map[string]any) { b["environment"] = "staging" }), 422, "environment"},
		{"unknown source field", set(func(b map[string]any) { source(b)["shell"] = "sh" }), 400, "shell"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := app.apiJSON(http.MethodPost, "/api/v1/applications", token, tc.body)
			wantAPIError(t, res, body, tc.status, tc.field)
		})
	}
	if n := app.count("applications"); n != 1 {
		t.Fatalf("refused requests wrote apps: %d rows", n)
	}
	if n := app.count("service_variables"); n != 2 {
		t.Fatalf("refused requests wrote variables: %d rows", n)
	}
}

func TestAPI_UnknownRoutesAndIDs(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	for _, path := range []string{"/api/v1/applications/999", "/api/v1/applications/abc", "/api/v1/deployments/5"} {
		res, body := app.apiJSON(http.MethodGet, path, token, nil)
		wantAPIError(t, res, body, http.StatusNotFound, "")
	}
}

func TestHealth_ReportsEveryComponent(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	res, body := app.apiJSON(http.MethodGet, "/api/health", "", nil)
	wantStatus(t, res, http.StatusOK)
	if body["status"] != "ok" {
		t.Errorf("status: %s", res.Body)
	}
	comps, _ := body["components"].(map[string]any)
	for _, name := range []string{"postgres", "redis", "docker"} {
		c, _ := comps[name].(map[string]any)
		if c["ok"] != true {
			t.Errorf("%s not ok: %v", name, c)
		}
	}
	if !strings.Contains(res.Body, `"swarm_active":true`) {
		t.Errorf("docker swarm state missing: %s", res.Body)
	}
	testkit.MustNotContain(t, res.Body, "dokploy:", "password")
	if _, ok := body["version"]; ok {
		t.Errorf("anonymous health names the version: %s", res.Body)
	}

	// A valid token sees the details; an invalid one is just anonymous.
	res, body = app.apiJSON(http.MethodGet, "/api/health", app.apiToken(), nil)
	wantStatus(t, res, http.StatusOK)
	if body["version"] == nil {
		t.Errorf("token caller gets no version: %s", res.Body)
	}
	res, body = app.apiJSON(http.MethodGet, "/api/health", "not-a-token", nil)
	wantStatus(t, res, http.StatusOK)
	if _, ok := body["version"]; ok {
		t.Errorf("invalid token sees the version: %s", res.Body)
	}
}

// A dependency that is down is named to anyone, but why (the error text,
// which can name hosts and ports) only to a caller with a valid token.
func TestHealth_AnonymousGetsNoErrorText(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	deadRedis := &redis.Pool{Dial: func() (redis.Conn, error) { return redis.Dial("tcp", "127.0.0.1:1") }}
	dk, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	runner := jobs.NewRunner(jobs.Options{Store: app.store, Redis: deadRedis, Docker: dk, Namespace: "health-test"})
	renderer, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{PublicURL: "http://dokploy.test", Version: "test"}, app.store, renderer, runner).Router())
	t.Cleanup(srv.Close)
	get := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/health", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	code, body := get("")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"down":["redis"]`) {
		t.Errorf("anonymous: want 503 naming redis down, got %d %s", code, body)
	}
	testkit.MustNotContain(t, body, `"error"`, "127.0.0.1:1")
	code, body = get(token)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "127.0.0.1:1") {
		t.Errorf("token caller: want 503 with the reason, got %d %s", code, body)
	}
}
