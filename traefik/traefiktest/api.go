// Package traefiktest fakes the parts of Traefik's API the product reads,
// for unit tests of routing status. Integration tests use a real Traefik.
package traefiktest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"dokploy/traefik"
)

// API serves /ping and /api/http/routers. Routers set with Set are
// reported with that status; "disabled" ones carry an error like Traefik's
// for a missing middleware.
type API struct {
	URL string

	mu     sync.Mutex
	states map[string]string // router name (without @file) → enabled|disabled|warning
}

// NewAPI starts the fake; it stops when the test ends.
func NewAPI(t testing.TB) *API {
	a := &API{states: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// Set reports router name (without the @file suffix) with state.
func (a *API) Set(name, state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.states[name] = state
}

// Client is a traefik.Client for the fake.
func (a *API) Client() *traefik.Client { return &traefik.Client{BaseURL: a.URL} }

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.URL.Path {
	case "/ping":
		_, _ = w.Write([]byte("OK"))
	case "/api/http/routers":
		out := []traefik.RouterStatus{}
		for name, st := range a.states {
			rs := traefik.RouterStatus{Name: name + "@file", Provider: "file", Status: st}
			if st == "disabled" {
				rs.Errors = []string{`middleware "nope@file" does not exist`}
			}
			out = append(out, rs)
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}
