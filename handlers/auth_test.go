package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"dokploy/db"
	"dokploy/e2e/testkit"
	"dokploy/handlers/web"
)

func TestSetup_RefusesWithoutOrWithWrongToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.browser()

	res := b.get("/setup")
	wantStatus(t, res, http.StatusForbidden)
	testkit.MustContain(t, res.Body, "one-time setup link")

	res = b.get("/setup?token=wrong")
	wantStatus(t, res, http.StatusForbidden)

	res = b.postForm("/setup", url.Values{
		"token": {"wrong"}, "email": {adminEmail},
		"password": {adminPassword}, "password_confirm": {adminPassword},
	})
	wantStatus(t, res, http.StatusForbidden)
	testkit.MustContain(t, res.Body, "setup token is missing or wrong")
	if n := app.count("users"); n != 0 {
		t.Fatalf("a wrong setup token created %d users", n)
	}
	// Anonymous pages send a fresh install to setup, not to login.
	if res := b.get("/"); res.Code != http.StatusSeeOther || res.location() != "/setup" {
		t.Fatalf("GET / before setup: want 303 /setup, got %d %q", res.Code, res.location())
	}
}

func TestSetup_InvalidInputIsKept(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.browser()
	res := b.postForm("/setup", url.Values{
		"token": {app.setupToken()}, "email": {"not-an-email"},
		"password": {"short"}, "password_confirm": {"short"},
	})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "valid email address", "at least 10 characters")
	if v, _ := res.doc(t).Find(`input[name=email]`).Attr("value"); v != "not-an-email" {
		t.Errorf("email input lost the user's value: %q", v)
	}
	if app.count("users") != 0 || app.h.SetupLink() == "" {
		t.Fatal("invalid setup must not create a user or close setup")
	}
}

func TestSetup_CreatesAdminSignsInAndClosesForGood(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	oldToken := app.setupToken()
	b := app.browser()
	b.get(app.setupPath())
	res := b.postForm("/setup", url.Values{
		"token": {oldToken}, "email": {adminEmail},
		"password": {adminPassword}, "password_confirm": {adminPassword},
	})
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("setup: want 303 to /, got %d %q: %s", res.Code, res.location(), res.Body)
	}
	ck := res.setCookie(web.SessionCookie)
	if ck == "" {
		t.Fatal("setup did not set a session cookie")
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(ck, attr) {
			t.Errorf("session cookie %q lacks %s", ck, attr)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("session cookie over plain http must not be Secure: %q", ck)
	}

	dash := b.get("/")
	wantStatus(t, dash, http.StatusOK)
	testkit.MustContain(t, dash.Body, "Projects", adminEmail)

	if app.count("users") != 1 {
		t.Fatalf("want 1 user, got %d", app.count("users"))
	}
	if app.h.SetupLink() != "" {
		t.Fatal("setup link still offered after setup")
	}
	other := app.browser()
	wantStatus(t, other.get("/setup?token="+url.QueryEscape(oldToken)), http.StatusNotFound)
	res = other.postForm("/setup", url.Values{
		"token": {oldToken}, "email": {"second@example.com"},
		"password": {adminPassword}, "password_confirm": {adminPassword},
	})
	wantStatus(t, res, http.StatusNotFound)
	if app.count("users") != 1 {
		t.Fatal("the used setup token created another user")
	}
	// Anonymous pages now go to login.
	if res := other.get("/"); res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("GET / after setup: want 303 /login, got %d %q", res.Code, res.location())
	}
}

// An admin created at the console while the server runs (the README's
// `dokploy admin create`) closes setup at once: sign-in works without a
// restart and the setup link stops working.
func TestSetup_ClosedByAnAdminCreatedAtTheConsole(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.setupToken()
	b := app.browser()
	if res := b.get("/login"); res.Code != http.StatusSeeOther || res.location() != "/setup" {
		t.Fatalf("before any admin: GET /login want 303 /setup, got %d %q", res.Code, res.location())
	}
	hash, err := db.HashPassword(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.store.CreateUser(context.Background(), adminEmail, hash, db.RoleOwner); err != nil {
		t.Fatal(err)
	}
	res := b.get("/login")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Sign in")
	if res := b.get("/"); res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("GET /: want 303 /login, got %d %q", res.Code, res.location())
	}
	wantStatus(t, b.get("/setup?token="+url.QueryEscape(token)), http.StatusNotFound)
	if app.h.SetupLink() != "" {
		t.Error("the setup link is still offered")
	}
	signedIn := app.login(adminEmail, adminPassword)
	wantStatus(t, signedIn.get("/"), http.StatusOK)
}

