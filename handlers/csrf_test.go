package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dokploy/handlers/web"
)

// TestCSRF_TokenIsBoundToTheSession: a token shown to one session is
// refused for another, and a CSRF cookie planted in the victim's browser
// (as a sibling subdomain can) does not let its value pass as the token.
func TestCSRF_TokenIsBoundToTheSession(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	victim := app.setupAdmin()
	attacker := app.login(adminEmail, adminPassword) // another session, same account

	create := func(b *browser, token, name string) *response {
		return b.postFormRaw("/projects", url.Values{"name": {name}, "_csrf": {token}}, "HX-Request", "true")
	}
	wantStatus(t, create(victim, attacker.csrf(), "forged"), http.StatusForbidden)
	planted := strings.Repeat("a", 40)
	u, _ := url.Parse(app.srv.URL)
	victim.client.Jar.SetCookies(u, []*http.Cookie{{Name: csrfCookie, Value: planted, Path: "/"}})
	wantStatus(t, create(victim, planted, "planted"), http.StatusForbidden)
	if n := app.count("projects"); n != 0 {
		t.Fatalf("forged requests created %d projects", n)
	}
	// The victim's own token still works, and signing out and in again
	// gives a new one: the old session's token is dead with it.
	old := victim.csrf()
	if res := create(victim, old, "mine"); res.Code >= 400 {
		t.Fatalf("own token: %d %s", res.Code, res.Body)
	}
	wantStatus(t, victim.postForm("/logout", nil), http.StatusSeeOther)
	again := app.login(adminEmail, adminPassword)
	if again.csrf() == old {
		t.Fatal("a new session got the old session's CSRF token")
	}
	wantStatus(t, create(again, old, "stale"), http.StatusForbidden)
	if n := app.count("projects"); n != 1 {
		t.Fatalf("want 1 project, got %d", n)
	}
}

// TestCookies_HostPrefixOverHTTPS: behind an HTTPS proxy the session and
// CSRF cookies are __Host- cookies (Secure, Path=/, no Domain), and a
// plain-named session cookie, which a sibling subdomain could set, signs
// nobody in.
func TestCookies_HostPrefixOverHTTPS(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	https := func(req *http.Request) *response {
		req.Header.Set("X-Forwarded-Proto", "https")
		return b.do(req)
	}
	page := https(b.newRequest(http.MethodGet, "/login", nil))
	wantStatus(t, page, http.StatusOK)
	ck := page.setCookie("__Host-" + csrfCookie)
	if ck == "" || !strings.Contains(ck, "Secure") || !strings.Contains(ck, "Path=/") || strings.Contains(ck, "Domain") {
		t.Fatalf("CSRF cookie over HTTPS: %q (all: %q)", ck, page.Header.Values("Set-Cookie"))
	}
	token := csrfInPage.FindStringSubmatch(page.Body)
	if token == nil {
		t.Fatal("login page shows no CSRF token")
	}
	form := url.Values{"_csrf": {token[1] + token[2]}, "email": {adminEmail}, "password": {adminPassword}}
	req := b.newRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := https(req)
	wantStatus(t, res, http.StatusSeeOther)
	session := res.setCookie("__Host-" + web.SessionCookie)
	if session == "" || !strings.Contains(session, "Secure") || !strings.Contains(session, "HttpOnly") {
		t.Fatalf("session cookie over HTTPS: %q", res.Header.Values("Set-Cookie"))
	}
	sid := strings.TrimPrefix(strings.SplitN(session, ";", 2)[0], "__Host-"+web.SessionCookie+"=")

	dashboard := func(name string) int {
		fresh := app.browser() // an empty jar: only the cookie given here
		req := fresh.newRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.AddCookie(&http.Cookie{Name: name, Value: sid})
		return fresh.do(req).Code
	}
	if code := dashboard("__Host-" + web.SessionCookie); code != http.StatusOK {
		t.Errorf("dashboard with the __Host- session cookie: %d", code)
	}
	if code := dashboard(web.SessionCookie); code != http.StatusSeeOther {
		t.Errorf("dashboard over HTTPS with a plain-named session cookie: %d, want 303 to sign-in", code)
	}
}
