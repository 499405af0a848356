package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"dokploy/db"
)

// Group commit of accepted pushes. Queueing a deployment takes the
// service's row lock, so concurrent pushes for one app would wait on it in
// turn. Instead, per service, one write is in flight at a time: pushes that
// arrive meanwhile join the next batch, which is written as one
// transaction (one queued deployment for the newest push, every delivery
// recorded pointing at it) and enqueued once. The row lock stays, for
// other processes; it is taken once per batch.
const (
	// maxPushesWaiting bounds the pushes of one service waiting for the
	// next batch; past it a push is answered 429 with Retry-After.
	maxPushesWaiting = 1000
	// pushWriteTimeout bounds one batch's database and queue writes. They
	// run on their own context: a waiter that goes away does not cancel
	// the batch it joined.
	pushWriteTimeout = 30 * time.Second
)

// errPushBacklog: too many pushes of one service are waiting.
var errPushBacklog = errors.New("too many pushes for this service are waiting to be queued")

// pushWriter writes one batch of pushes (in arrival order) and returns the
// deployment queued for them, 0 when none was.
type pushWriter func(ctx context.Context, serviceID int64, pushes []*db.WebhookPush) (int64, error)

type pushBatcher struct {
	write pushWriter
	max   int

	mu     sync.Mutex
	queues map[int64]*pushQueue // services with a write in flight
}

// pushQueue is one service's: a write is in flight; next collects the
// pushes arriving meanwhile.
type pushQueue struct {
	next *pushBatch
}

type pushBatch struct {
	pushes []*db.WebhookPush
	done   chan struct{} // closed once written; then depID and err are set
	depID  int64
	err    error
}

func newPushBatcher(write pushWriter) *pushBatcher {
	return &pushBatcher{write: write, max: maxPushesWaiting, queues: map[int64]*pushQueue{}}
}

// submit adds p to the service's next batch and waits until it is
// written, returning the batch's deployment id; p's Delivery and
// Duplicate are filled then. When ctx ends first, submit returns its error
// and the push is still written.
func (b *pushBatcher) submit(ctx context.Context, serviceID int64, p *db.WebhookPush) (int64, error) {
	b.mu.Lock()
	q := b.queues[serviceID]
	start := q == nil // nothing in flight: this push's batch is written at once
	if start {
		q = &pushQueue{}
		b.queues[serviceID] = q
	}
	if q.next == nil {
		q.next = &pushBatch{done: make(chan struct{})}
	}
	bt := q.next
	if len(bt.pushes) >= b.max {
		b.mu.Unlock()
		return 0, errPushBacklog
	}
	bt.pushes = append(bt.pushes, p)
	b.mu.Unlock()
	if start {
		go b.drain(serviceID, q)
	}
	select {
	case <-bt.done:
		return bt.depID, bt.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// drain writes the service's batches one after another until no push
// waits, then forgets the service.
func (b *pushBatcher) drain(serviceID int64, q *pushQueue) {
	for {
		b.mu.Lock()
		bt := q.next
		q.next = nil
		if bt == nil {
			delete(b.queues, serviceID)
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		bt.depID, bt.err = b.writeBatch(serviceID, bt.pushes)
		close(bt.done)
	}
}

func (b *pushBatcher) writeBatch(serviceID int64, pushes []*db.WebhookPush) (depID int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			depID, err = 0, fmt.Errorf("queueing %d webhook pushes of service %d: panic: %v", len(pushes), serviceID, r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), pushWriteTimeout)
	defer cancel()
	return b.write(ctx, serviceID, pushes)
}
