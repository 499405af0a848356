package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"dokploy/db"
	"dokploy/jobs/internal/linewriter"
)

// deployLog buffers a deployment's log lines, masks secret values and
// stores the lines in batches with consecutive sequence numbers.
type deployLog struct {
	store *db.Store
	id    int64
	log   *slog.Logger

	mu      sync.Mutex
	secrets []string
	pending []string
	next    int
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	// Size bound (see maxLogBytes).
	lines, bytes int      // stored or pending, this attempt and earlier ones
	truncated    bool     // the limit was reached: lines go to tail only
	dropped      int      // lines not stored since then
	tail         []string // the last tailLines of them, stored at Close
}

// A deployment's stored log is bounded so a build that floods its output
// (millions of lines, or a few huge ones) can neither fill PostgreSQL nor
// grow the control plane's memory: once a deployment's lines reach
// maxLogBytes or maxLogLines, one "log truncated" line is stored and later
// lines are dropped, except the last tailLines, stored when the deployment
// ends (they hold its outcome). The build itself goes on. Each line is
// also cut at linewriter.MaxLine (16 KiB). The limits include the tail, so
// no deployment stores more than maxLogBytes of text or maxLogLines lines.
const (
	maxLogBytes = 5 << 20
	maxLogLines = 50_000
	tailLines   = 40
	// tailReserve is room kept under the limits for the tail and the two
	// lines announcing it.
	tailReserveBytes = (tailLines+2)*(linewriter.MaxLine+len(linewriter.CutMarker)) + 1024
	tailReserveLines = tailLines + 2
)

func newDeployLog(store *db.Store, id int64, logger *slog.Logger) *deployLog {
	l := &deployLog{store: store, id: id, log: logger, next: 1, stop: make(chan struct{}), done: make(chan struct{})}
	// Continue after lines an earlier attempt may have stored, counting
	// them towards the limits.
	if st, err := store.LogStats(context.Background(), id); err == nil {
		l.next, l.lines, l.bytes = st.LastSeq+1, st.Lines, st.Bytes
		l.truncated = l.lines >= maxLogLines-tailReserveLines || l.bytes >= maxLogBytes-tailReserveBytes
	}
	go l.flushLoop()
	return l
}

// Mask registers secret values that must never be stored. Very short
// values are skipped: masking "1" would mangle every number in the log.
func (l *deployLog) Mask(values ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		if len(v) >= 4 {
			l.secrets = append(l.secrets, v)
		}
		// The log is stored line by line, so a multi-line value (a PEM key)
		// is also masked line by line; short lines ("}", "") are too common
		// to mask on their own.
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); len(line) >= 8 {
					l.secrets = append(l.secrets, line)
				}
			}
		}
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
}

// Line stores one or more lines (split on newlines).
func (l *deployLog) Line(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		line = l.mask(linewriter.Cut(line))
		l.add(line)
	}
}

// mask replaces secret values. A line cut at 16 KiB may end with the start
// of a secret, which the full value no longer matches: that tail is masked
// too.
func (l *deployLog) mask(line string) string {
	for _, s := range l.secrets {
		line = strings.ReplaceAll(line, s, "********")
	}
	text, ok := strings.CutSuffix(line, linewriter.CutMarker)
	if !ok {
		return line
	}
	for _, s := range l.secrets {
		for k := min(len(s)-1, len(text)); k > 0; k-- {
			if strings.HasSuffix(text, s[:k]) {
				text = text[:len(text)-k] + "********"
				break
			}
		}
	}
	return text + linewriter.CutMarker
}

// add queues a line for storage unless the log reached its limits.
func (l *deployLog) add(line string) {
	if !l.truncated && (l.lines+1 > maxLogLines-tailReserveLines || l.bytes+len(line) > maxLogBytes-tailReserveBytes) {
		l.truncated = true
		l.store1(fmt.Sprintf("log truncated: this deployment's output reached the limit of %s or %d lines; "+
			"later lines are not stored, except the last %d at the end; the build goes on", fmt.Sprintf("%d MiB", maxLogBytes>>20), maxLogLines, tailLines))
	}
	if !l.truncated {
		l.store1(line)
		return
	}
	l.dropped++
	if len(l.tail) == tailLines {
		l.tail = append(l.tail[:0], l.tail[1:]...)
	}
	l.tail = append(l.tail, line)
}

func (l *deployLog) store1(line string) {
	l.pending = append(l.pending, line)
	l.lines++
	l.bytes += len(line)
}

func (l *deployLog) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.flush()
			return
		case <-t.C:
			l.flush()
		}
	}
}

func (l *deployLog) flush() {
	l.mu.Lock()
	lines, first := l.pending, l.next
	l.pending = nil
	l.next += len(lines)
	l.mu.Unlock()
	if len(lines) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.store.AppendLogs(ctx, l.id, first, lines); err != nil {
		l.log.Error("store deployment log", "deployment", l.id, "lines", len(lines), "err", err)
	}
}

// Close flushes what is left. It is safe to call twice.
func (l *deployLog) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	// The tail fits in the reserve, unless an earlier attempt of this
	// deployment used it: then only what still fits under the limits.
	for len(l.tail) > 0 {
		head := fmt.Sprintf("… %d lines not stored; the last %d:", l.dropped-len(l.tail), len(l.tail))
		size := len(head)
		for _, line := range l.tail {
			size += len(line)
		}
		if l.lines+1+len(l.tail) <= maxLogLines && l.bytes+size <= maxLogBytes {
			l.store1(head)
			for _, line := range l.tail {
				l.store1(line)
			}
			break
		}
		l.tail = l.tail[1:]
	}
	l.tail = nil
	l.mu.Unlock()
	close(l.stop)
	<-l.done
}