func TestSetup_ConcurrentRequestsCreateExactlyOneUser(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.setupToken()
	const n = 6
	browsers := make([]*browser, n)
	for i := range browsers {
		browsers[i] = app.browser()
		browsers[i].csrf()
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, b := range browsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{
				"token": {token}, "email": {fmt.Sprintf("admin%d@example.com", i)},
				"password": {adminPassword}, "password_confirm": {adminPassword},
				"_csrf": {b.csrf()},
			}
			req, _ := http.NewRequest(http.MethodPost, app.srv.URL+"/setup", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			<-start
			res, err := b.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	if got := app.count("users"); got != 1 {
		t.Fatalf("concurrent setup created %d users, want exactly 1 (status codes %v)", got, codes)
	}
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusSeeOther:
			won++
		case http.StatusNotFound:
		default:
			t.Errorf("unexpected status %d among %v", c, codes)
		}
	}
	if won != 1 {
		t.Errorf("want exactly one request to sign in, got %d (%v)", won, codes)
	}
}

func TestLogin_WrongPasswordIs401WithMessage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {"wrong password!"}})
	wantStatus(t, res, http.StatusUnauthorized)
	testkit.MustContain(t, res.Body, "Wrong email or password.")
	if v, _ := res.doc(t).Find(`input[name=email]`).Attr("value"); v != adminEmail {
		t.Errorf("email not kept in the form: %q", v)
	}
	if b.cookie(web.SessionCookie) != "" {
		t.Fatal("failed login set a session cookie")
	}
	// Unknown accounts get the same answer.
	res = b.postForm("/login", url.Values{"email": {"nobody@example.com"}, "password": {adminPassword}})
	wantStatus(t, res, http.StatusUnauthorized)
	testkit.MustContain(t, res.Body, "Wrong email or password.")
}

func TestLogin_SuccessShowsDashboardWithSafeCookie(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	// Email is case-insensitive.
	res := b.postForm("/login", url.Values{"email": {"Admin@Example.com"}, "password": {adminPassword}})
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("login: want 303 /, got %d %q: %s", res.Code, res.location(), res.Body)
	}
	ck := res.setCookie(web.SessionCookie)
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") || strings.Contains(ck, "Secure") {
		t.Errorf("session cookie flags wrong over http: %q", ck)
	}
	dash := b.get("/")
	wantStatus(t, dash, http.StatusOK)
	testkit.MustContain(t, dash.Body, "<h1>Projects</h1>", adminEmail, "Sign out")
	// A signed-in browser visiting /login goes to the dashboard.
	if res := b.get("/login"); res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Errorf("GET /login signed in: %d %q", res.Code, res.location())
	}
	// Over HTTPS: see TestCookies_HostPrefixOverHTTPS.
}

func TestLogout_DeletesSessionServerSide(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.login(adminEmail, adminPassword)
	old := b.cookie(web.SessionCookie)
	if old == "" {
		t.Fatal("no session cookie after login")
	}
	sessionsBefore := app.count("sessions")
	res := b.postForm("/logout", nil)
	if res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("logout: want 303 /login, got %d %q", res.Code, res.location())
	}
	if got := app.count("sessions"); got != sessionsBefore-1 {
		t.Fatalf("logout left %d sessions, want %d", got, sessionsBefore-1)
	}
	// Replaying the old cookie value (as a thief would) no longer works.
	thief := app.browser()
	req := thief.newRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: old})
	res = thief.do(req)
	if res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("old session cookie still works: %d %q", res.Code, res.location())
	}
	req = thief.newRequest(http.MethodGet, "/api/v1/projects", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: old})
	wantStatus(t, thief.do(req), http.StatusUnauthorized)
}

