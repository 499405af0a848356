package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs"
)

// TestZeroDowntimeRedeploys sends a steady, bounded stream of requests
// through the real Traefik to an app while the product redeploys it three
// times (health-checked, start-first, DNS round-robin endpoints as on hosts
// without IPVS) and counts failed requests: there must be none. It also
// reports the cutover time: from the deploy request to the first response of
// the new version.
func TestZeroDowntimeRedeploys(t *testing.T) {
	env := routeSetup(t)
	ctx := context.Background()
	app := env.apps["a"]
	host := env.host("zero")
	env.addDomain("a", db.Domain{Host: host})

	// The app as the product deploys it: env from the database, an HTTP
	// health check run by the mounted probe, no host ports (start-first).
	a, err := env.store.App(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.HealthPath, a.HealthStatus, a.HealthInterval, a.HealthTimeout, a.HealthRetries, a.HealthStartPeriod = "/", 200, 1, 1, 2, 0
	a.StopGracePeriod = 5
	if err := env.store.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	pool, err := jobs.OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	runner := jobs.NewRunner(jobs.Options{
		Store: env.store, Redis: pool, Docker: env.docker, Namespace: "dokploy-test-" + dbtest.RandomSuffix(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ProbeBinary: srvBinary(t), DeployTimeout: 3 * time.Minute,
	})
	if err := runner.StartWorker(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(runner.StopWorker)

	deploy := func(version string) *db.Deployment {
		t.Helper()
		if err := env.store.SetAppVariables(ctx, app.ID, db.VarEnv, []db.Variable{{Key: "MESSAGE", Value: version}, {Key: "PORT", Value: "8080"}}); err != nil {
			t.Fatal(err)
		}
		d, err := env.store.CreateDeployment(ctx, app.ID, "user", "zero-downtime test")
		if err != nil {
			t.Fatal(err)
		}
		if err := runner.Enqueue(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, _ := env.store.Deployment(ctx, d.ID)
			if got.Finished() {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("deploy %s still %s", version, got.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	mustDeploy := func(version string) {
		t.Helper()
		if d := deploy(version); d.Status != db.DeployDone {
			t.Fatalf("deploy %s: %s %q", version, d.Status, d.Error)
		}
	}
	mustDeploy("v0")
	env.waitFor("first version", host, "/", nil, routeStatus(200, "v0"))

	// Four clients in a loop, bounded by count and time.
	var total, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	firstSeen := map[string]time.Time{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", env.httpPort), nil)
				req.Host = host
				resp, err := client.Do(req)
				total.Add(1)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, body))
				} else if _, seen := firstSeen[string(body)]; !seen {
					firstSeen[string(body)] = time.Now()
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	var cutovers []time.Duration
	for _, v := range []string{"v1", "v2", "v3"} {
		requested := time.Now()
		mustDeploy(v)
		// Keep the load on a little after the roll-out for the old task's stop.
		time.Sleep(2 * time.Second)
		mu.Lock()
		seen, ok := firstSeen[v]
		mu.Unlock()
		if !ok {
			t.Fatalf("version %s never answered through Traefik", v)
		}
		cutovers = append(cutovers, seen.Sub(requested))
	}

	// A version that never gets healthy (it answers 200; the check now
	// wants 418) fails, is rolled back, and never takes a single request:
	// v3 keeps answering throughout.
	a, _ = env.store.App(ctx, app.ID)
	a.HealthStatus = 418
	if err := env.store.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	if d := deploy("never-healthy"); d.Status != db.DeployError || !strings.Contains(d.Error, "health check") {
		t.Fatalf("unhealthy version: %s %q", d.Status, d.Error)
	}
	time.Sleep(2 * time.Second)
	mu.Lock()
	_, leaked := firstSeen["never-healthy"]
	mu.Unlock()
	if leaked {
		t.Error("the never-healthy version answered requests")
	}
	close(stop)
	wg.Wait()

	sort.Slice(cutovers, func(i, j int) bool { return cutovers[i] < cutovers[j] })
	t.Logf("redeploys: 3 + 1 rolled back, requests: %d, failed: %d, deploy request → new version serving: median %s (min %s, max %s)",
		total.Load(), failed.Load(), cutovers[1].Round(time.Millisecond), cutovers[0].Round(time.Millisecond), cutovers[2].Round(time.Millisecond))
	if failed.Load() != 0 {
		if len(failures) > 10 {
			failures = failures[:10]
		}
		t.Fatalf("%d of %d requests failed during redeploys, e.g. %q", failed.Load(), total.Load(), failures)
	}
	if total.Load() < 100 {
		t.Fatalf("only %d requests were sent; the load loop did not run", total.Load())
	}
}
