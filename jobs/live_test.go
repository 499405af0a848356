package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many pages polling one service at once cost one read; a read older than
// the TTL is not reused; forget makes the next caller read.
func TestLiveCache_SharesOneReadPerTTL(t *testing.T) {
	var c liveCache
	var reads atomic.Int32
	release := make(chan struct{})
	read := func(context.Context) Live {
		n := reads.Add(1)
		<-release
		return Live{State: "running", Running: int(n)}
	}
	const ttl = 200 * time.Millisecond
	var wg sync.WaitGroup
	got := make([]Live, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = c.get(context.Background(), "app", ttl, read)
		}()
	}
	time.Sleep(50 * time.Millisecond) // all are waiting on the first read
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads for 50 concurrent callers, want 1", n)
	}
	for _, l := range got {
		if l.State != "running" || l.Running != 1 {
			t.Fatalf("a caller got %+v", l)
		}
	}
	if l := c.get(context.Background(), "app", ttl, read); l.Running != 1 || reads.Load() != 1 {
		t.Fatalf("within the TTL: %+v after %d reads", l, reads.Load())
	}
	if l := c.get(context.Background(), "other", ttl, read); l.Running != 2 {
		t.Fatalf("another service shares nothing: %+v", l)
	}
	c.forget("app")
	if l := c.get(context.Background(), "app", ttl, read); l.Running != 3 {
		t.Fatalf("after forget: %+v, want a fresh read", l)
	}
	time.Sleep(ttl)
	if l := c.get(context.Background(), "app", ttl, read); l.Running != 4 {
		t.Fatalf("after the TTL: %+v, want a fresh read", l)
	}
}

// The read runs apart from the request that started it: a page closed
// meanwhile neither fails it nor the callers waiting on it; a waiter whose
// own request ends stops waiting.
func TestLiveCache_ReadSurvivesItsCallersCancel(t *testing.T) {
	var c liveCache
	release := make(chan struct{})
	read := func(ctx context.Context) Live {
		<-release
		if ctx.Err() != nil {
			return Live{State: "unknown"}
		}
		return Live{State: "healthy"}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	done := make(chan Live)
	go func() { done <- c.get(first, "db", time.Minute, read) }()
	time.Sleep(20 * time.Millisecond)
	waiter, cancelWaiter := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelWaiter()
	if l := c.get(waiter, "db", time.Minute, read); l.State != "unknown" {
		t.Fatalf("a waiter whose request ended got %+v", l)
	}
	cancelFirst()
	close(release)
	if l := <-done; l.State != "healthy" {
		t.Fatalf("the read was cancelled with its caller: %+v", l)
	}
	if l := c.get(context.Background(), "db", time.Minute, read); l.State != "healthy" {
		t.Fatalf("next caller: %+v", l)
	}
}

// Entries of services nobody asks for any more are dropped.
func TestLiveCache_SweepsStaleEntries(t *testing.T) {
	var c liveCache
	read := func(context.Context) Live { return Live{State: "stopped"} }
	const ttl = 10 * time.Millisecond
	for _, name := range []string{"a", "b", "c"} {
		c.get(context.Background(), name, ttl, read)
	}
	time.Sleep(2 * ttl)
	c.get(context.Background(), "d", ttl, read)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != 1 {
		t.Fatalf("%d entries left, want only d's", len(c.entries))
	}
}
