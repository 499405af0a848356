package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

const (
	csrfCookie = "dokploy_csrf"
)

// newClientIP builds the extractor of the address rate limits and the
// session list use. X-Forwarded-For is believed only from the proxies listed
// (DOKPLOY_TRUSTED_PROXIES) and the Traefik the product runs (proxies): the
// nearest untrusted hop is the client. With none, the peer address is the
// client whatever the headers say, so no client, loopback or private, picks
// a fresh quota by sending one.
func newClientIP(trusted []*net.IPNet, proxies []netip.Addr) echo.IPExtractor {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	for _, a := range proxies {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// clientIP is the request's client address (see newClientIP).
func (h *Handler) clientIP(r *http.Request) string {
	return newClientIP(h.proxies.trusted, h.proxies.ownProxies())(r)
}

// isHTTPS decides the cookies' Secure flag: set whenever the browser talks
// HTTPS, directly or through a trusted proxy (Router's SchemeExtractor).
func isHTTPS(c echo.Context) bool { return c.Scheme() == "https" }

// setCookie sets one of our cookies under its per-scheme name (web.CookieName).
func (h *Handler) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: web.CookieName(c, name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(c),
	})
}

// apiToken returns a token presented as "Authorization: Bearer" or "x-api-key".
func apiToken(r *http.Request) string {
	if v := r.Header.Get("Authorization"); strings.HasPrefix(v, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(v, "Bearer "))
	}
	return strings.TrimSpace(r.Header.Get("x-api-key"))
}

// readCookie returns our cookie's value under its per-scheme name.
func readCookie(c echo.Context, name string) string {
	if ck, err := c.Cookie(web.CookieName(c, name)); err == nil {
		return ck.Value
	}
	return ""
}

// issueCSRF puts the request's CSRF token on it for forms and HTMX; csrf
// checks it per route. The token is an HMAC of the signed-in session's
// token, so a token is worthless with any other session. Before sign-in it
// is an HMAC of a random cookie (double submit), so the login and setup
// forms are covered too; a cookie planted by a sibling subdomain does not
// help, as the attacker cannot compute its HMAC (and over HTTPS the
// __Host- name keeps such cookies out altogether).
func (h *Handler) issueCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(web.CtxCSRF, h.csrfToken(c))
		return next(c)
	}
}

func (h *Handler) csrfToken(c echo.Context) string {
	if s := web.SessionToken(c); s != "" {
		return h.csrfMAC("session", s)
	}
	v := readCookie(c, csrfCookie)
	if len(v) < 32 {
		v = db.RandomToken()
		h.setCookie(c, csrfCookie, v, 0)
	}
	return h.csrfMAC("anonymous", v)
}

func (h *Handler) csrfMAC(kind, value string) string {
	mac := hmac.New(sha256.New, h.csrfKey)
	mac.Write([]byte(kind + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// csrf checks that every non-GET request of a browser route repeats the
// CSRF cookie in the X-CSRF-Token header (HTMX) or the _csrf form field.
// The route table applies it; deploy webhooks, called by git hosts and CI
// with no cookies of ours, have none.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc { return checkCSRF(next, false) }

// csrfUnlessToken is csrf for the API group: a request that authenticates
// by API token carries no cookies, so it cannot be forged cross-site.
func (h *Handler) csrfUnlessToken(next echo.HandlerFunc) echo.HandlerFunc {
	return checkCSRF(next, true)
}

func checkCSRF(next echo.HandlerFunc, tokenExempt bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		// Only API routes authenticate by token; anywhere else a token header
		// proves nothing, and the session cookie must still be CSRF-checked.
		if tokenExempt && apiToken(c.Request()) != "" {
			return next(c)
		}
		sent := c.Request().Header.Get("X-CSRF-Token")
		if sent == "" {
			sent = c.FormValue("_csrf")
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(web.CSRF(c))) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "Invalid or missing CSRF token. Reload the page and try again.")
		}
		return next(c)
	}
}

