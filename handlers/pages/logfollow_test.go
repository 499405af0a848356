package pages

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dokploy/db"
)

// fakeLogs is a deployment log in memory, counting the queries it answers.
type fakeLogs struct {
	mu      sync.Mutex
	lines   []db.LogLine
	status  string
	queries atomic.Int64
}

func (f *fakeLogs) add(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		seq := len(f.lines) + 1
		f.lines = append(f.lines, db.LogLine{Seq: seq, Line: "line " + strconv.Itoa(seq)})
	}
}

func (f *fakeLogs) finish(status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

func (f *fakeLogs) Logs(_ context.Context, _ int64, after, limit int) ([]db.LogLine, error) {
	f.queries.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []db.LogLine{}
	for _, l := range f.lines {
		if l.Seq > after && len(out) < limit {
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeLogs) LastLogSeq(context.Context, int64) (int, error) {
	f.queries.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lines), nil
}

func (f *fakeLogs) Deployment(_ context.Context, id int64) (*db.Deployment, error) {
	f.queries.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return &db.Deployment{ID: id, Status: f.status}, nil
}

// testFollow is defaultFollow shrunk so tests reach its bounds quickly.
var testFollow = followConfig{pollEvery: 5 * time.Millisecond, statusEvery: 5 * time.Millisecond, page: 7,
	tailLines: 10, tailBytes: 1 << 20, buffer: 2, queryWait: time.Second}

// followAll runs one follower from after to the end and returns the ids
// of the line events it sent and the data of its last event.
func followAll(t *testing.T, r *logFollowers, after int) ([]int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hub := r.join(1)
	defer r.leave(hub)
	if err := hub.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f := &logFollower{sse: &sseWriter{w: rec, f: rec}, after: after}
	f.follow(ctx, hub, r.src)
	var ids []int
	var last string
	for _, e := range parseSSE(rec.Body.String()) {
		last = e.name + " " + e.data
		if e.name == "line" {
			n, _ := strconv.Atoi(e.data[len(`<div class="line">line `) : len(e.data)-len("</div>")])
			ids = append(ids, n)
		}
	}
	return ids, last
}

func wantSeqs(t *testing.T, ids []int, from, to int) {
	t.Helper()
	if len(ids) != to-from+1 {
		t.Fatalf("got %d lines %v, want %d..%d", len(ids), ids, from, to)
	}
	for i, id := range ids {
		if id != from+i {
			t.Fatalf("line %d is %d, want %d: %v", i, id, from+i, ids)
		}
	}
}

// A follower far behind the tail reads the database first, then joins
// the hub's feed without a gap or a repeat, and ends with eof.
func TestLogFollow_CatchUpBeyondTailThenLive(t *testing.T) {
	src := &fakeLogs{status: db.DeployRunning}
	src.add(100) // ten times the tail
	r := newLogFollowers(src, testFollow)
	go func() {
		for range 5 {
			time.Sleep(10 * time.Millisecond)
			src.add(3)
		}
		src.finish(db.DeployDone)
	}()
	ids, last := followAll(t, r, 0)
	wantSeqs(t, ids, 1, 115)
	if last != "eof done" {
		t.Fatalf("last event %q, want eof done", last)
	}
	// A late follower of the finished log resumes after its Last-Event-ID.
	ids, last = followAll(t, r, 110)
	wantSeqs(t, ids, 111, 115)
	if last != "eof done" {
		t.Fatalf("resumed: last event %q, want eof done", last)
	}
	waitNoPollers(t, r)
}

// A follower whose feed is full is dropped (its feed closes without eof);
// the others get every batch and eof, never waiting for it.
func TestLogFollow_LaggingFollowerDropped(t *testing.T) {
	src := &fakeLogs{status: db.DeployRunning}
	r := newLogFollowers(src, testFollow)
	hub := r.join(1)
	defer r.leave(hub)
	if err := hub.waitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, slow, _ := hub.subscribe(0)
	_, fast, _ := hub.subscribe(0)
	var got []int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for batch := range fast.ch {
			for _, f := range batch {
				got = append(got, f.seq)
			}
		}
	}()
	for range 10 { // more batches than the feed holds
		src.add(1)
		time.Sleep(3 * testFollow.pollEvery)
	}
	src.finish(db.DeployError)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the fast follower's feed did not end")
	}
	wantSeqs(t, got, 1, 10)
	if string(fast.eof) != "event: eof\ndata: error\n\n" {
		t.Fatalf("fast follower's eof = %q", fast.eof)
	}
	n := 0
	for range slow.ch { // closed, after what it held
		n++
	}
	if n != testFollow.buffer || slow.eof != nil {
		t.Fatalf("slow follower: %d batches queued, eof %q; want %d and none", n, slow.eof, testFollow.buffer)
	}
}

// The poller stops when the last follower leaves, also mid-stream, and
// nothing of the hub is left behind.
func TestLogFollow_NoPollerAfterFollowersLeave(t *testing.T) {
	before := runtime.NumGoroutine()
	src := &fakeLogs{status: db.DeployRunning}
	src.add(3)
	r := newLogFollowers(src, testFollow)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hub := r.join(int64(1 + i%2)) // two deployments
			defer r.leave(hub)
			if hub.waitReady(ctx) != nil {
				return
			}
			rec := httptest.NewRecorder()
			(&logFollower{sse: &sseWriter{w: rec, f: rec}}).follow(ctx, hub, src)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if n := r.pollers.Load(); n != 2 {
		t.Errorf("%d pollers for 2 followed deployments", n)
	}
	cancel()
	wg.Wait()
	waitNoPollers(t, r)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after the followers left, %d before", n, before)
	}
}

// One poller serves any number of followers: the queries do not grow with them.
func TestLogFollow_QueriesIndependentOfFollowers(t *testing.T) {
	for _, n := range []int{1, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := &fakeLogs{status: db.DeployRunning}
			cfg := testFollow
			cfg.tailLines = 100 // late joiners need no catch-up queries
			r := newLogFollowers(src, cfg)
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() { defer wg.Done(); followAll(t, r, 0) }()
			}
			time.Sleep(20 * time.Millisecond)
			src.add(30)
			time.Sleep(20 * time.Millisecond)
			src.finish(db.DeployDone)
			wg.Wait()
			// Start (3), a page of 7 per poll, one status check per idle
			// poll at most: well under 100 however many follow.
			if q := src.queries.Load(); q > 100 {
				t.Fatalf("%d followers: %d queries", n, q)
			}
		})
	}
}

func waitNoPollers(t *testing.T, r *logFollowers) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for r.pollers.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.pollers.Load(); n != 0 || len(r.hubs) != 0 {
		t.Fatalf("%d pollers and %d hubs left", n, len(r.hubs))
	}
}
