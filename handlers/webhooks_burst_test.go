package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gomodule/redigo/redis"

	"dokploy/db"
	"dokploy/e2e/testkit"
	"dokploy/jobs"
)

// burstAnswer is one answer of deliverBurst.
type burstAnswer struct {
	status int
	body   map[string]any
}

// deliverBurst sends signed GitHub pushes to main at once, push i with
// X-GitHub-Delivery ids[i] and commit sha(firstCommit+i).
func (f *webhookFixture) deliverBurst(ids []string, firstCommit int) []burstAnswer {
	f.t.Helper()
	out := make([]burstAnswer, len(ids))
	client := burstClient()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, id := range ids {
		head := githubCommit(sha(firstCommit+i), fmt.Sprintf("commit %d", firstCommit+i), nil, []string{"src/app.js"}, nil)
		body := mustJSON(f.t, map[string]any{"ref": "refs/heads/main", "after": sha(firstCommit + i),
			"commits": []any{head}, "head_commit": head, "repository": map[string]any{"full_name": "acme/shop"}})
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/deploy/"+f.hook.Token, bytes.NewReader(body))
		if err != nil {
			f.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex(f.hook.Secret, body))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := client.Do(req)
			if err != nil {
				out[i].status = -1
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			out[i].status = res.StatusCode
			_ = json.Unmarshal(raw, &out[i].body)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// queueCounts is how many deployments of the app are in each status.
func (f *webhookFixture) queueCounts() map[string]int {
	f.t.Helper()
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := f.store.DB().Select(&rows, `SELECT status, count(*) AS n FROM deployments WHERE service_id = $1 GROUP BY status`, f.app.ID); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

// A burst of 50 pushes without a worker: every push is answered 202 and
// recorded with its deployment, exactly one deployment stays queued (the
// newest push's commit), the others are cancelled as superseded.
// Repeated delivery ids, within the burst and in a later one, are
// answered as duplicates and recorded once.
func TestWebhook_BurstDuplicatesAndCollapse(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("burst-%d", i%40) // the last 10 repeat earlier ids
	}
	answers := f.deliverBurst(ids, 1000)
	accepted, duplicates := 0, 0
	for i, a := range answers {
		switch {
		case a.status == http.StatusAccepted && a.body["deployment_id"] != nil:
			accepted++
		case a.status == http.StatusOK && strings.Contains(fmt.Sprint(a.body["reason"]), "duplicate, ignored"):
			duplicates++
		default:
			t.Errorf("push %d (%s): %d %v", i, ids[i], a.status, a.body)
		}
	}
	if accepted != 40 || duplicates != 10 {
		t.Fatalf("want 40 accepted and 10 duplicates, got %d and %d", accepted, duplicates)
	}
	deliveries := f.deliveries()
	if len(deliveries) != 40 {
		t.Fatalf("want 40 deliveries recorded, got %d", len(deliveries))
	}
	for _, d := range deliveries {
		if d.Outcome != db.DeliveryDeployed || d.DeploymentID == nil {
			t.Fatalf("delivery %d: %s %s", d.ID, d.Outcome, d.Reason)
		}
	}
	counts := f.queueCounts()
	if counts[db.DeployQueued] != 1 || counts[db.DeployRunning] != 0 {
		t.Fatalf("want one queued deployment and none running (no worker), got %v", counts)
	}
	deps, err := f.store.Deployments(context.Background(), f.app.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	queued := deps[0]
	if queued.Status != db.DeployQueued {
		t.Fatalf("newest deployment #%d is %s", queued.ID, queued.Status)
	}
	for _, d := range deps[1:] {
		if d.Status != db.DeployCancelled || !strings.Contains(d.Error, "superseded") {
			t.Errorf("older deployment #%d: %s %q, want cancelled as superseded", d.ID, d.Status, d.Error)
		}
	}
	// The queued deployment shows the newest recorded push's commit.
	if newest := deliveries[0]; *newest.DeploymentID != queued.ID || queued.CommitSHA != newest.CommitSHA {
		t.Errorf("queued deployment #%d shows %s; newest delivery #%d (%s) points at %d",
			queued.ID, queued.CommitSHA, newest.ID, newest.CommitSHA, *newest.DeploymentID)
	}

	// A provider retrying the whole burst later: all duplicates, nothing recorded.
	again := f.deliverBurst(ids[:40], 2000)
	for i, a := range again {
		if a.status != http.StatusOK || !strings.Contains(fmt.Sprint(a.body["reason"]), "duplicate, ignored") {
			t.Errorf("retried push %d: %d %v", i, a.status, a.body)
		}
	}
	if got := len(f.deliveries()); got != 40 {
		t.Errorf("retried burst recorded deliveries: %d, want 40", got)
	}
	if got := f.deploymentCount(); got != len(deps) {
		t.Errorf("retried burst queued deployments: %d → %d", len(deps), got)
	}
}

// With Redis unreachable a push is still accepted: the deployment is
// queued in PostgreSQL (the runner re-enqueues it from there) and each
// delivery is recorded, its reason saying the queue was unavailable.
func TestWebhook_QueueUnavailableStillRecords(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	closed := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	dead := &redis.Pool{Dial: func() (redis.Conn, error) { return redis.Dial("tcp", closed) }}
	t.Cleanup(func() { dead.Close() })
	f.h.Runner = jobs.NewRunner(jobs.Options{Store: f.store, Redis: dead, Namespace: "dokploy-dead"})

	answers := f.deliverBurst([]string{"down-1", "down-2", "down-3", "down-1"}, 3000)
	accepted := 0
	for i, a := range answers {
		if a.status == http.StatusAccepted {
			accepted++
			if !strings.Contains(fmt.Sprint(a.body["reason"]), "queue unavailable") {
				t.Errorf("push %d: answer does not mention the queue: %v", i, a.body)
			}
		} else if a.status != http.StatusOK {
			t.Errorf("push %d: %d %v", i, a.status, a.body)
		}
	}
	if accepted != 3 {
		t.Fatalf("want 3 accepted (one duplicate), got %d", accepted)
	}
	deliveries := f.deliveries()
	if len(deliveries) != 3 {
		t.Fatalf("want 3 deliveries, got %d", len(deliveries))
	}
	for _, d := range deliveries {
		if d.Outcome != db.DeliveryDeployed || d.DeploymentID == nil || !strings.Contains(d.Reason, "queue unavailable") {
			t.Errorf("delivery %d: %s %v %q", d.ID, d.Outcome, d.DeploymentID, d.Reason)
		}
	}
	if c := f.queueCounts(); c[db.DeployQueued] != 1 {
		t.Errorf("want one deployment queued in PostgreSQL, got %v", c)
	}
}
