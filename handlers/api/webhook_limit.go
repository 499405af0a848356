package api

import (
	"sync"
	"time"
)

// rejectLimit bounds how many refused deliveries (bad signature, too large,
// unparsable) one webhook records per window. Someone who learned a
// webhook URL but not its secret could otherwise fill the deliveries table
// at request rate; past the limit refusals are answered 429 and not stored.
const (
	rejectLimit  = 30
	rejectWindow = 10 * time.Minute
)

// rejectLimiter counts refused deliveries per webhook in fixed windows.
// Memory is one small entry per webhook that was refused recently.
type rejectLimiter struct {
	mu      sync.Mutex
	windows map[string]*rejectCount
	now     func() time.Time
}

type rejectCount struct {
	start time.Time
	n     int
}

func newRejectLimiter() *rejectLimiter {
	return &rejectLimiter{windows: map[string]*rejectCount{}, now: time.Now}
}

// allow counts one refusal for the webhook whose token hashes to id and reports whether it may be
// recorded; when not, how long until it may again.
func (l *rejectLimiter) allow(id string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.windows) > 10_000 { // drop finished windows before growing further
		for k, w := range l.windows {
			if now.Sub(w.start) >= rejectWindow {
				delete(l.windows, k)
			}
		}
	}
	w := l.windows[id]
	if w == nil || now.Sub(w.start) >= rejectWindow {
		w = &rejectCount{start: now}
		l.windows[id] = w
	}
	if w.n >= rejectLimit {
		return false, w.start.Add(rejectWindow).Sub(now)
	}
	w.n++
	return true, 0
}
