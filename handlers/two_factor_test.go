package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops/totp"
)

var (
	secretInPanel   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryInPanel = regexp.MustCompile(`\b[a-z2-9]{5}-[a-z2-9]{5}\b`)
)

// enrolTwoFactor sets two-factor sign-in up through the account page's
// forms and returns the secret, the step of the code that confirmed it and
// the recovery codes shown.
func enrolTwoFactor(t *testing.T, b *browser) (secret string, step int64, codes []string) {
	t.Helper()
	res := b.postHTMX("/account/two-factor", nil)
	wantStatus(t, res, http.StatusOK)
	m := secretInPanel.FindStringSubmatch(res.Body)
	if m == nil || !strings.Contains(res.Body, `src="data:image/png;base64,`) {
		t.Fatalf("the set-up shows no key and QR code:\n%s", res.Body)
	}
	secret = m[1]
	res = b.postHTMX("/account/two-factor/confirm", url.Values{"code": {"000000"}})
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(uiText(t, res), "That code does not match") {
		t.Fatalf("a wrong first code: want 422 with its message, got %d: %s", res.Code, uiText(t, res))
	}
	step = totp.Step(time.Now())
	code, _ := totp.Code(secret, step, totp.Digits)
	res = b.postHTMX("/account/two-factor/confirm", url.Values{"code": {code}})
	wantStatus(t, res, http.StatusOK)
	codes = recoveryInPanel.FindAllString(res.doc(t).Find("#recovery-codes").Text(), -1)
	if len(codes) != 10 || !strings.Contains(uiText(t, res), "shown only this once") {
		t.Fatalf("want 10 recovery codes shown once, got %d: %s", len(codes), uiText(t, res))
	}
	return secret, step, codes
}

// passwordStep signs in with the password only and returns the browser,
// which must be sent to the second step without a session.
func passwordStep(t *testing.T, a *testApp, email, password string) *browser {
	t.Helper()
	b := a.browser()
	res := b.postForm("/login", url.Values{"email": {email}, "password": {password}})
	if res.Code != http.StatusSeeOther || res.location() != "/login/two-factor" {
		t.Fatalf("password of a two-factor user: want 303 to /login/two-factor, got %d %q", res.Code, res.location())
	}
	if b.cookie(web.SessionCookie) != "" {
		t.Fatal("a session started before the second factor")
	}
	if res := b.get("/"); res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Fatalf("the dashboard before the second factor: want 303 to /login, got %d %q", res.Code, res.location())
	}
	wantStatus(t, b.get("/login/two-factor"), http.StatusOK)
	return b
}

func TestTwoFactor_EnrolSignInRecoveryAndReplay(t *testing.T) {
	a := newTestApp(t)
	admin := a.setupAdmin()
	secret, step, codes := enrolTwoFactor(t, admin)

	// The code that turned it on does not sign in again (replay); the next
	// step's code, within the allowed skew, does.
	b := passwordStep(t, a, adminEmail, adminPassword)
	used, _ := totp.Code(secret, step, totp.Digits)
	res := b.postForm("/login/two-factor", url.Values{"code": {used}})
	if res.Code != http.StatusUnauthorized || !strings.Contains(uiText(t, res), "wrong or was already used (4 tries left)") {
		t.Fatalf("a replayed code: want 401 with 4 tries left, got %d: %s", res.Code, uiText(t, res))
	}
	next, _ := totp.Code(secret, step+1, totp.Digits)
	res = b.postForm("/login/two-factor", url.Values{"code": {next}})
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("the current code: want 303 to /, got %d %q: %s", res.Code, res.location(), uiText(t, res))
	}
	wantStatus(t, b.get("/"), http.StatusOK)

	// A recovery code signs in once, typed in capitals without its dash.
	b = passwordStep(t, a, adminEmail, adminPassword)
	res = b.postForm("/login/two-factor", url.Values{"code": {strings.ToUpper(strings.ReplaceAll(codes[3], "-", ""))}})
	if res.Code != http.StatusSeeOther || res.location() != "/account?two_factor=recovery-used" {
		t.Fatalf("a recovery code: want 303 to the account page, got %d %q: %s", res.Code, res.location(), uiText(t, res))
	}
	page := uiText(t, b.get(res.location()))
	if !strings.Contains(page, "You signed in with a recovery code") || !strings.Contains(page, "9 of 10 recovery codes left") {
		t.Errorf("the account page after a recovery code: %s", page)
	}
	b = passwordStep(t, a, adminEmail, adminPassword)
	if res := b.postForm("/login/two-factor", url.Values{"code": {codes[3]}}); res.Code != http.StatusUnauthorized {
		t.Fatalf("a spent recovery code: want 401, got %d %q", res.Code, res.location())
	}

	// Wrong codes end the challenge: the password is asked again.
	for i := 0; i < db.SignInChallengeAttempts-2; i++ {
		b.postForm("/login/two-factor", url.Values{"code": {"abcde-abcde"}})
	}
	res = b.postForm("/login/two-factor", url.Values{"code": {"abcde-abcde"}})
	if !strings.Contains(uiText(t, res), "Enter your password again") {
		t.Fatalf("after %d wrong codes: %d %s", db.SignInChallengeAttempts, res.Code, uiText(t, res))
	}
	good, _ := totp.Code(secret, totp.Step(time.Now())+1, totp.Digits)
	if res := b.postForm("/login/two-factor", url.Values{"code": {good}}); res.Code == http.StatusSeeOther {
		t.Fatal("a right code was taken after the challenge ended")
	}
	if b.cookie(web.SessionCookie) != "" {
		t.Fatal("a session started after the challenge ended")
	}
}

