package pages

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"dokploy/db"
)

// Followers of one deployment log share one poller (issue #17). Before,
// every open log page polled PostgreSQL on its own, so a thousand of them
// meant thousands of queries a second and up to 300 ms of delay. Now the
// first follower of a deployment starts a logHub: one goroutine reads the
// new lines, renders each as its SSE event once, keeps the most recent ones
// in memory and hands the same bytes to every follower.

// followConfig holds the hub's bounds; tests shrink them.
type followConfig struct {
	pollEvery   time.Duration // between reads of new lines while none come
	statusEvery time.Duration // at least this between checks whether the deployment finished
	page        int           // lines per query
	tailLines   int           // recent lines kept in memory for joining followers
	tailBytes   int           // and their rendered size at most
	buffer      int           // batches a follower may lag before it is dropped
	queryWait   time.Duration // per database query
}

// defaultFollow polls often enough for the p99 ≤ 100 ms target; the status
// check is rarer because eof may wait a moment, lines may not.
var defaultFollow = followConfig{
	pollEvery:   50 * time.Millisecond,
	statusEvery: 250 * time.Millisecond,
	page:        500,
	tailLines:   4096,
	tailBytes:   2 << 20,
	buffer:      64,
	queryWait:   10 * time.Second,
}

// logSource is what followers read: the store.
type logSource interface {
	Logs(ctx context.Context, deploymentID int64, afterSeq, limit int) ([]db.LogLine, error)
	LastLogSeq(ctx context.Context, deploymentID int64) (int, error)
	Deployment(ctx context.Context, id int64) (*db.Deployment, error)
}

// logFrame is one line rendered as its SSE event. The bytes are shared by
// every follower and never changed.
type logFrame struct {
	seq   int
	bytes []byte
}

// lineFrame renders a stored line as the event a browser resumes from.
func lineFrame(l db.LogLine) logFrame {
	return logFrame{seq: l.Seq, bytes: sseFrame(strconv.Itoa(l.Seq), "line", logLineHTML(l.Line))}
}

func lineFrames(lines []db.LogLine) []logFrame {
	out := make([]logFrame, len(lines))
	for i, l := range lines {
		out[i] = lineFrame(l)
	}
	return out
}

// logFollowers holds the hubs of the deployments being followed.
type logFollowers struct {
	src     logSource
	cfg     followConfig
	mu      sync.Mutex
	hubs    map[int64]*logHub
	pollers atomic.Int64 // running poller goroutines, for tests and leaks
}

func newLogFollowers(src logSource, cfg followConfig) *logFollowers {
	return &logFollowers{src: src, cfg: cfg, hubs: map[int64]*logHub{}}
}

// join returns the hub of deployment id, starting it for the first
// follower. Every join needs its leave.
func (r *logFollowers) join(id int64) *logHub {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hubs[id]
	if h == nil {
		h = newLogHub(r, id)
		r.hubs[id] = h
		r.pollers.Add(1)
		go h.run()
	}
	h.refs++
	return h
}

// leave stops the hub's poller when its last follower goes.
func (r *logFollowers) leave(h *logHub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	if r.hubs[h.id] == h {
		delete(r.hubs, h.id)
	}
	h.cancel()
}

// forget drops an ended hub so the next follower starts afresh; followers
// still holding it finish from what it has.
func (r *logFollowers) forget(h *logHub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hubs[h.id] == h {
		delete(r.hubs, h.id)
	}
}

// logHub fans one deployment's log out to its followers.
type logHub struct {
	reg    *logFollowers
	id     int64
	refs   int // followers joined; guarded by reg.mu
	ctx    context.Context
	cancel context.CancelFunc // ends the poller
	ready  chan struct{}      // closed once the tail is loaded or err is set
	err    error              // why the hub could not start; read after ready

	mu sync.Mutex
	// tail holds every stored line with base < seq ≤ last, in order. It is
	// only appended to or resliced, never written in place, so a follower
	// may keep a subslice of it without copying (see subscribe).
	tail      []logFrame
	tailBytes int
	evicted   int // lines and bytes sliced off the front of tail's array
	evictedB  int
	base      int
	last      int
	subs      map[*logSub]struct{}
	done      bool
	eof       []byte // the eof event once finished; nil if the hub ended otherwise
}

// logSub is one follower's live feed. The poller closes ch when it drops
// the follower (eof stays nil) or when the deployment finished (eof set
// first), after the batches already queued.
type logSub struct {
	ch  chan []logFrame
	eof []byte
}

