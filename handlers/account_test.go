package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dokploy/db"
	"dokploy/e2e/testkit"
	"dokploy/handlers/web"
)

const newPassword = "a brand new passphrase"

// signInWorks reports whether email and password open a session, using
// a fresh browser.
func (a *testApp) signInWorks(email, password string) bool {
	a.t.Helper()
	b := a.browser()
	b.get("/login")
	res := b.postForm("/login", url.Values{"email": {email}, "password": {password}})
	return res.Code == http.StatusSeeOther && res.location() == "/"
}

// sessionAlive reports whether the browser's session still opens a page.
func sessionAlive(b *browser) bool {
	res := b.get("/account")
	return res.Code == http.StatusOK
}

func TestAccount_PageShowsPasswordSessionsAndTokens(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.setupAdmin()
	phone := a.browser()
	phone.get("/login")
	req := phone.newRequest(http.MethodPost, "/login", strings.NewReader(url.Values{
		"_csrf": {phone.csrf()}, "email": {adminEmail}, "password": {adminPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
	wantStatus(t, phone.do(req), http.StatusSeeOther)

	res := b.get("/account")
	wantStatus(t, res, http.StatusOK)
	d := res.doc(t)
	for _, sel := range []string{`#account-password input[name=current_password]`, `#account-password input[name=new_password]`,
		`#account-password input[name=new_password_confirm]`, `#settings-sessions`, `#settings-tokens form[hx-post="/settings/tokens"]`,
		`header a[href="/account"].active`} {
		if d.Find(sel).Length() == 0 {
			t.Errorf("account page lacks %s", sel)
		}
	}
	text := uiText(t, res)
	testkit.MustContain(t, text, "Safari 17 on iOS", "this session", adminEmail)
	testkit.MustNotContain(t, res.Body, "Mobile/15E148 Safari/604.1</td>")
	// The settings page names sessions the same way.
	testkit.MustContain(t, uiText(t, b.get("/settings")), "Safari 17 on iOS")

	// A token created here is shown once, with a Copy button, in the same panel.
	res = b.postHTMX("/settings/tokens", url.Values{"name": {"laptop"}})
	wantStatus(t, res, http.StatusOK)
	d = res.doc(t)
	if tok := strings.TrimSpace(d.Find("#new-token").Text()); tok == "" {
		t.Fatal("new token not shown")
	}
	if d.Find(`button[data-copy="#new-token"]`).Length() != 1 {
		t.Errorf("no Copy button for the new token: %s", testkit.Truncate(res.Body))
	}
}

func TestAccount_ChangePassword(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.setupAdmin()
	other := a.login(adminEmail, adminPassword)
	if !sessionAlive(other) {
		t.Fatal("second session not signed in")
	}
	sessions := a.count("sessions")

	// Wrong current password: a field error, nothing changed.
	res := b.postHTMX("/account/password", url.Values{"current_password": {"not my password"},
		"new_password": {newPassword}, "new_password_confirm": {newPassword}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	d := res.doc(t)
	if d.Find(`.field.invalid input[name=current_password]`).Length() != 1 {
		t.Errorf("current password not marked invalid: %s", testkit.Truncate(res.Body))
	}
	testkit.MustContain(t, uiText(t, res), "The current password is wrong.")
	testkit.MustNotContain(t, res.Body, newPassword, "not my password")
	// Too short and mismatched: their own fields.
	res = b.postHTMX("/account/password", url.Values{"current_password": {adminPassword},
		"new_password": {"short"}, "new_password_confirm": {"short"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, uiText(t, res), "at least 10 characters")
	res = b.postHTMX("/account/password", url.Values{"current_password": {adminPassword},
		"new_password": {newPassword}, "new_password_confirm": {newPassword + "x"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if res.doc(t).Find(`.field.invalid input[name=new_password_confirm]`).Length() != 1 {
		t.Errorf("mismatch not on the confirm field: %s", testkit.Truncate(res.Body))
	}
	if !a.signInWorks(adminEmail, adminPassword) || a.signInWorks(adminEmail, newPassword) {
		t.Fatal("a refused change changed the password")
	}
	if !sessionAlive(other) {
		t.Fatal("a refused change ended another session")
	}
	if got := a.count("sessions"); got != sessions+1 { // +1: signInWorks' session
		t.Fatalf("sessions: %d, want %d", got, sessions+1)
	}

	// Success: the new password works, the old one not; the other session
	// ended, this one stays, and the sessions panel is refreshed too.
	res = b.postHTMX("/account/password", url.Values{"current_password": {adminPassword},
		"new_password": {newPassword}, "new_password_confirm": {newPassword}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, uiText(t, res), "Password changed")
	if res.doc(t).Find(`#settings-sessions[hx-swap-oob]`).Length() != 1 {
		t.Errorf("sessions panel not refreshed: %s", testkit.Truncate(res.Body))
	}
	if sessionAlive(other) {
		t.Error("another session of the user survived the password change")
	}
	if !sessionAlive(b) {
		t.Error("the session that changed the password was signed out")
	}
	if got := a.count("sessions"); got != 1 {
		t.Errorf("want only the current session left, got %d", got)
	}
	if a.signInWorks(adminEmail, adminPassword) {
		t.Error("the old password still works")
	}
	if !a.signInWorks(adminEmail, newPassword) {
		t.Error("the new password does not work")
	}

	// A plain form post (no JavaScript) gets the whole page back.
	res = b.postForm("/account/password", url.Values{"current_password": {"wrong"},
		"new_password": {newPassword}, "new_password_confirm": {newPassword}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "<html", "The current password is wrong.")
}

func TestAPI_ChangePassword(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	other := a.login(adminEmail, adminPassword)

	// Wrong current password: 422 on current_password, nothing changed.
	res, body := a.apiJSON(http.MethodPost, "/api/v1/account/password", token,
		map[string]any{"current_password": "nope", "new_password": newPassword})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if body["field"] != "current_password" {
		t.Errorf("want field current_password, got %v", body)
	}
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/account/password", token, map[string]any{"current_password": adminPassword, "password": "x"})
	wantStatus(t, res, http.StatusBadRequest)
	if !a.signInWorks(adminEmail, adminPassword) || !sessionAlive(other) || !sessionAlive(b) {
		t.Fatal("a refused change changed something")
	}

	// With a browser session (cookie + CSRF): that session stays, the other ends.
	req := b.newRequest(http.MethodPost, "/api/v1/account/password",
		strings.NewReader(`{"current_password":"`+adminPassword+`","new_password":"`+newPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", b.csrf())
	wantStatus(t, b.do(req), http.StatusOK)
	if sessionAlive(other) || !sessionAlive(b) {
		t.Errorf("after the change: other session alive %v, calling session alive %v", sessionAlive(other), sessionAlive(b))
	}
	if a.signInWorks(adminEmail, adminPassword) || !a.signInWorks(adminEmail, newPassword) {
		t.Fatal("password not changed")
	}

	// With the token: every session ends, the token keeps working.
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/account/password", token,
		map[string]any{"current_password": newPassword, "new_password": adminPassword})
	wantStatus(t, res, http.StatusOK)
	if got := a.count("sessions"); got != 0 {
		t.Errorf("a change by API token left %d sessions", got)
	}
	res, _ = a.apiJSON(http.MethodGet, "/api/v1/projects", token, nil)
	wantStatus(t, res, http.StatusOK)
	if sid := db.SessionIDFor(b.cookie(web.SessionCookie)); sid == "" {
		t.Fatal("no session id")
	}
}

// Guessing the password through a signed-in session is no faster than at
// the sign-in form: wrong passwords on the account forms count against
// the same limits (5 per account and address), whichever form or the API
// they come through, and the right one is then refused too until the
// window passes.
func TestAccount_WrongPasswordsAreRateLimited(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.setupAdmin()
	wrong := url.Values{"current_password": {"not my password"}, "new_password": {"a brand new password"}, "new_password_confirm": {"a brand new password"}}
	for i := 0; i < 3; i++ {
		wantStatus(t, b.postHTMX("/account/password", wrong), http.StatusUnprocessableEntity)
	}
	for i := 0; i < 2; i++ {
		wantStatus(t, b.postHTMX("/account/two-factor/recovery-codes", url.Values{"password": {"not my password"}}), http.StatusUnprocessableEntity)
	}
	res := b.postHTMX("/account/password", url.Values{"current_password": {adminPassword},
		"new_password": {"a brand new password"}, "new_password_confirm": {"a brand new password"}})
	if res.Code != http.StatusTooManyRequests || !strings.Contains(uiText(t, res), "Too many wrong passwords") || res.Header.Get("Retry-After") == "" {
		t.Errorf("sixth try: want 429 with Retry-After, got %d %s", res.Code, uiText(t, res))
	}
	token := a.tokenFor(1)
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/account/password", token, map[string]any{"current_password": adminPassword, "new_password": "a brand new password"})
	wantStatus(t, res, http.StatusTooManyRequests)
	// Nothing changed: the stored password is still the old one.
	u, err := a.store.UserByEmail(context.Background(), adminEmail)
	if err != nil || !db.CheckPassword(u.PasswordHash, adminPassword) {
		t.Errorf("the password changed: %v", err)
	}
}
