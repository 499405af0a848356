package handlers

import (
	"context"
	"dokploy/db"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAPI_LogSettings(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	_, token, err := a.store.CreateAPIToken(context.Background(), 1, "ci", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	res, body := b.apiJSON(http.MethodGet, "/api/v1/settings/logs", token, nil)
	if res.Code != http.StatusOK || body["max_size"] != "10m" || body["max_file"] != float64(3) {
		t.Fatalf("defaults: %d %s", res.Code, res.Body)
	}
	res, body = b.apiJSON(http.MethodPatch, "/api/v1/settings/logs", token, map[string]any{"max_size": "5m", "max_file": 2})
	if res.Code != http.StatusOK || body["max_size"] != "5m" || body["max_file"] != float64(2) {
		t.Fatalf("patch: %d %s", res.Code, res.Body)
	}
	for _, bad := range []map[string]any{{"max_size": "10"}, {"max_size": "0m"}, {"max_size": "ten"}, {"max_file": 0}, {"max_file": 101}} {
		res, _ := b.apiJSON(http.MethodPatch, "/api/v1/settings/logs", token, bad)
		if res.Code != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d %s", bad, res.Code, res.Body)
		}
		for field := range bad {
			if !strings.Contains(res.Body, field) {
				t.Errorf("%v: the error does not name %s: %s", bad, field, res.Body)
			}
		}
	}
	if l, _ := a.store.DeployLimits(context.Background()); l.LogMaxSize != "5m" || l.LogMaxFile != 2 {
		t.Errorf("stored: %+v", l)
	}
}

func TestAPI_ServiceLogsValidation(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	_, token, err := a.store.CreateAPIToken(context.Background(), 1, "ci", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	app := a.createImageApp(a.createProject("shop"), "web")
	base := fmt.Sprintf("/api/v1/services/app/%d/logs", app.ID)
	for path, want := range map[string]int{
		"/api/v1/services/volume/1/logs":             http.StatusNotFound,
		"/api/v1/services/app/999999/logs":           http.StatusNotFound,
		"/api/v1/services/database/999999/logs":      http.StatusNotFound,
		"/api/v1/services/compose/999999/logs":       http.StatusNotFound,
		"/api/v1/services/app/abc/logs":              http.StatusNotFound,
		base + "?tail=0":                             http.StatusUnprocessableEntity,
		base + "?tail=10001":                         http.StatusUnprocessableEntity,
		base + "?since=yesterday":                    http.StatusUnprocessableEntity,
		base + "?regex=1&q=" + url.QueryEscape("(a"): http.StatusUnprocessableEntity,
		base + "?q=" + strings.Repeat("a", 201):      http.StatusUnprocessableEntity,
		base + "?replica=x":                          http.StatusUnprocessableEntity,
		base + "?timestamps=maybe":                   http.StatusUnprocessableEntity,
		base + "?download=yes":                       http.StatusUnprocessableEntity,
	} {
		res, body := b.apiJSON(http.MethodGet, path, token, nil)
		if res.Code != want {
			t.Errorf("%s: %d, want %d: %s", path, res.Code, want, res.Body)
			continue
		}
		if body == nil {
			t.Errorf("%s: not JSON: %s", path, res.Body)
		}
		if want == http.StatusUnprocessableEntity {
			q, _ := url.ParseQuery(path[strings.Index(path, "?")+1:])
			named := false
			for field := range q {
				named = named || strings.Contains(res.Body, field)
			}
			if !named {
				t.Errorf("%s: the error names no field: %s", path, res.Body)
			}
		}
	}
}

func TestPages_LogSettingsForm(t *testing.T) {
	a := newTestApp(t)
	b := a.setupAdmin()
	res := b.get("/settings/logs")
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(res.Body, `value="10m"`) {
		t.Errorf("defaults: %s", res.Body)
	}
	res = b.postHTMX("/settings/logs", url.Values{"max_size": {"huge"}, "max_file": {"3"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if !strings.Contains(res.Body, "512k, 10m or 1g") {
		t.Errorf("bad size: %s", res.Body)
	}
	res = b.postHTMX("/settings/logs", url.Values{"max_size": {"20m"}, "max_file": {"5"}})
	wantStatus(t, res, http.StatusOK)
	if l, _ := a.store.DeployLimits(context.Background()); l.LogMaxSize != "20m" || l.LogMaxFile != 5 {
		t.Errorf("stored: %+v", l)
	}
}
