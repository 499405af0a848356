package jobs

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"dokploy/db"
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
}

const maxLogLine = 8 * 1024

func newDeployLog(store *db.Store, id int64, logger *slog.Logger) *deployLog {
	l := &deployLog{store: store, id: id, log: logger, next: 1, stop: make(chan struct{}), done: make(chan struct{})}
	// Continue after lines an earlier attempt may have stored.
	if last, err := store.Logs(context.Background(), id, 0, 1<<30); err == nil && len(last) > 0 {
		l.next = last[len(last)-1].Seq + 1
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
		for _, s := range l.secrets {
			line = strings.ReplaceAll(line, s, "********")
		}
		if len(line) > maxLogLine {
			line = line[:maxLogLine] + " …(truncated)"
		}
		l.pending = append(l.pending, line)
	}
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
	l.mu.Unlock()
	close(l.stop)
	<-l.done
}
