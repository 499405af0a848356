package handlers

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// The hot pages with 500 apps in 50 projects, signed in, on the real router
// over HTTP and a real PostgreSQL. Each iteration is 200 requests in a row
// (one client); p50/p99 are over all of them.
//
//	DOKPLOY_INTEGRATION=1 go test -run '^$' -bench 'Dashboard|ProjectPage|AppPage|AppStatus|Pages_' -benchtime 1x ./handlers/
func BenchmarkDashboard(b *testing.B)   { benchmarkPage(b, "dashboard") }
func BenchmarkProjectPage(b *testing.B) { benchmarkPage(b, "project") }
func BenchmarkAppPage(b *testing.B)     { benchmarkPage(b, "app") }

// BenchmarkAppStatus is the app page's 2 s live poll.
func BenchmarkAppStatus(b *testing.B) { benchmarkPage(b, "app live") }

const benchRequests = 200

func benchmarkPage(b *testing.B, page string) {
	f := newPagesFixture(b, 50, 10)
	path := f.pagePaths()[page]
	f.get(b, path) // warm the connections and templates
	var all []time.Duration
	b.ResetTimer()
	for range b.N {
		for range benchRequests {
			start := time.Now()
			f.get(b, path)
			all = append(all, time.Since(start))
		}
	}
	b.StopTimer()
	reportLatencies(b, all)
}

func reportLatencies(b *testing.B, all []time.Duration) {
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(percentile(all, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkPages_200rps is an open-loop load: requests start at 200 per
// second whatever the answers' pace (so a slow server queues work, as
// under real load), cycling dashboard, project page and app page. The
// first second warms up at the same rate: the client opens its
// connections and the server's PostgreSQL pool grows (each new connection
// costs a SCRAM handshake), which a server under steady load has long
// done. Its slowest answer is reported apart (warmup-max-ms); p50, p99 and
// the rate reached are over the next 5 s.
func BenchmarkPages_200rps(b *testing.B) {
	const rate, warmup, duration = 200, time.Second, 5 * time.Second
	f := newPagesFixture(b, 50, 10)
	paths := f.pagePaths()
	mix := []string{paths["dashboard"], paths["project"], paths["app"]}
	client := &http.Client{Timeout: 10 * time.Second, Jar: f.client.Jar,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	f.get(b, mix[0])
	var failed int
	// load offers rate requests per second for d and returns each one's
	// time to its whole answer.
	load := func(d time.Duration) []time.Duration {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var all []time.Duration
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		start := time.Now()
		for i := 0; time.Since(start) < d; i++ {
			<-tick.C
			wg.Add(1)
			go func(path string) {
				defer wg.Done()
				t0 := time.Now()
				res, err := client.Get(f.srv.URL + path)
				ok := err == nil && res.StatusCode == http.StatusOK
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				took := time.Since(t0)
				mu.Lock()
				all = append(all, took)
				if !ok {
					failed++
				}
				mu.Unlock()
			}(mix[i%len(mix)])
		}
		wg.Wait()
		return all
	}
	var all []time.Duration
	b.ResetTimer()
	for range b.N {
		warm := load(warmup)
		sort.Slice(warm, func(i, j int) bool { return warm[i] < warm[j] })
		b.ReportMetric(float64(warm[len(warm)-1].Microseconds())/1000, "warmup-max-ms")
		opened := f.log.connects.Load()
		start := time.Now()
		all = load(duration)
		b.ReportMetric(float64(len(all))/time.Since(start).Seconds(), "req/s")
		// Each new PostgreSQL connection (a backend start and a SCRAM
		// exchange) holds up the request that asked for it.
		b.ReportMetric(float64(f.log.connects.Load()-opened), "pg-connects")
	}
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d requests failed", failed)
	}
	reportLatencies(b, all)
}