// loadUser resolves the session cookie, if any.
func (h *Handler) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if token := readCookie(c, web.SessionCookie); token != "" {
			u, err := h.Store.SessionUser(c.Request().Context(), token)
			switch {
			case err == nil:
				c.Set(web.CtxUser, u)
				web.SetSessionToken(c, token)
			case errors.Is(err, db.ErrNotFound):
				h.setCookie(c, web.SessionCookie, "", -1)
			default:
				return err
			}
		}
		return next(c)
	}
}

// requireUser sends anonymous browsers to the login page (or setup on a
// fresh install).
func (h *Handler) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u := web.CurrentUser(c); u != nil {
			if u.MustEnrolTwoFactor && !twoFactorEnrolmentPath(c.Path()) {
				return web.Redirect(c, "/account?two_factor=required")
			}
			if err := h.setAccess(c, u, nil); err != nil {
				return err
			}
			return next(c)
		}
		target := "/login"
		if h.setupOpen(c.Request().Context()) {
			target = "/setup"
		}
		if web.IsHTMX(c) {
			c.Response().Header().Set("HX-Redirect", target)
			return c.NoContent(http.StatusUnauthorized)
		}
		return c.Redirect(http.StatusSeeOther, target)
	}
}

// twoFactorEnrolmentPath lists the routes a user whom Settings require to
// turn two-factor sign-in on may still use before they have: the account
// page (where it is set up) and signing out.
func twoFactorEnrolmentPath(route string) bool {
	return route == "/account" || strings.HasPrefix(route, "/account/two-factor") || route == "/logout"
}

// setAccess works out what the signed-in request may reach, for the
// route rules (authz.go) and the list filters.
func (h *Handler) setAccess(c echo.Context, u *db.User, t *db.APIToken) error {
	a, err := h.Store.AccessFor(c.Request().Context(), u, t)
	if err != nil {
		return err
	}
	c.Set(web.CtxAccess, a)
	return nil
}

// requireAPIUser accepts an API token or a browser session.
func (h *Handler) requireAPIUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if tok := apiToken(c.Request()); tok != "" {
			u, t, err := h.Store.APITokenUser(c.Request().Context(), tok)
			if errors.Is(err, db.ErrNotFound) {
				return web.Error(http.StatusUnauthorized, "", "invalid API token")
			}
			if err != nil {
				return err
			}
			c.Set(web.CtxUser, u)
			c.Set(web.CtxViaToken, true)
			c.Set(web.CtxTokenName, t.Name)
			c.Set(web.CtxTokenID, t.ID)
			if err := h.setAccess(c, u, t); err != nil {
				return err
			}
			return next(c)
		}
		u := web.CurrentUser(c)
		if u == nil {
			return web.Error(http.StatusUnauthorized, "", "authentication required: send Authorization: Bearer <token> or x-api-key")
		}
		if u.MustEnrolTwoFactor && !strings.HasPrefix(c.Path(), "/api/v1/account/two-factor") {
			return web.Error(http.StatusForbidden, "", "two-factor sign-in is required on this server: set it up first (Account page, or /api/v1/account/two-factor)")
		}
		if err := h.setAccess(c, u, nil); err != nil {
			return err
		}
		return next(c)
	}
}

