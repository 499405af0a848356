package traefik

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// fakeAPI serves /api/http/routers like Traefik v3.6: paginated with
// page/per_page and an X-Next-Page header that is 1 on the last page.
func fakeAPI(t *testing.T, routers []map[string]any) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" {
			_, _ = w.Write([]byte("OK"))
			return
		}
		if r.URL.Path != "/api/http/routers" {
			http.NotFound(w, r)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
		}
		perPage := 2 // small, to force pagination
		start := (page - 1) * perPage
		if start > 0 && start >= len(routers) {
			http.Error(w, "invalid request: page", http.StatusBadRequest)
			return
		}
		end := min(start+perPage, len(routers))
		next := 1
		if page*perPage < len(routers) {
			next = page + 1
		}
		w.Header().Set("X-Next-Page", strconv.Itoa(next))
		_ = json.NewEncoder(w).Encode(routers[start:end])
	}))
}

var sampleRouters = []map[string]any{
	{"entryPoints": []string{"traefik"}, "service": "api@internal", "rule": "PathPrefix(`/api`)", "priority": 9223372036854775806, "status": "enabled", "using": []string{"traefik"}, "name": "api@internal", "provider": "internal"},
	{"entryPoints": []string{"web"}, "service": "shop-svc-3000", "rule": "Host(`shop.example.com`)", "status": "enabled", "using": []string{"web"}, "name": "shop-d1-web@file", "provider": "file"},
	{"entryPoints": []string{"websecure"}, "middlewares": []string{"shop-auth"}, "service": "shop-svc-3000", "rule": "Host(`shop.example.com`)", "tls": map[string]any{"certResolver": "letsencrypt", "options": "default"}, "status": "enabled", "name": "shop-d1-websecure@file", "provider": "file"},
	{"entryPoints": []string{"web"}, "service": "doesnotexist", "rule": "Host(`x.localhost`)", "error": []string{`the service "doesnotexist@file" does not exist`}, "status": "disabled", "name": "nosvc@file", "provider": "file"},
	{"entryPoints": []string{"websecure"}, "service": "s", "rule": "Host(`w.localhost`)", "error": []string{"tls problem"}, "status": "warning", "name": "warn@file", "provider": "file"},
}

func TestClient_RoutersFollowsPagination(t *testing.T) {
	srv := fakeAPI(t, sampleRouters)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL + "/"}
	routers, err := c.Routers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != len(sampleRouters) {
		t.Fatalf("got %d routers, want %d", len(routers), len(sampleRouters))
	}
	secure := routers[2]
	if secure.Name != "shop-d1-websecure@file" || secure.Status != "enabled" || secure.TLS == nil ||
		secure.TLS.CertResolver != "letsencrypt" || secure.Rule != "Host(`shop.example.com`)" || secure.Middlewares[0] != "shop-auth" {
		t.Errorf("router decoded wrong: %+v", secure)
	}
	if routers[3].Errors[0] != `the service "doesnotexist@file" does not exist` {
		t.Errorf("errors decoded wrong: %+v", routers[3])
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

func TestClient_RouterState(t *testing.T) {
	srv := fakeAPI(t, sampleRouters)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, HTTP: srv.Client()}
	states, err := c.RouterState(context.Background(), []string{"shop-d1-web", "shop-d1-websecure@file", "nosvc", "warn", "gone-d1-web"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RouterState{
		"shop-d1-web": StateEnabled, "shop-d1-websecure@file": StateEnabled,
		"nosvc": StateError, "warn": StateWarning, "gone-d1-web": StateMissing,
	}
	for name, w := range want {
		if states[name] != w {
			t.Errorf("state[%s] = %q, want %q", name, states[name], w)
		}
	}
}

func TestClient_Errors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/http/routers" {
			_, _ = w.Write([]byte("not json"))
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	if _, err := c.Routers(context.Background()); err == nil {
		t.Error("Routers accepted invalid JSON")
	}
	if err := c.Ping(context.Background()); err == nil {
		t.Error("Ping accepted a 500")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.RouterState(ctx, []string{"a"}); err == nil {
		t.Error("RouterState ignored a cancelled context")
	}
}

func TestClient_EmptyList(t *testing.T) {
	srv := fakeAPI(t, nil)
	defer srv.Close()
	routers, err := (&Client{BaseURL: srv.URL}).Routers(context.Background())
	if err != nil || len(routers) != 0 {
		t.Fatalf("Routers = %v, %v", routers, err)
	}
}