func TestTwoFactor_APIAndDisable(t *testing.T) {
	a := newTestApp(t)
	admin := a.setupAdmin()
	u, _ := a.store.UserByEmail(context.Background(), adminEmail)
	_, token, err := a.store.CreateAPIToken(context.Background(), u.ID, "2fa", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	res, body := a.apiJSON("POST", "/api/v1/account/two-factor", token, nil)
	wantStatus(t, res, http.StatusCreated)
	secret, _ := body["secret"].(string)
	if uri, _ := body["otpauth_uri"].(string); secret == "" || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("enrolment: %s", res.Body)
	}
	res, body = a.apiJSON("GET", "/api/v1/account/two-factor", token, nil)
	if body["pending"] != true || body["enabled"] != false {
		t.Fatalf("status while pending: %s", res.Body)
	}
	// Still off: the password alone signs in until a code confirms it.
	a.login(adminEmail, adminPassword)
	code, _ := totp.Code(secret, totp.Step(time.Now()), totp.Digits)
	res, body = a.apiJSON("POST", "/api/v1/account/two-factor/confirm", token, map[string]any{"code": code})
	wantStatus(t, res, http.StatusOK)
	if rc, _ := body["recovery_codes"].([]any); len(rc) != 10 {
		t.Fatalf("confirm: want 10 recovery codes, got %s", res.Body)
	}
	if res, _ := a.apiJSON("POST", "/api/v1/account/two-factor", token, nil); res.Code != http.StatusConflict {
		t.Errorf("a second enrolment while on: want 409, got %d", res.Code)
	}
	res, body = a.apiJSON("POST", "/api/v1/account/two-factor/recovery-codes", token, map[string]any{"password": adminPassword})
	newCodes, _ := body["recovery_codes"].([]any)
	if res.Code != http.StatusOK || len(newCodes) != 10 {
		t.Fatalf("new recovery codes: %d %s", res.Code, res.Body)
	}
	// Turning it off needs the password; a wrong one changes nothing.
	res, body = a.apiJSON("POST", "/api/v1/account/two-factor/disable", token, map[string]any{"password": "wrong password!"})
	if res.Code != http.StatusUnprocessableEntity || body["field"] != "password" {
		t.Fatalf("disable with a wrong password: %d %s", res.Code, res.Body)
	}
	passwordStep(t, a, adminEmail, adminPassword) // still on
	res = admin.postHTMX("/account/two-factor/disable", url.Values{"password": {adminPassword}})
	if res.Code != http.StatusOK || !strings.Contains(uiText(t, res), "Two-factor sign-in is off") {
		t.Fatalf("disable from the account page: %d %s", res.Code, uiText(t, res))
	}
	a.login(adminEmail, adminPassword) // the password alone again
	if a.count("recovery_codes") != 0 {
		t.Errorf("%d recovery codes kept after turning it off", a.count("recovery_codes"))
	}
}

func TestTwoFactor_RequiredSendsUsersToEnrol(t *testing.T) {
	a := newTestApp(t)
	admin := a.setupAdmin()
	res := admin.postHTMX("/settings/two-factor", url.Values{"require_two_factor": {"on"}})
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(uiText(t, res), "Turn two-factor sign-in on for your own account first") {
		t.Fatalf("requiring it without having it: %d %s", res.Code, uiText(t, res))
	}
	enrolTwoFactor(t, admin)
	res = admin.postHTMX("/settings/two-factor", url.Values{"require_two_factor": {"on"}})
	if res.Code != http.StatusOK || !strings.Contains(uiText(t, res), "every user must use two-factor sign-in") {
		t.Fatalf("requiring it: %d %s", res.Code, uiText(t, res))
	}
	wantStatus(t, admin.get("/"), http.StatusOK) // enrolled: not sent away

	hash, _ := db.HashPassword("another long password")
	if _, err := a.store.CreateUser(context.Background(), "ops@example.com", hash, db.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	ops := a.login("ops@example.com", "another long password")
	for _, path := range []string{"/", "/settings", "/projects/1"} {
		if res := ops.get(path); res.Code != http.StatusSeeOther || res.location() != "/account?two_factor=required" {
			t.Errorf("%s for a user without two-factor: want 303 to the set-up, got %d %q", path, res.Code, res.location())
		}
	}
	if res, body := ops.apiJSON("GET", "/api/v1/projects", "", nil); res.Code != http.StatusForbidden || !strings.Contains(body["error"].(string), "two-factor sign-in is required") {
		t.Errorf("the API from that session: want 403, got %d %s", res.Code, res.Body)
	}
	page := ops.get("/account?two_factor=required")
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(uiText(t, page), "This server requires two-factor sign-in") {
		t.Errorf("the account page does not say why: %s", uiText(t, page))
	}
	enrolTwoFactor(t, ops)
	wantStatus(t, ops.get("/"), http.StatusOK)

	res, body := admin.apiJSON("GET", "/api/v1/settings/security", "", nil)
	if res.Code != http.StatusOK || body["require_two_factor"] != true {
		t.Errorf("security settings: %d %s", res.Code, res.Body)
	}
}
