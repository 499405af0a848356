package jobs

import (
	"context"
	"sync"
	"time"
)

// defaultLiveTTL is how long one read of a service's live state answers
// every page that asks for it (Options.LiveTTL).
const defaultLiveTTL = time.Second

// liveReadTimeout bounds one shared read of a service's live state: it
// runs apart from the request that started it, so a page closed meanwhile
// does not fail the read for the others waiting on it.
const liveReadTimeout = 15 * time.Second

// liveCache shares reads of services' live state: every page showing a
// service polls it, and Swarm's answer (a service inspect, a task list,
// container inspects) costs the engine far more than a poll of this
// process. Within the TTL, or while a read is on its way, callers get that
// read (one Docker round per service per TTL, however many pages are
// open); actions this process takes on a service forget its entry, so
// the header answering an action reads Swarm afresh. The zero value is
// ready.
type liveCache struct {
	mu      sync.Mutex
	entries map[string]*liveEntry
	swept   time.Time
}

// liveEntry is one read: done is closed once l holds its result.
type liveEntry struct {
	started time.Time
	done    chan struct{}
	l       Live
}

// get returns name's live state as read (by read) at most ttl ago, or
// by the read under way; otherwise it reads it, once for all callers.
func (c *liveCache) get(ctx context.Context, name string, ttl time.Duration, read func(context.Context) Live) Live {
	now := time.Now()
	c.mu.Lock()
	e := c.entries[name]
	if e == nil || now.Sub(e.started) >= ttl {
		// A finished read older than the TTL, or none: start one. A read
		// still under way past the TTL is not waited for either (Docker
		// is slow: this caller reads afresh, so a hung read is not shared
		// for longer than it lasts).
		e = &liveEntry{started: now, done: make(chan struct{})}
		if c.entries == nil {
			c.entries = map[string]*liveEntry{}
		}
		c.entries[name] = e
		c.sweepLocked(now, ttl)
		c.mu.Unlock()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), liveReadTimeout)
		e.l = read(rctx)
		cancel()
		close(e.done)
		return e.l
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.l
	case <-ctx.Done():
		return Live{State: "unknown", Message: "Docker did not answer: " + oneLine(ctx.Err().Error())}
	}
}

// forget drops name's entry: the next caller reads Swarm.
func (c *liveCache) forget(name string) {
	c.mu.Lock()
	delete(c.entries, name)
	c.mu.Unlock()
}

// sweepLocked drops entries past their TTL, at most once a TTL, so
// services no page looks at any more do not stay. c.mu is held.
func (c *liveCache) sweepLocked(now time.Time, ttl time.Duration) {
	if now.Sub(c.swept) < ttl {
		return
	}
	c.swept = now
	for name, e := range c.entries {
		if now.Sub(e.started) >= ttl {
			select {
			case <-e.done:
				delete(c.entries, name)
			default: // still reading: its callers hold it
			}
		}
	}
}
