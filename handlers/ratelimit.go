package handlers

import (
	"context"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// loginLimiter counts sign-in attempts per client IP and per account+IP in
// a sliding window. An attempt is reserved before the password is hashed, so
// a burst of parallel requests cannot all pass the check before any failure
// is recorded; a successful sign-in gives its reservation back. A blocked key
// waits out the rest of its window.
//
// The account limit is per account and IP, not per account: someone failing
// sign-ins for the admin's email from elsewhere blocks only their own
// address, never the admin's.
type loginLimiter struct {
	mu           sync.Mutex
	window       time.Duration
	perIP        int
	perAccountIP int
	maxKeys      int
	attempts     map[string][]time.Time
	now          func() time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{
		window: 15 * time.Minute, perIP: 20, perAccountIP: 5, maxKeys: 100_000,
		attempts: map[string][]time.Time{}, now: time.Now,
	}
}

func ipKey(ip string) string             { return "ip:" + ip }
func accountKey(ip, email string) string { return "acct:" + email + "\x00" + ip }

func (l *loginLimiter) recent(key string) []time.Time {
	cutoff := l.now().Add(-l.window)
	kept := l.attempts[key][:0]
	for _, t := range l.attempts[key] {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.attempts, key)
		return nil
	}
	l.attempts[key] = kept
	return kept
}

// prune drops expired keys once the map grows past maxKeys, so a flood from
// many addresses keeps memory bounded by the window's live attempts.
func (l *loginLimiter) prune() {
	if len(l.attempts) < l.maxKeys {
		return
	}
	for k := range l.attempts {
		l.recent(k)
	}
}

// reserve counts one attempt for ip and email. It returns how long the caller
// must wait (0 when the attempt may go ahead) and, when it may, a release
// to call on success, which returns the attempt and clears the account's
// count from this IP.
func (l *loginLimiter) reserve(ip, email string) (time.Duration, func()) {
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
	ik, ak := ipKey(ip), accountKey(ip, email)
	check(ik, l.perIP)
	check(ak, l.perAccountIP)
	if wait > 0 {
		return wait, nil
	}
	l.prune()
	now := l.now()
	l.attempts[ik] = append(l.recent(ik), now)
	l.attempts[ak] = append(l.recent(ak), now)
	return 0, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.attempts, ak)
		// The IP's failures stay, so one valid account cannot be used to
		// reset guessing against others; only this attempt is given back.
		f := l.attempts[ik]
		for i := len(f) - 1; i >= 0; i-- {
			if f[i].Equal(now) {
				l.attempts[ik] = append(f[:i:i], f[i+1:]...)
				break
			}
		}
		if len(l.attempts[ik]) == 0 {
			delete(l.attempts, ik)
		}
	}
}

// hashGate bounds how many argon2id verifications (19 MiB and tens of
// milliseconds each) run at once; callers beyond it wait briefly, then give
// up so a burst cannot pile up memory or goroutines.
type hashGate struct {
	slots   chan struct{}
	maxWait time.Duration
	checks  atomic.Int64 // verifications run, for tests
}

func newHashGate(n int) *hashGate {
	return &hashGate{slots: make(chan struct{}, n), maxWait: 5 * time.Second}
}

// run calls f under the bound; false means no slot came free in time.
func (g *hashGate) run(ctx context.Context, f func()) bool {
	ctx, cancel := context.WithTimeout(ctx, g.maxWait)
	defer cancel()
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-g.slots }()
	g.checks.Add(1)
	f()
	return true
}

// passwordCheck guards the routes that verify the signed-in user's
// password (change it, new recovery codes, turn two-factor off): a stolen
// session cannot guess it faster than the sign-in form allows, since the
// attempts count against the same per-address and per-account limits,
// and the verifications share the sign-in's bound on argon2id at once.
// Only a wrong password counts; any other answer gives the attempt back.
func (h *Handler) passwordCheck(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := web.CurrentUser(c)
		wait, release := h.limiter.reserve(h.clientIP(c.Request()), u.Email)
		if wait > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			return web.Error(http.StatusTooManyRequests, "password",
				fmt.Sprintf("Too many wrong passwords. Try again in %s.", wait.Round(time.Second)))
		}
		ctx, wrong := ops.WatchPasswordChecks(c.Request().Context())
		c.SetRequest(c.Request().WithContext(ctx))
		var err error
		if !h.hashes.run(ctx, func() { err = next(c) }) {
			release()
			c.Response().Header().Set("Retry-After", "5")
			return web.Error(http.StatusServiceUnavailable, "", "The server is busy checking passwords. Try again in a few seconds.")
		}
		if !wrong() {
			release()
		}
		return err
	}
}