func (h *Handler) showLoginPage(c echo.Context) error {
	if web.CurrentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	if h.setupOpen(c.Request().Context()) {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	return h.Page(c, http.StatusOK, "login", &views.Page{Title: "Sign in", Data: views.NewForm()})
}

func (h *Handler) login(c echo.Context) error {
	form := views.NewForm()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	form.Values["email"] = email
	ip := h.clientIP(c.Request())
	// The attempt is counted before the password is hashed, so parallel
	// requests cannot all slip past the limit.
	wait, release := h.limiter.reserve(ip, email)
	if wait > 0 {
		form.Error = fmt.Sprintf("Too many failed sign-in attempts. Try again in %s.", wait.Round(time.Second))
		return h.Page(c, http.StatusTooManyRequests, "login", &views.Page{Title: "Sign in", Data: form})
	}
	u, err := h.Store.UserByEmail(c.Request().Context(), email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	hash := h.dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	// Hash even for unknown emails so response time does not tell which
	// accounts exist.
	ok := false
	if !h.hashes.run(c.Request().Context(), func() { ok = db.CheckPassword(hash, c.FormValue("password")) }) {
		c.Response().Header().Set("Retry-After", "5")
		form.Error = "The server is busy signing others in. Try again in a few seconds."
		return h.Page(c, http.StatusServiceUnavailable, "login", &views.Page{Title: "Sign in", Data: form})
	}
	if !ok || err != nil {
		h.auditSignIn(c, "sign_in.failed", email, u, http.StatusUnauthorized, "wrong email or password")
		form.Error = "Wrong email or password."
		return h.Page(c, http.StatusUnauthorized, "login", &views.Page{Title: "Sign in", Data: form})
	}
	release()
	if u.DisabledAt != nil {
		h.auditSignIn(c, "sign_in.failed", email, u, http.StatusForbidden, "account disabled")
		// Said only after the right password: it tells nothing to a guesser.
		form.Error = "This account is disabled. Ask an owner or admin of this server to enable it."
		return h.Page(c, http.StatusForbidden, "login", &views.Page{Title: "Sign in", Data: form})
	}
	if u.TwoFactorOn() {
		return h.askSecondFactor(c, u)
	}
	h.auditSignIn(c, "sign_in", email, u, http.StatusSeeOther, "password")
	return h.startSession(c, u, "/")
}

// twoFactorCookie holds the token of a sign-in whose password was
// accepted and that waits for its second factor.
const twoFactorCookie = "dokploy_2fa"

// askSecondFactor starts the second step of a sign-in: the password was
// right, the session starts once a code is.
func (h *Handler) askSecondFactor(c echo.Context, u *db.User) error {
	token, err := h.Store.CreateSignInChallenge(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	h.setCookie(c, twoFactorCookie, token, int(db.SignInChallengeTTL.Seconds()))
	return web.Redirect(c, "/login/two-factor")
}

func (h *Handler) showTwoFactorLogin(c echo.Context) error {
	if _, err := h.Store.SignInChallengeUser(c.Request().Context(), readCookie(c, twoFactorCookie)); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return err
	}
	return h.Page(c, http.StatusOK, "login_two_factor", &views.Page{Title: "Two-factor sign-in", Data: views.NewForm()})
}

// loginTwoFactor finishes a sign-in with the code of the user's
// authenticator or a recovery code. Wrong codes count against the
// challenge (a few end it) and against the sign-in limits of the address
// and account, like wrong passwords.
func (h *Handler) loginTwoFactor(c echo.Context) error {
	ctx := c.Request().Context()
	token := readCookie(c, twoFactorCookie)
	u, err := h.Store.SignInChallengeUser(ctx, token)
	if errors.Is(err, db.ErrNotFound) {
		form := views.NewForm()
		form.Error = "This sign-in expired or had too many wrong codes. Enter your password again."
		return h.Page(c, http.StatusUnauthorized, "login", &views.Page{Title: "Sign in", Data: form})
	}
	if err != nil {
		return err
	}
	form := views.NewForm()
	wait, release := h.limiter.reserve(h.clientIP(c.Request()), "2fa:"+u.Email)
	if wait > 0 {
		form.Error = fmt.Sprintf("Too many wrong codes. Try again in %s.", wait.Round(time.Second))
		return h.Page(c, http.StatusTooManyRequests, "login_two_factor", &views.Page{Title: "Two-factor sign-in", Data: form})
	}
	recovery, err := h.Ops.CheckSecondFactor(ctx, u, c.FormValue("code"))
	if errors.Is(err, ops.ErrWrongSecondFactor) {
		h.auditSignIn(c, "sign_in.failed", u.Email, u, http.StatusUnauthorized, "wrong two-factor code")
		left, ferr := h.Store.FailSignInChallenge(ctx, token)
		if ferr != nil && !errors.Is(ferr, db.ErrNotFound) {
			return ferr
		}
		if left == 0 {
			h.setCookie(c, twoFactorCookie, "", -1)
			form.Error = "Too many wrong codes. Enter your password again."
			return h.Page(c, http.StatusUnauthorized, "login", &views.Page{Title: "Sign in", Data: form})
		}
		form.Errors["code"] = fmt.Sprintf("That code is wrong or was already used (%d tries left).", left)
		return h.Page(c, http.StatusUnauthorized, "login_two_factor", &views.Page{Title: "Two-factor sign-in", Data: form})
	}
	if err != nil {
		return err
	}
	release()
	if err := h.Store.EndSignInChallenge(ctx, token); err != nil {
		return err
	}
	h.setCookie(c, twoFactorCookie, "", -1)
	how := "password and two-factor code"
	if recovery {
		how = "password and recovery code"
	}
	h.auditSignIn(c, "sign_in", u.Email, u, http.StatusSeeOther, how)
	if recovery {
		// The account page says how many codes are left.
		return h.startSession(c, u, "/account?two_factor=recovery-used")
	}
	return h.startSession(c, u, "/")
}

func (h *Handler) startSession(c echo.Context, u *db.User, to string) error {
	token, err := h.Store.CreateSession(c.Request().Context(), u.ID, h.clientIP(c.Request()), c.Request().UserAgent())
	if err != nil {
		return err
	}
	h.setCookie(c, web.SessionCookie, token, int(db.SessionTTL.Seconds()))
	return web.Redirect(c, to)
}

func (h *Handler) logout(c echo.Context) error {
	if token := readCookie(c, web.SessionCookie); token != "" {
		if err := h.Store.DeleteSession(c.Request().Context(), token); err != nil {
			return err
		}
	}
	h.setCookie(c, web.SessionCookie, "", -1)
	return web.Redirect(c, "/login")
}

func (h *Handler) showSetupPage(c echo.Context) error {
	if !h.setupOpen(c.Request().Context()) {
		return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
	}
	form := views.NewForm()
	form.Values["token"] = c.QueryParam("token")
	if !h.checkSetupToken(form.Values["token"]) {
		// Another request may have finished setup since the check above.
		if h.SetupLink() == "" {
			return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
		}
		form.Error = "This page needs the one-time setup link printed on the server console when dokploy started."
		return h.Page(c, http.StatusForbidden, "setup", &views.Page{Title: "Set up", Data: form})
	}
	return h.Page(c, http.StatusOK, "setup", &views.Page{Title: "Set up", Data: form})
}

func (h *Handler) setup(c echo.Context) error {
	if !h.setupOpen(c.Request().Context()) {
		return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
	}
	form := views.NewForm()
	for _, k := range []string{"token", "email"} {
		form.Values[k] = strings.TrimSpace(c.FormValue(k))
	}
	if !h.checkSetupToken(form.Values["token"]) {
		// Another request may have finished setup since the check above.
		if h.SetupLink() == "" {
			return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
		}
		form.Error = "The setup token is missing or wrong. Use the link printed on the server console."
		return h.Page(c, http.StatusForbidden, "setup", &views.Page{Title: "Set up", Data: form})
	}
	if err := ops.ValidateEmail(form.Values["email"]); err != nil {
		form.Errors["email"] = err.Error()
	}
	password := c.FormValue("password")
	if err := db.ValidatePassword(password); err != nil {
		form.Errors["password"] = err.Error()
	} else if password != c.FormValue("password_confirm") {
		form.Errors["password_confirm"] = "passwords do not match"
	}
	if !form.Valid() {
		return h.Page(c, http.StatusUnprocessableEntity, "setup", &views.Page{Title: "Set up", Data: form})
	}
	hash, err := db.HashPassword(password)
	if err != nil {
		return err
	}
	u, err := h.Store.CreateFirstUser(c.Request().Context(), form.Values["email"], hash)
	if errors.Is(err, db.ErrNotFound) {
		h.closeSetup()
		return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
	}
	if err != nil {
		return err
	}
	h.closeSetup()
	return h.startSession(c, u, "/")
}

// requestID gives every request an id, echoed in X-Request-Id and carried
// by the error funnel's log lines, so a user's report finds its log line.
func (h *Handler) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := db.RandomToken()[:12]
		c.Set(web.CtxRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}