func TestSettings_RevokeSessionEndsThatBrowsersAccess(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	laptop := app.login(adminEmail, adminPassword)
	phone := app.login(adminEmail, adminPassword)
	wantStatus(t, phone.get("/"), http.StatusOK)

	phoneID := db.SessionIDFor(phone.cookie(web.SessionCookie))
	page := laptop.get("/settings")
	wantStatus(t, page, http.StatusOK)
	revokePath := "/settings/sessions/" + phoneID + "/revoke"
	testkit.MustContain(t, page.Body, revokePath, "this session")
	// The current session is marked, not offered for revocation.
	testkit.MustNotContain(t, page.Body, "/settings/sessions/"+db.SessionIDFor(laptop.cookie(web.SessionCookie))+"/revoke")

	res := laptop.postHTMX(revokePath, nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, phoneID, "<html")

	if res := phone.get("/"); res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("revoked browser still signed in: %d %q", res.Code, res.location())
	}
	wantStatus(t, laptop.get("/"), http.StatusOK)
	// Revoking someone else's or an unknown session is a 404, not a silent success.
	wantStatus(t, laptop.postHTMX(revokePath, nil), http.StatusNotFound)
}

func TestLogin_RateLimitPerAccount(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	for i := 0; i < 5; i++ {
		res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {fmt.Sprintf("wrong-password-%d", i)}})
		wantStatus(t, res, http.StatusUnauthorized)
	}
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	wantStatus(t, res, http.StatusTooManyRequests)
	testkit.MustContain(t, res.Body, "Too many")
	if b.cookie(web.SessionCookie) != "" {
		t.Fatal("a blocked login still started a session")
	}
	// The block is per account: another account from the same IP is not blocked yet.
	res = b.postForm("/login", url.Values{"email": {"other@example.com"}, "password": {"whatever-password"}})
	wantStatus(t, res, http.StatusUnauthorized)
}

func TestLogin_RateLimitPerIP(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	for i := 0; i < 20; i++ {
		res := b.postForm("/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong-password"}})
		wantStatus(t, res, http.StatusUnauthorized)
	}
	// The admin's own account has no failures, yet this IP is blocked.
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	wantStatus(t, res, http.StatusTooManyRequests)
	testkit.MustContain(t, res.Body, "Too many")
}

func TestCSRF_FormsNeedTheToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()

	res := b.postFormRaw("/projects", url.Values{"name": {"shop"}})
	wantStatus(t, res, http.StatusForbidden)
	testkit.MustContain(t, res.Body, "CSRF")

	res = b.postFormRaw("/projects", url.Values{"name": {"shop"}, "_csrf": {strings.Repeat("x", 43)}})
	wantStatus(t, res, http.StatusForbidden)

	// Another browser's valid token does not work with this browser's cookie.
	other := app.browser()
	res = b.postFormRaw("/projects", url.Values{"name": {"shop"}, "_csrf": {other.csrf()}})
	wantStatus(t, res, http.StatusForbidden)

	// A bogus API token header must not switch off CSRF on UI routes.
	res = b.postFormRaw("/projects", url.Values{"name": {"shop"}}, "Authorization", "Bearer not-a-token")
	wantStatus(t, res, http.StatusForbidden)
	res = b.postFormRaw("/projects", url.Values{"name": {"shop"}}, "x-api-key", "not-a-token")
	wantStatus(t, res, http.StatusForbidden)
	if n := app.count("projects"); n != 0 {
		t.Fatalf("refused requests wrote %d projects", n)
	}

	// Logout is protected too: a cross-site POST cannot sign the user out.
	wantStatus(t, b.postFormRaw("/logout", nil), http.StatusForbidden)
	wantStatus(t, b.get("/"), http.StatusOK)

	// The HTMX header works instead of the form field.
	res = b.postHTMX("/projects", url.Values{"name": {"shop"}})
	wantStatus(t, res, http.StatusOK)
	res = b.postForm("/projects", url.Values{"name": {"blog"}})
	wantStatus(t, res, http.StatusSeeOther)
	if n := app.count("projects"); n != 2 {
		t.Fatalf("want 2 projects, got %d", n)
	}
}

