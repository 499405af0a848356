package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"dokploy/db"
)

// The agent's sink posts each round with its token and reads the
// interval from the control plane; a refusal comes back as an error.
func TestPusher(t *testing.T) {
	var got Push
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer dkp_test" {
			http.Error(w, `{"error":"authentication required"}`, http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/settings/metrics":
			_, _ = w.Write([]byte(`{"interval_seconds": 30, "raw_hours": 48, "rollup_days": 30}`))
		case r.Method == http.MethodPost && r.URL.Path == AgentPath:
			if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p := &Pusher{URL: srv.URL + "/", Token: "dkp_test"}
	ctx := context.Background()
	m, err := p.Settings(ctx)
	if err != nil || m.IntervalSeconds != 30 {
		t.Fatalf("settings %+v %v", m, err)
	}
	ts := time.Now().UTC().Truncate(time.Second)
	err = p.InsertMetrics(ctx, []db.ContainerSample{{TS: ts, Target: "shop", Service: "shop_web", ContainerID: "c", Replica: 2, Node: "n", CPU: 12}},
		[]db.NodeSample{{TS: ts, Node: "n", Hostname: "h", MemTotal: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Containers) != 1 || got.Containers[0].Target != "shop" || got.Containers[0].Replica != 2 || !got.Containers[0].TS.Equal(ts) ||
		len(got.Nodes) != 1 || got.Nodes[0].Hostname != "h" {
		t.Errorf("pushed %+v", got)
	}
	bad := &Pusher{URL: srv.URL, Token: "wrong"}
	if _, err := bad.Settings(ctx); err == nil {
		t.Error("a wrong token read the settings")
	}
	if err := bad.InsertMetrics(ctx, nil, nil); err == nil {
		t.Error("a wrong token pushed")
	}
}
