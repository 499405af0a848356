package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
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
// followers and lines, and rss-growth-MB: the growth of the server's
// resident set while they are connected (the peak, sampled every 100 ms,
// minus the figure before they connect, taken once the runtime returned
// the memory it had freed).
//
// The followers run in a child process (this test binary re-executed, see
// TestMain and sseFollowerClients), so their connections, buffers and
// goroutines are not counted in the server's resident set; the child
// reports each line's delivery latency back in a summary file. Both use
// the wall clock of the one machine.
//
//	DOKPLOY_INTEGRATION=1 go test -run '^$' -bench SSEFanout -benchtime 1x ./handlers/
func BenchmarkSSEFanout(b *testing.B) {
	const followers, lines, perSecond = 1000, 200, 20
	f := newPagesFixture(b, 1, 1)
	ctx := context.Background()
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
		stream := fmt.Sprintf("%s/deployments/%d/stream", f.srv.URL, d.ID)
		u, err := url.Parse(stream)
		if err != nil {
			b.Fatal(err)
		}
		var cookies []string
		for _, c := range f.client.Jar.Cookies(u) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		job := sseClientsJob{URL: stream, Cookie: strings.Join(cookies, "; "), Followers: followers, Lines: lines,
			Summary: filepath.Join(b.TempDir(), "summary.json")}

		// Freed memory the runtime still holds would be reused unseen: return
		// it first, so the growth is all the followers cost.
		debug.FreeOSMemory()
		before := rssMB(b)
		peak := atomic.Uint64{}
		stopSampling := sampleRSS(b, &peak)
		child, connected := startSSEClients(b, job)
		if err := connected(); err != nil {
			b.Fatal(err)
		}
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
		werr := child.Wait()
		stopSampling()
		if werr != nil {
			b.Fatalf("follower process: %v", werr)
		}
		sum, err := readSSEClientsSummary(job.Summary)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range sum.Errors {
			b.Error(e)
		}
		if b.Failed() {
			b.FailNow()
		}
		if len(sum.LatencyNS) != followers*lines {
			b.Fatalf("%d latencies for %d followers × %d lines", len(sum.LatencyNS), followers, lines)
		}
		for _, ns := range sum.LatencyNS {
			all = append(all, time.Duration(ns))
		}
		if g := float64(peak.Load())/1e6 - before; g > growth {
			growth = g
		}
	}
	reportLatencies(b, all)
	b.ReportMetric(growth, "rss-growth-MB")
	b.ReportMetric(float64(followers), "followers")
}

// sseClientsEnv holds the JSON sseClientsJob that turns the test binary
// into the benchmark's follower process (see TestMain).
const sseClientsEnv = "DOKPLOY_SSE_CLIENTS_JOB"

// sseClientsJob is what the follower process is asked to do.
type sseClientsJob struct {
	URL       string // the stream to follow
	Cookie    string // the signed-in session
	Followers int
	Lines     int    // each follower must get lines 1..Lines, then eof
	Summary   string // file the sseClientsSummary is written to
}

// sseClientsSummary is the follower process's answer: every line's
// delivery latency, follower by follower, and what went wrong.
type sseClientsSummary struct {
	LatencyNS []int64
	Errors    []string
}

// startSSEClients runs job in a child process; connected returns once every
// follower got its response headers (or the child failed).
func startSSEClients(tb testing.TB, job sseClientsJob) (child *exec.Cmd, connected func() error) {
	tb.Helper()
	raw, err := json.Marshal(job)
	if err != nil {
		tb.Fatal(err)
	}
	// -test.run=^$: should the switch in TestMain ever miss, no test runs
	// and the missing "connected" fails the benchmark.
	child = exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), sseClientsEnv+"="+string(raw))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := child.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if child.ProcessState == nil {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})
	return child, func() error {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "connected" {
				return nil
			}
		}
		return errors.New("follower process ended before its followers connected")
	}
}

func readSSEClientsSummary(path string) (*sseClientsSummary, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("follower process summary: %w", err)
	}
	var s sseClientsSummary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("follower process summary: %w", err)
	}
	return &s, nil
}

// sseFollowerClients is the follower process: it opens job.Followers
// streams, prints "connected" once all have their headers, follows them to
// eof and writes the summary. Its exit status is 0 unless it could not do
// the job at all; the followers' own failures are in the summary.
func sseFollowerClients(rawJob string) int {
	var job sseClientsJob
	if err := json.Unmarshal([]byte(rawJob), &job); err != nil {
		fmt.Fprintln(os.Stderr, "sse clients:", err)
		return 2
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: job.Followers}}
	var wg, connected sync.WaitGroup
	results := make([][]time.Duration, job.Followers)
	errs := make([]error, job.Followers)
	connected.Add(job.Followers)
	for i := range job.Followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = followLog(client, job.URL, job.Cookie, job.Lines, connected.Done)
		}()
	}
	connected.Wait()
	fmt.Println("connected")
	wg.Wait()
	var sum sseClientsSummary
	for i, r := range results {
		if errs[i] != nil {
			sum.Errors = append(sum.Errors, fmt.Sprintf("follower %d: %v", i, errs[i]))
		}
		for _, d := range r {
			sum.LatencyNS = append(sum.LatencyNS, int64(d))
		}
	}
	raw, err := json.Marshal(sum)
	if err == nil {
		err = os.WriteFile(job.Summary, raw, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sse clients:", err)
		return 2
	}
	return 0
}

// followLog reads one SSE stream until eof and returns each line's
// delivery latency; it fails unless lines 1..want arrive once, in order.
func followLog(client *http.Client, url, cookie string, want int, connected func()) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		connected()
		return nil, err
	}
	req.Header.Set("Cookie", cookie)
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