func TestCSRF_APIWithSessionCookieNeedsHeader(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	// Cookie-authenticated API writes without the CSRF header are refused.
	res, body := b.apiJSON(http.MethodPost, "/api/v1/projects", "", map[string]any{"name": "shop"})
	wantStatus(t, res, http.StatusForbidden)
	if body["error"] == nil {
		t.Errorf("want a JSON error, got %q", res.Body)
	}
	if app.count("projects") != 0 {
		t.Fatal("refused API request wrote a project")
	}
	// Reads need no CSRF token.
	res, _ = b.apiJSON(http.MethodGet, "/api/v1/projects", "", nil)
	wantStatus(t, res, http.StatusOK)
	// With the header the browser's own API calls work.
	req := b.newRequest(http.MethodPost, "/api/v1/projects", strings.NewReader(`{"name":"shop"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", b.csrf())
	wantStatus(t, b.do(req), http.StatusCreated)
}

// createTokenInUI creates an API token on the settings page and returns it.
func createTokenInUI(t *testing.T, b *browser, name string) string {
	t.Helper()
	res := b.postHTMX("/settings/tokens", url.Values{"name": {name}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "<html")
	token := strings.TrimSpace(res.doc(t).Find("#new-token").Text())
	if !strings.HasPrefix(token, db.APITokenPrefix) || len(token) < 40 {
		t.Fatalf("token not shown after creation: %q", token)
	}
	return token
}

func TestAPIToken_CreatedInUIShownOnceStoredHashed(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	token := createTokenInUI(t, b, "github-actions")

	page := b.get("/settings")
	wantStatus(t, page, http.StatusOK)
	testkit.MustNotContain(t, page.Body, token)
	testkit.MustContain(t, page.Body, "github-actions", token[:len(db.APITokenPrefix)+6]+"…")

	var rows []string
	if err := app.store.DB().Select(&rows, `SELECT row_to_json(t)::text FROM api_tokens t`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("want 1 api token row, got %d", len(rows))
	}
	if strings.Contains(rows[0], token) || strings.Contains(rows[0], token[len(db.APITokenPrefix):]) {
		t.Fatalf("raw token stored in api_tokens: %s", rows[0])
	}

	// Invalid names are refused and nothing is stored.
	res := b.postHTMX("/settings/tokens", url.Values{"name": {"$(id)"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if app.count("api_tokens") != 1 {
		t.Fatal("an invalid token name was stored")
	}
}

func TestAPIToken_AuthenticatesAndRevocationWorks(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	token := createTokenInUI(t, b, "ci")

	res, body := app.apiJSON(http.MethodGet, "/api/v1/projects", token, nil)
	wantStatus(t, res, http.StatusOK)
	if _, ok := body["items"]; !ok {
		t.Fatalf("no items in %q", res.Body)
	}
	c := app.browser()
	req := c.newRequest(http.MethodGet, "/api/v1/projects", nil)
	req.Header.Set("x-api-key", token)
	wantStatus(t, c.do(req), http.StatusOK)

	// Missing and invalid credentials are a JSON 401.
	for name, tok := range map[string]string{"missing": "", "invalid": "dkp_invalid", "truncated": token[:20]} {
		res, body := app.apiJSON(http.MethodGet, "/api/v1/projects", tok, nil)
		if res.Code != http.StatusUnauthorized || body["error"] == nil || body["error"] == "" {
			t.Errorf("%s token: want 401 JSON error, got %d %q", name, res.Code, res.Body)
		}
	}

	admin, err := app.store.UserByEmail(t.Context(), adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := app.store.APITokens(t.Context(), admin.ID)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens: %v %v", tokens, err)
	}
	if tokens[0].LastUsedAt == nil {
		t.Error("last_used_at not recorded")
	}
	res = b.postHTMX(fmt.Sprintf("/settings/tokens/%d/revoke", tokens[0].ID), nil)
	wantStatus(t, res, http.StatusOK)
	res, body = app.apiJSON(http.MethodGet, "/api/v1/projects", token, nil)
	if res.Code != http.StatusUnauthorized || body["error"] == nil {
		t.Fatalf("revoked token: want 401 JSON, got %d %q", res.Code, res.Body)
	}
}

func TestLogin_RateLimitPerIPCannotBeDodgedWithXForwardedFor(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	b := app.browser()
	// One client at 203.0.113.7 behind the proxy (the test server's peer is
	// loopback, like Traefik) invents a new X-Forwarded-For entry every time;
	// the proxy appends the real address.
	for i := 0; i < 20; i++ {
		xff := fmt.Sprintf("198.51.100.%d, 203.0.113.7", i+1)
		res := b.postForm("/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong-password"}},
			"X-Forwarded-For", xff)
		wantStatus(t, res, http.StatusUnauthorized)
	}
	res := b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "198.51.100.99, 203.0.113.7")
	wantStatus(t, res, http.StatusTooManyRequests)
	// A different real client behind the same proxy is not blocked.
	res = b.postForm("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}},
		"X-Forwarded-For", "203.0.113.8")
	wantStatus(t, res, http.StatusSeeOther)
}
