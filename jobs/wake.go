package jobs

import (
	"context"
	"sync/atomic"

	"github.com/gocraft/work"
)

// Idle gocraft/work workers poll Redis with a back-off that grows to 5 s
// (0, 10, 100, 1000, 5000 ms; a package variable the library does not
// export), and all workers of a pool back off in step. A deployment queued
// while the pool is idle would wait up to 5 s for pick-up. The library's
// one way to make a worker fetch at once is WorkerPool.Drain: it resets
// every idle worker's timer to zero, each fetches, and Drain returns when
// every worker has found the queue empty.
//
// Drain also waits for busy workers: a worker running a deployment takes
// the drain signal only when that job ends (and then fetches at once,
// which is what we want anyway). So a Drain may stay pending for as long
// as a deployment runs. Wakes therefore run in their own goroutines,
// coalesced (a burst of enqueues costs one Drain), and at most
// maxPendingWakes are pending; past that, pick-up falls back to the
// library's polling until running jobs end and free them.
const maxPendingWakes = 32

// waker turns enqueues into Drain calls on the local pool.
type waker struct {
	signal  chan struct{} // capacity 1: enqueues coalesce while a wake starts
	pending atomic.Int32  // Drains that have not returned yet
}

func newWaker() *waker { return &waker{signal: make(chan struct{}, 1)} }

// poke asks for a wake without ever blocking the caller. A nil waker
// (the benchmark's polling-only baseline) does nothing.
func (w *waker) poke() {
	if w == nil {
		return
	}
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// run starts a Drain per coalesced poke until ctx ends. A Drain started
// just before the pool stops can stay blocked forever on a stopped
// worker; maxPendingWakes bounds those goroutines too.
func (w *waker) run(ctx context.Context, pool *work.WorkerPool) {
	if w == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.signal:
		}
		if w.pending.Add(1) > maxPendingWakes {
			w.pending.Add(-1)
			continue
		}
		go func() {
			defer w.pending.Add(-1)
			pool.Drain()
		}()
	}
}
