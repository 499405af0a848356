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
//
// Lookups of a webhook by its token are grouped the same way (see
// newLookupGroup).
const (
	// maxPushesWaiting bounds the pushes of one service waiting for the
	// next batch; past it a push is answered 429 with Retry-After.
	maxPushesWaiting = 1000
	// pushWriteTimeout bounds one batch's database and queue writes (or
	// one grouped lookup). They run on their own context: a waiter that
	// goes away does not cancel the batch it joined.
	pushWriteTimeout = 30 * time.Second
)

// errPushBacklog: too many pushes of one service are waiting.
var errPushBacklog = errors.New("too many pushes for this service are waiting to be queued")

// batchWriter handles one batch of items (in arrival order) for key and
// returns the result every item of the batch gets.
type batchWriter[K comparable, T, R any] func(ctx context.Context, key K, items []T) (R, error)

// batcher runs, per key, one batch at a time; items submitted meanwhile
// join the next batch. Each item is handled by a batch that starts after
// it was submitted.
type batcher[K comparable, T, R any] struct {
	write batchWriter[K, T, R]
	max   int // items of one key waiting for the next batch; past it submit fails with errPushBacklog

	mu     sync.Mutex
	queues map[K]*batchQueue[T, R] // keys with a batch in flight
}

// pushBatcher writes webhook pushes per service, returning the deployment
// queued for the batch, 0 when none was.
type pushBatcher = batcher[int64, *db.WebhookPush, int64]

// batchQueue is one key's: a batch is in flight; next collects the items
// arriving meanwhile.
type batchQueue[T, R any] struct {
	next *batch[T, R]
}

type batch[T, R any] struct {
	items []T
	done  chan struct{} // closed once written; then result and err are set
	res   R
	err   error
}

func newPushBatcher(write batchWriter[int64, *db.WebhookPush, int64]) *pushBatcher {
	return newBatcher(write, maxPushesWaiting)
}

func newBatcher[K comparable, T, R any](write batchWriter[K, T, R], max int) *batcher[K, T, R] {
	return &batcher[K, T, R]{write: write, max: max, queues: map[K]*batchQueue[T, R]{}}
}

// submit adds item to the key's next batch and waits until it is written,
// returning the batch's result; for pushes, the Delivery and Duplicate of
// item are filled then. When ctx ends first, submit returns its error and
// the item is still written.
func (b *batcher[K, T, R]) submit(ctx context.Context, key K, item T) (R, error) {
	var zero R
	b.mu.Lock()
	q := b.queues[key]
	start := q == nil // nothing in flight: this item's batch is written at once
	if start {
		q = &batchQueue[T, R]{}
		b.queues[key] = q
	}
	if q.next == nil {
		q.next = &batch[T, R]{done: make(chan struct{})}
	}
	bt := q.next
	if len(bt.items) >= b.max {
		b.mu.Unlock()
		return zero, errPushBacklog
	}
	bt.items = append(bt.items, item)
	b.mu.Unlock()
	if start {
		go b.drain(key, q)
	}
	select {
	case <-bt.done:
		return bt.res, bt.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// drain writes the key's batches one after another until no item waits,
// then forgets the key.
func (b *batcher[K, T, R]) drain(key K, q *batchQueue[T, R]) {
	for {
		b.mu.Lock()
		bt := q.next
		q.next = nil
		if bt == nil {
			delete(b.queues, key)
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		bt.res, bt.err = b.writeBatch(key, bt.items)
		close(bt.done)
	}
}

func (b *batcher[K, T, R]) writeBatch(key K, items []T) (res R, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero R
			res, err = zero, fmt.Errorf("batch of %d for %v: panic: %v", len(items), key, r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), pushWriteTimeout)
	defer cancel()
	return b.write(ctx, key, items)
}
