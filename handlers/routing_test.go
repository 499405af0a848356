package handlers

import (
	"testing"

	"dokploy/jobs/ops"
	"dokploy/jobs/routing/routingtest"
)

// routingApp is a testApp whose handler applies routing to a temp dir, with
// a fake Traefik API and a recorded restart hook.
type routingApp struct {
	*testApp
	*routingtest.Fixture
}

func newRoutingApp(t *testing.T) *routingApp {
	t.Helper()
	app := newTestApp(t)
	a := &routingApp{testApp: app, Fixture: routingtest.New(t, app.store)}
	// The front-ends share one Deps, read per request.
	a.h.Routing, a.h.Ops = a.Routing, ops.New(a.store, a.h.Runner, a.Routing)
	return a
}
