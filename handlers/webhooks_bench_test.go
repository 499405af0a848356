package handlers

import (
	"context"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs"
	"dokploy/jobs/docker"
	"dokploy/views"
)

// BenchmarkWebhook_Burst50 measures how long a git host waits for an
// answer while 50 pushes for one app arrive at once, on the real stack:
// PostgreSQL, Redis and a running deploy worker (deployments fail fast at
// the clone; the queue still collapses them). Each iteration is one burst;
// p50/p99 are over every request of every burst.
//
//	DOKPLOY_INTEGRATION=1 go test -run '^$' -bench Webhook_Burst50 -benchtime 10x ./handlers/
func BenchmarkWebhook_Burst50(b *testing.B) { benchmarkWebhook(b, 50) }

// BenchmarkWebhook_Single is the same with one push at a time: the
// latency of an idle server, for comparison.
func BenchmarkWebhook_Single(b *testing.B) { benchmarkWebhook(b, 1) }

func benchmarkWebhook(b *testing.B, n int) {
	store := dbtest.NewStore(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := jobs.OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pool.Close() })
	ns := dbtest.RedisNamespace(b, pool)
	dk, err := docker.New(docker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dk.Close() })
	runner := jobs.NewRunner(jobs.Options{Store: store, Redis: pool, Docker: dk, Namespace: ns})
	if err := runner.StartWorker(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(runner.StopWorker)
	renderer, err := views.New()
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{PublicURL: "http://dokploy.test", Version: "bench"}, store, renderer, runner)
	srv := httptest.NewServer(h.Router())
	b.Cleanup(srv.Close)

	p, err := store.CreateProject(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	a := &db.App{EnvironmentID: p.Environments[0].ID, Name: "Bench", AppName: "bench-" + dbtest.RandomSuffix(),
		SourceType: db.SourceGit, GitURL: "http://127.0.0.1:1/acme/shop.git", GitBranch: "main", GitContext: ".",
		GitDockerfile: "Dockerfile", Port: 3000, Replicas: 1}
	if err := store.CreateApp(ctx, a); err != nil {
		b.Fatal(err)
	}
	hook, err := store.AppWebhook(ctx, a.ID)
	if err != nil {
		b.Fatal(err)
	}
	client := burstClient()
	hookURL := srv.URL + "/api/deploy/" + hook.Token

	// A running server has served pushes before: one untimed round first,
	// so p50/p99 are those of a warm server rather than of this process's
	// first requests (the handler's code paths, the HTTP client's
	// connections). Its slowest answer is reported as cold-max-ms, so a
	// cost paid on a server's first burst stays visible.
	cold := pushBurst(b, client, hookURL, hook.Secret, n, 1)
	checkBurst(b, cold)
	waitQueueIdle(b, store, a.ID, 90*time.Second)

	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := pushBurst(b, client, hookURL, hook.Secret, n, 1000+i*n)
		checkBurst(b, res)
		all = append(all, res.latencies...)
	}
	b.StopTimer()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(percentile(all, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
	slices.Sort(cold.latencies)
	b.ReportMetric(float64(cold.latencies[n-1].Microseconds())/1000, "cold-max-ms")
	waitQueueIdle(b, store, a.ID, 90*time.Second)
}

// checkBurst fails the benchmark unless every push was accepted.
func checkBurst(b *testing.B, res burstResult) {
	b.Helper()
	for j := range res.statuses {
		if res.errs[j] != nil || res.statuses[j] != 202 {
			b.Fatalf("push %d: status %d, err %v", j, res.statuses[j], res.errs[j])
		}
	}
}
