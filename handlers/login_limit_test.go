package handlers

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// A burst of 100 parallel wrong sign-ins from one address is counted before
// any password is hashed: at most the per account+IP limit is verified, the
// rest are refused with 429 without hashing.
func TestLogin_ParallelBurstHashesNoMoreThanTheLimit(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	csrf := b.csrf()
	before := app.h.hashes.checks.Load()
	limit := app.h.limiter.perAccountIP

	const n = 100
	codes := make(chan int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			form := url.Values{"email": {adminEmail}, "password": {fmt.Sprintf("wrong-password-%d", i)}, "_csrf": {csrf}}
			req, err := http.NewRequest(http.MethodPost, app.srv.URL+"/login", strings.NewReader(form.Encode()))
			if err != nil {
				codes <- -1
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := b.client.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}(i)
	}
	close(start)
	wg.Wait()
	close(codes)
	counts := map[int]int{}
	for c := range codes {
		counts[c]++
	}
	if counts[http.StatusUnauthorized] > limit || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != n {
		t.Fatalf("want at most %d × 401 and the rest 429, got %v", limit, counts)
	}
	if checks := app.h.hashes.checks.Load() - before; checks > int64(limit) {
		t.Fatalf("%d password hashes verified for a burst limited to %d", checks, limit)
	}
}

// An attacker failing sign-ins for the admin's email blocks only their own
// address: the admin, from another address, still signs in.
func TestLogin_AttackerCannotLockTheAdminOut(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	attacker := app.browser()
	for i := 0; i < 5; i++ {
		res := attacker.postForm("/login", url.Values{"email": {adminEmail}, "password": {fmt.Sprintf("wrong-password-%d", i)}},
			"X-Forwarded-For", "203.0.113.66")
		wantStatus(t, res, http.StatusUnauthorized)
	}
	res := attacker.postForm("/login", url.Values{"email": {adminEmail}, "password": {"wrong-password-x"}},
		"X-Forwarded-For", "203.0.113.66")
	wantStatus(t, res, http.StatusTooManyRequests)

	admin := app.browser()
	res = admin.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "198.51.100.10")
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("admin from another address: want 303 /, got %d %q", res.Code, res.location())
	}
}

// X-Forwarded-For from a peer that is not a configured proxy is ignored: a
// client on loopback inventing a new address per request still hits the
// per-IP limit.
func TestLogin_UntrustedXForwardedForIsIgnored(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.h.proxies.trusted, app.h.proxies.addrs = nil, nil // the default: no proxy trusted
	app.setupAdmin()
	b := app.browser()
	for i := 0; i < 20; i++ {
		res := b.postForm("/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong-password"}},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i+1))
		wantStatus(t, res, http.StatusUnauthorized)
	}
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "198.51.100.99", "X-Real-IP", "198.51.100.99")
	wantStatus(t, res, http.StatusTooManyRequests)
}

// The sign-in and setup forms refuse a large body before parsing it, and the
// server keeps serving.
func TestLogin_LargeBodyIs413(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	for _, path := range []string{"/login", "/setup"} {
		big := url.Values{"email": {adminEmail}, "password": {strings.Repeat("x", 1<<20)}}
		res := b.postForm(path, big)
		wantStatus(t, res, http.StatusRequestEntityTooLarge)
	}
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("sign-in after the large body: want 303 /, got %d %q", res.Code, res.location())
	}
}

func TestWriteDeadline_SparesStreams(t *testing.T) {
	for path, stream := range map[string]bool{
		"/deployments/3/stream": true, "/apps/1/runtime-logs": true, "/api/v1/deployments/3/logs": true,
		"/services/app/1/terminal/ws": true, "/api/v1/services/compose/2/terminal": true,
		"/login": false, "/apps/1": false,
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://x"+path, nil)
		if isStream(r) != stream {
			t.Errorf("%s: isStream = %v", path, !stream)
		}
	}
}

// The Traefik the product runs is a trusted proxy without configuration:
// its X-Forwarded-For names the client (the rightmost address it did not
// add itself), and a client-made left part of the header is not believed.
func TestClientIP_OwnTraefikIsTrusted(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	traefik := []netip.Addr{netip.MustParseAddr("127.0.0.1")} // the test client's peer address
	app.h.proxies.trusted = nil                               // no DOKPLOY_TRUSTED_PROXIES
	app.h.proxies.addrs = func() []netip.Addr { return traefik }
	app.setupAdmin()
	b := app.browser()
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "203.0.113.66, 198.51.100.7")
	wantStatus(t, res, http.StatusSeeOther)
	var ip string
	if err := app.store.DB().Get(&ip, `SELECT ip FROM sessions ORDER BY created_at DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if ip != "198.51.100.7" {
		t.Errorf("session recorded from %q, want the client Traefik saw (198.51.100.7)", ip)
	}
	// Traefik recreated elsewhere: the old address is no longer believed.
	traefik = []netip.Addr{netip.MustParseAddr("10.9.9.9")}
	res = app.browser().postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "198.51.100.8")
	wantStatus(t, res, http.StatusSeeOther)
	if err := app.store.DB().Get(&ip, `SELECT ip FROM sessions ORDER BY created_at DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if ip != "127.0.0.1" {
		t.Errorf("session recorded from %q, want the peer 127.0.0.1", ip)
	}
}
