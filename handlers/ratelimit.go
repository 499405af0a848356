package handlers

import (
	"sync"
	"time"
)

// loginLimiter counts failed sign-ins per client IP and per account in a
// sliding window. A blocked key waits out the rest of its window.
type loginLimiter struct {
	mu       sync.Mutex
	window   time.Duration
	perIP    int
	perEmail int
	failures map[string][]time.Time
	now      func() time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{window: 15 * time.Minute, perIP: 20, perEmail: 5, failures: map[string][]time.Time{}, now: time.Now}
}

func (l *loginLimiter) recent(key string) []time.Time {
	cutoff := l.now().Add(-l.window)
	kept := l.failures[key][:0]
	for _, t := range l.failures[key] {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = kept
	return kept
}

// blocked returns how long the caller must wait, or 0.
func (l *loginLimiter) blocked(ip, email string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	check := func(key string, limit int) {
		if f := l.recent(key); len(f) >= limit {
			if w := f[len(f)-limit].Add(l.window).Sub(l.now()); w > wait {
				wait = w
			}
		}
	}
	check("ip:"+ip, l.perIP)
	check("email:"+email, l.perEmail)
	return wait
}

func (l *loginLimiter) fail(ip, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.failures["ip:"+ip] = append(l.recent("ip:"+ip), now)
	l.failures["email:"+email] = append(l.recent("email:"+email), now)
}

// succeed clears the account's failures; the IP's stay, so one valid
// account cannot be used to reset guessing against others.
func (l *loginLimiter) succeed(email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "email:"+email)
}
