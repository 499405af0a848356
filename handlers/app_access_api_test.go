package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"dokploy/db"
)

// The per-app access options (basic auth, redirects, headers) and the
// deploy settings work through the API as they do in the UI, and each
// change reaches the app's Traefik file without a redeploy.
func TestAPI_AccessOptionsReachTraefikFile(t *testing.T) {
	a := newRoutingApp(t)
	b := a.setupAdmin()
	_, token, err := a.store.CreateAPIToken(context.Background(), 1, "ci", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	app := a.CreateApp("access-api")
	a.AddDomain(app, db.Domain{Host: "access.example.com"})
	base := fmt.Sprintf("/api/v1/applications/%d", app.ID)

	res, body := b.apiJSON(http.MethodPost, base+"/basic-auth", token, map[string]any{"username": "alice", "password": "correct horse"})
	if res.Code != http.StatusCreated || body["username"] != "alice" {
		t.Fatalf("add user: %d %s", res.Code, res.Body)
	}
	if f := a.File("access-api"); !strings.Contains(f, "basicAuth") || !strings.Contains(f, "alice:$2") || strings.Contains(f, "correct horse") {
		t.Fatalf("Traefik file after adding a user:\n%s", f)
	}
	res, _ = b.apiJSON(http.MethodPost, base+"/basic-auth", token, map[string]any{"username": "alice", "password": "another one"})
	if res.Code != http.StatusConflict {
		t.Errorf("duplicate user: %d %s", res.Code, res.Body)
	}
	res, body = b.apiJSON(http.MethodPost, base+"/basic-auth", token, map[string]any{"username": "bob", "password": "short"})
	if res.Code != http.StatusUnprocessableEntity || body["field"] != "password" {
		t.Errorf("short password: %d %s", res.Code, res.Body)
	}
	res, _ = b.apiJSON(http.MethodGet, base+"/basic-auth", token, nil)
	if res.Code != http.StatusOK || !strings.Contains(res.Body, `"alice"`) || strings.Contains(res.Body, "$2") {
		t.Errorf("list users must not show hashes: %d %s", res.Code, res.Body)
	}

	res, body = b.apiJSON(http.MethodPost, base+"/redirects", token, map[string]any{
		"regex": `^https?://www\.access\.example\.com/(.*)`, "replacement": "https://access.example.com/${1}", "permanent": true})
	if res.Code != http.StatusCreated || body["permanent"] != true || body["id"] == nil {
		t.Fatalf("add redirect: %d %s", res.Code, res.Body)
	}
	if f := a.File("access-api"); !strings.Contains(f, "redirectRegex") {
		t.Fatalf("Traefik file after adding a redirect:\n%s", f)
	}
	res, _ = b.apiJSON(http.MethodPost, base+"/redirects", token, map[string]any{"regex": "([", "replacement": "x"})
	if res.Code != http.StatusUnprocessableEntity {
		t.Errorf("bad regex: %d %s", res.Code, res.Body)
	}

	res, _ = b.apiJSON(http.MethodPut, base+"/headers", token, map[string]any{
		"response": map[string]string{"X-Frame-Options": "DENY"}, "request": map[string]string{"X-Env": "prod"}})
	if res.Code != http.StatusOK || !strings.Contains(res.Body, "DENY") {
		t.Fatalf("put headers: %d %s", res.Code, res.Body)
	}
	if f := a.File("access-api"); !strings.Contains(f, "X-Frame-Options") || !strings.Contains(f, "X-Env") {
		t.Fatalf("Traefik file after setting headers:\n%s", f)
	}
	res, _ = b.apiJSON(http.MethodPut, base+"/headers", token, map[string]any{"response": map[string]string{"Bad\nName": "x"}})
	if res.Code != http.StatusUnprocessableEntity {
		t.Errorf("header with a line break: %d %s", res.Code, res.Body)
	}

	// Removing the user and the redirect takes them out of the file.
	users, _ := a.store.AppBasicAuth(context.Background(), app.ID)
	res, _ = b.apiJSON(http.MethodDelete, fmt.Sprintf("%s/basic-auth/%d", base, users[0].ID), token, nil)
	if res.Code != http.StatusOK || strings.Contains(a.File("access-api"), "basicAuth") {
		t.Errorf("delete user: %d %s\n%s", res.Code, res.Body, a.File("access-api"))
	}

	res, body = b.apiJSON(http.MethodPost, base+"/deploy-key", token, nil)
	if res.Code != http.StatusOK || !strings.HasPrefix(fmt.Sprint(body["public_key"]), "ssh-ed25519 ") {
		t.Errorf("deploy key: %d %s", res.Code, res.Body)
	}
}

func TestAPI_DeploySettings(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	_, token, err := a.store.CreateAPIToken(context.Background(), 1, "ci", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	res, body := b.apiJSON(http.MethodGet, "/api/v1/settings/deploy", token, nil)
	if res.Code != http.StatusOK || body["deploy_concurrency"] != float64(1) || body["timeout_build"] != "30m" {
		t.Fatalf("defaults: %d %s", res.Code, res.Body)
	}
	res, body = b.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{"deploy_concurrency": 2, "timeout_build": "45m", "image_retention": 5})
	if res.Code != http.StatusOK || body["deploy_concurrency"] != float64(2) || body["timeout_build"] != "45m" || body["image_retention"] != float64(5) {
		t.Fatalf("patch: %d %s", res.Code, res.Body)
	}
	for _, bad := range []map[string]any{{"deploy_concurrency": 0}, {"timeout_build": "2s"}, {"image_retention": 1000}, {"timeout_pull": "soon"}} {
		res, _ := b.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, bad)
		if res.Code != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d %s", bad, res.Code, res.Body)
		}
	}
	if l, _ := a.store.DeployLimits(context.Background()); l.Build.String() != "45m0s" || l.ImageRetention != 5 {
		t.Errorf("stored limits: %+v", l)
	}
}
