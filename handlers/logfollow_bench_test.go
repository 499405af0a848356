package handlers

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dokploy/db"
)

// BenchmarkSSEFanout: 1,000 browsers follow one running deployment's log
// over real HTTP connections on 127.0.0.1 while the worker stores 200
// lines, 20 per second; each line carries its write time. Every follower
// must receive every line once, in order, then eof (the benchmark fails
// otherwise). It reports the delivery latency (store → received) over all
// followers and lines, and the growth of the resident set while they are
// connected. The process holds both sides, so rss-growth-MB counts the
// 1,000 clients too: the server's share is below it.
//
//	DOKPLOY_INTEGRATION=1 go test -run '^$' -bench SSEFanout -benchtime 1x ./handlers/
func BenchmarkSSEFanout(b *testing.B) {
	const followers, lines, perSecond = 1000, 200, 20
	f := newPagesFixture(b, 1, 1)
	ctx := context.Background()
	client := &http.Client{Jar: f.client.Jar, Transport: &http.Transport{MaxIdleConnsPerHost: followers}}
	var all []time.Duration
	var growth float64
	for range b.N {
		d, err := f.store.CreateDeployment(ctx, f.app, "user", "bench")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.store.ClaimDeployment(ctx, d.ID, "bench-worker"); err != nil {
			b.Fatal(err)
		}
		before := rssMB(b)
		peak := atomic.Uint64{}
		stopSampling := sampleRSS(b, &peak)

		url := fmt.Sprintf("%s/deployments/%d/stream", f.srv.URL, d.ID)
		var wg sync.WaitGroup
		var connected sync.WaitGroup
		results := make([][]time.Duration, followers)
		errs := make(chan error, followers)
		connected.Add(followers)
		for i := range followers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := followLog(client, url, lines, connected.Done)
				results[i] = got
				if err != nil {
					errs <- fmt.Errorf("follower %d: %w", i, err)
				}
			}()
		}
		connected.Wait()
		tick := time.NewTicker(time.Second / perSecond)
		for seq := 1; seq <= lines; seq++ {
			<-tick.C
			if err := f.store.AppendLogs(ctx, d.ID, seq, []string{"t=" + strconv.FormatInt(time.Now().UnixNano(), 10)}); err != nil {
				b.Fatal(err)
			}
		}
		tick.Stop()
		if err := f.store.FinishDeployment(ctx, d.ID, db.DeployDone, ""); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		stopSampling()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		for _, r := range results {
			all = append(all, r...)
		}
		if g := float64(peak.Load())/1e6 - before; g > growth {
			growth = g
		}
	}
	reportLatencies(b, all)
	b.ReportMetric(growth, "rss-growth-MB")
	b.ReportMetric(float64(followers), "followers")
}

// followLog reads one SSE stream until eof and returns each line's
// delivery latency; it fails unless lines 1..want arrive once, in order.
func followLog(client *http.Client, url string, want int, connected func()) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		connected()
		return nil, err
	}
	resp, err := client.Do(req)
	connected()
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	out := make([]time.Duration, 0, want)
	sc := bufio.NewScanner(resp.Body)
	var id, event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "eof":
			if len(out) != want {
				return out, fmt.Errorf("eof after %d of %d lines", len(out), want)
			}
			return out, nil
		case strings.HasPrefix(line, "data: ") && event == "line":
			if id != strconv.Itoa(len(out)+1) {
				return out, fmt.Errorf("line id %s after %d lines", id, len(out))
			}
			_, stamp, ok := strings.Cut(line, "t=")
			ns, err := strconv.ParseInt(strings.TrimSuffix(stamp, "</div>"), 10, 64)
			if !ok || err != nil {
				return out, fmt.Errorf("unexpected data %q", line)
			}
			out = append(out, time.Since(time.Unix(0, ns)))
		}
	}
	return out, fmt.Errorf("stream ended after %d lines without eof: %v", len(out), sc.Err())
}

// rssMB is the process's resident set in MB.
func rssMB(tb testing.TB) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024 / 1e6
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// sampleRSS keeps the highest resident set (bytes) in peak every 100 ms
// until the returned stop is called.
func sampleRSS(tb testing.TB, peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v := uint64(rssMB(tb) * 1e6); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