func newLogHub(r *logFollowers, id int64) *logHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &logHub{reg: r, id: id, ctx: ctx, cancel: cancel, ready: make(chan struct{}), subs: map[*logSub]struct{}{}}
}

// waitReady waits until the hub loaded the recent lines; its error is the
// hub's (db.ErrNotFound for an unknown deployment) or ctx's.
func (h *logHub) waitReady(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-h.ready:
		return h.err
	}
}

// run is the hub's poller.
func (h *logHub) run() {
	defer h.reg.pollers.Add(-1)
	defer h.cancel()
	if err := h.start(); err != nil {
		h.err = err
		close(h.ready)
		h.reg.forget(h)
		return
	}
	close(h.ready)
	tick := time.NewTicker(h.reg.cfg.pollEvery)
	defer tick.Stop()
	lastStatus := time.Now() // start just read the deployment
	for {
		n, err := h.poll()
		if h.ctx.Err() != nil {
			return
		}
		if err == nil && n == h.reg.cfg.page {
			continue // more are stored already
		}
		if err == nil && n == 0 && time.Since(lastStatus) >= h.reg.cfg.statusEvery {
			lastStatus = time.Now()
			if h.checkFinished() {
				return
			}
		}
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// start checks the deployment exists and loads its most recent lines, so
// followers of the live end (or close to it) need no query of their own.
func (h *logHub) start() error {
	ctx, cancel := context.WithTimeout(h.ctx, h.reg.cfg.queryWait)
	defer cancel()
	if _, err := h.reg.src.Deployment(ctx, h.id); err != nil {
		return err
	}
	last, err := h.reg.src.LastLogSeq(ctx, h.id)
	if err != nil {
		return err
	}
	base := max(0, last-h.reg.cfg.tailLines)
	lines, err := h.reg.src.Logs(ctx, h.id, base, h.reg.cfg.tailLines)
	if err != nil {
		return err
	}
	frames := lineFrames(lines)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.base, h.last = base, base
	h.appendTail(frames)
	return nil
}

// poll reads the lines after the last one seen and publishes them; it
// returns how many. Errors are retried at the next tick: the followers stay.
func (h *logHub) poll() (int, error) {
	h.mu.Lock()
	after := h.last
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, h.reg.cfg.queryWait)
	defer cancel()
	lines, err := h.reg.src.Logs(ctx, h.id, after, h.reg.cfg.page)
	if err != nil || len(lines) == 0 {
		return 0, err
	}
	h.publish(lineFrames(lines))
	return len(lines), nil
}

// checkFinished ends the hub with eof once the deployment finished and no
// line was stored after the last read; it reports whether the hub ended.
func (h *logHub) checkFinished() bool {
	ctx, cancel := context.WithTimeout(h.ctx, h.reg.cfg.queryWait)
	d, err := h.reg.src.Deployment(ctx, h.id)
	cancel()
	if errors.Is(err, db.ErrNotFound) {
		h.end(nil) // deleted meanwhile: the streams end, reconnects get 404
		return true
	}
	if err != nil || !d.Finished() {
		return false
	}
	// Read once more: lines stored between the two queries must not be lost.
	if n, err := h.poll(); err != nil || n > 0 {
		return false
	}
	h.end(sseFrame("", "eof", d.Status))
	return true
}

// publish adds a batch to the tail and queues it for every follower; one
// that has buffer batches queued already is dropped rather than waited for.
func (h *logHub) publish(batch []logFrame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.appendTail(batch)
	for s := range h.subs {
		select {
		case s.ch <- batch:
		default:
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

// appendTail keeps the last tailLines lines within tailBytes. Evicted
// frames stay in tail's array until it is copied: that happens once they
// outweigh the live ones, so the array holds at most twice the bounds.
func (h *logHub) appendTail(batch []logFrame) {
	for _, f := range batch {
		h.tail = append(h.tail, f)
		h.tailBytes += len(f.bytes)
		h.last = f.seq
	}
	cfg := h.reg.cfg
	for len(h.tail) > 0 && (len(h.tail) > cfg.tailLines || h.tailBytes > cfg.tailBytes) {
		h.base = h.tail[0].seq
		h.tailBytes -= len(h.tail[0].bytes)
		h.evicted++
		h.evictedB += len(h.tail[0].bytes)
		h.tail = h.tail[1:]
	}
	if h.evicted > cfg.tailLines || h.evictedB > cfg.tailBytes {
		h.tail = append([]logFrame(nil), h.tail...)
		h.evicted, h.evictedB = 0, 0
	}
}

// end closes every follower's feed, with eof (nil: without).
func (h *logHub) end(eof []byte) {
	h.mu.Lock()
	h.done, h.eof = true, eof
	for s := range h.subs {
		s.eof = eof
		close(s.ch)
	}
	h.subs = nil
	h.mu.Unlock()
	h.reg.forget(h)
}

// subscribe starts the live feed of a follower that sent every line up to
// after. ok is false when after is older than the tail: the follower reads
// from the database first. The backlog is the tail's lines after after;
// the feed then carries every later line, so nothing is missed or repeated.
func (h *logHub) subscribe(after int) (backlog []logFrame, sub *logSub, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if after < h.base {
		return nil, nil, false
	}
	i := sort.Search(len(h.tail), func(i int) bool { return h.tail[i].seq > after })
	// The full slice expression keeps appends to the tail out of reach.
	backlog = h.tail[i:len(h.tail):len(h.tail)]
	sub = &logSub{ch: make(chan []logFrame, h.reg.cfg.buffer)}
	if h.done {
		sub.eof = h.eof
		close(sub.ch)
	} else {
		h.subs[sub] = struct{}{}
	}
	return backlog, sub, true
}

// unsubscribe ends a follower's feed when it leaves first.
func (h *logHub) unsubscribe(s *logSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// floor is the oldest position the tail serves.
func (h *logHub) floor() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.base
}

// logFollower is one browser's stream of a deployment log.
type logFollower struct {
	sse   *sseWriter
	rc    *http.ResponseController
	after int       // the last line sent
	wrote time.Time // of the last write, for keepalives
}

// follow sends the lines after f.after: from the database while they are
// older than the hub's tail, then from the hub, then eof. It returns when
// the deployment finished, the browser left, the hub dropped it for lagging
// or a write failed; the browser then reconnects with Last-Event-ID.
func (f *logFollower) follow(ctx context.Context, h *logHub, src logSource) {
	backlog, sub := f.catchUp(ctx, h, src)
	if sub == nil {
		return
	}
	defer h.unsubscribe(sub)
	if f.write(backlog) != nil {
		return
	}
	keepalive := time.NewTicker(followKeepalive)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case batch, ok := <-sub.ch:
			if !ok {
				if sub.eof != nil {
					_ = f.writeRaw(sub.eof)
				}
				return
			}
			if f.write(batch) != nil {
				return
			}
		case <-keepalive.C:
			if time.Since(f.wrote) >= followKeepalive && f.writeRaw([]byte(": keepalive\n\n")) != nil {
				return
			}
		}
	}
}

// catchUp sends stored lines page by page until f.after is within the
// hub's tail, then subscribes. A nil sub means the stream is over.
func (f *logFollower) catchUp(ctx context.Context, h *logHub, src logSource) ([]logFrame, *logSub) {
	for ctx.Err() == nil {
		if backlog, sub, ok := h.subscribe(f.after); ok {
			return backlog, sub
		}
		qctx, cancel := context.WithTimeout(ctx, h.reg.cfg.queryWait)
		lines, err := src.Logs(qctx, h.id, f.after, h.reg.cfg.page)
		cancel()
		if err != nil {
			return nil, nil
		}
		if len(lines) == 0 {
			// Nothing stored up to the tail (removed meanwhile): start there.
			f.after = h.floor()
			continue
		}
		if f.write(lineFrames(lines)) != nil {
			return nil, nil
		}
	}
	return nil, nil
}

// followKeepalive is the longest silence on a stream; followWriteWait the
// longest a write may block, so a browser that stopped reading does not
// hold its connection and goroutine for ever.
const (
	followKeepalive = 15 * time.Second
	followWriteWait = 15 * time.Second
)

// write sends the frames after f.after and flushes once.
func (f *logFollower) write(frames []logFrame) error {
	f.deadline()
	sent := false
	for _, fr := range frames {
		if fr.seq <= f.after {
			continue // the database read was ahead of the hub
		}
		if _, err := f.sse.w.Write(fr.bytes); err != nil {
			return err
		}
		f.after, sent = fr.seq, true
	}
	if sent {
		f.sse.f.Flush()
		f.wrote = time.Now()
	}
	return nil
}

func (f *logFollower) writeRaw(b []byte) error {
	f.deadline()
	if _, err := f.sse.w.Write(b); err != nil {
		return err
	}
	f.sse.f.Flush()
	f.wrote = time.Now()
	return nil
}

// deadline bounds the next write; writers that cannot have one (tests'
// recorders) go without.
func (f *logFollower) deadline() {
	if f.rc != nil {
		_ = f.rc.SetWriteDeadline(time.Now().Add(followWriteWait))
	}
}
