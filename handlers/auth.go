package handlers

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

const (
	sessionCookie = "dokploy_session"
	csrfCookie    = "dokploy_csrf"
	ctxUser       = "user"
	ctxCSRF       = "csrf"
	ctxViaToken   = "via_token"
	ctxTokenName  = "token_name"
)

// clientIP is the address rate limits and the session list use. echo's
// default RealIP takes the first X-Forwarded-For entry, which any client can
// set; this takes the nearest address not on a loopback or private network
// (Traefik and Docker networks are trusted, clients are not).
var clientIP = echo.ExtractIPFromXFFHeader()

// isHTTPS decides the cookies' Secure flag: set whenever the browser talks
// HTTPS, directly or through Traefik.
func isHTTPS(c echo.Context) bool { return c.Scheme() == "https" }

func (h *Handler) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
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

// csrf implements double-submit protection: a random cookie whose value every
// non-GET request must repeat in the X-CSRF-Token header (HTMX) or the _csrf
// form field. Token-authenticated API calls carry no cookies and are exempt.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// Deploy webhooks are called by git hosts and CI, never by a browser
		// with our cookies; the URL token and the signature authenticate them.
		// c.Path() is the matched route, so no crafted URL reaches another
		// handler through this exemption.
		if c.Path() == "/api/deploy/:token" && strings.HasPrefix(c.Request().URL.Path, "/api/deploy/") {
			return next(c)
		}
		token := ""
		if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
			token = ck.Value
		} else {
			token = db.RandomToken()
			h.setCookie(c, csrfCookie, token, 0)
		}
		c.Set(ctxCSRF, token)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		// Only API routes authenticate by token; anywhere else a token header
		// proves nothing, and the session cookie must still be CSRF-checked.
		if apiToken(c.Request()) != "" && strings.HasPrefix(c.Request().URL.Path, "/api/") {
			return next(c)
		}
		sent := c.Request().Header.Get("X-CSRF-Token")
		if sent == "" {
			sent = c.FormValue("_csrf")
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "Invalid or missing CSRF token. Reload the page and try again.")
		}
		return next(c)
	}
}

// loadUser resolves the session cookie, if any.
func (h *Handler) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
			u, err := h.store.SessionUser(c.Request().Context(), ck.Value)
			switch {
			case err == nil:
				c.Set(ctxUser, u)
			case errors.Is(err, db.ErrNotFound):
				h.setCookie(c, sessionCookie, "", -1)
			default:
				return err
			}
		}
		return next(c)
	}
}

func currentUser(c echo.Context) *db.User {
	u, _ := c.Get(ctxUser).(*db.User)
	return u
}

// requireUser sends anonymous browsers to the login page (or setup on a
// fresh install).
func (h *Handler) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) != nil {
			return next(c)
		}
		// Unknown /api paths reach this group's catch-all: answer like an API.
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			return apiError(http.StatusNotFound, "", "no such endpoint; the API is described at /api/openapi.json")
		}
		target := "/login"
		if h.SetupLink() != "" {
			target = "/setup"
		}
		if isHTMX(c) {
			c.Response().Header().Set("HX-Redirect", target)
			return c.NoContent(http.StatusUnauthorized)
		}
		return c.Redirect(http.StatusSeeOther, target)
	}
}

// requireAPIUser accepts an API token or a browser session.
func (h *Handler) requireAPIUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if tok := apiToken(c.Request()); tok != "" {
			u, t, err := h.store.APITokenUser(c.Request().Context(), tok)
			if errors.Is(err, db.ErrNotFound) {
				return apiError(http.StatusUnauthorized, "", "invalid API token")
			}
			if err != nil {
				return err
			}
			c.Set(ctxUser, u)
			c.Set(ctxViaToken, true)
			c.Set(ctxTokenName, t.Name)
			return next(c)
		}
		if currentUser(c) == nil {
			return apiError(http.StatusUnauthorized, "", "authentication required: send Authorization: Bearer <token> or x-api-key")
		}
		return next(c)
	}
}

func (h *Handler) page(c echo.Context, status int, name string, p *views.Page) error {
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	p.Version = h.opts.Version
	if u := currentUser(c); u != nil {
		p.User = u
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return h.views.Page(c.Response(), name, p)
}

func (h *Handler) partial(c echo.Context, status int, name string, data any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return h.views.Partial(c.Response(), name, data)
}

func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// redirect works for plain forms and HTMX requests alike.
func redirect(c echo.Context, to string) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

func (h *Handler) showLoginPage(c echo.Context) error {
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	if h.SetupLink() != "" {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	return h.page(c, http.StatusOK, "login", &views.Page{Title: "Sign in", Data: views.NewForm()})
}

func (h *Handler) login(c echo.Context) error {
	form := views.NewForm()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	form.Values["email"] = email
	ip := clientIP(c.Request())
	if wait := h.limiter.blocked(ip, email); wait > 0 {
		form.Error = fmt.Sprintf("Too many failed sign-in attempts. Try again in %s.", wait.Round(time.Second))
		return h.page(c, http.StatusTooManyRequests, "login", &views.Page{Title: "Sign in", Data: form})
	}
	u, err := h.store.UserByEmail(c.Request().Context(), email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	hash := h.dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	// Hash even for unknown emails so response time does not tell which
	// accounts exist.
	if !db.CheckPassword(hash, c.FormValue("password")) || err != nil {
		h.limiter.fail(ip, email)
		form.Error = "Wrong email or password."
		return h.page(c, http.StatusUnauthorized, "login", &views.Page{Title: "Sign in", Data: form})
	}
	h.limiter.succeed(email)
	return h.startSession(c, u)
}

func (h *Handler) startSession(c echo.Context, u *db.User) error {
	token, err := h.store.CreateSession(c.Request().Context(), u.ID, clientIP(c.Request()), c.Request().UserAgent())
	if err != nil {
		return err
	}
	h.setCookie(c, sessionCookie, token, int(db.SessionTTL.Seconds()))
	return redirect(c, "/")
}

func (h *Handler) logout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if err := h.store.DeleteSession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	h.setCookie(c, sessionCookie, "", -1)
	return redirect(c, "/login")
}

func (h *Handler) showSetupPage(c echo.Context) error {
	if h.SetupLink() == "" {
		return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
	}
	form := views.NewForm()
	form.Values["token"] = c.QueryParam("token")
	if !h.checkSetupToken(form.Values["token"]) {
		form.Error = "This page needs the one-time setup link printed on the server console when dokploy started."
		return h.page(c, http.StatusForbidden, "setup", &views.Page{Title: "Set up", Data: form})
	}
	return h.page(c, http.StatusOK, "setup", &views.Page{Title: "Set up", Data: form})
}

func (h *Handler) setup(c echo.Context) error {
	if h.SetupLink() == "" {
		return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
	}
	form := views.NewForm()
	for _, k := range []string{"token", "email"} {
		form.Values[k] = strings.TrimSpace(c.FormValue(k))
	}
	if !h.checkSetupToken(form.Values["token"]) {
		form.Error = "The setup token is missing or wrong. Use the link printed on the server console."
		return h.page(c, http.StatusForbidden, "setup", &views.Page{Title: "Set up", Data: form})
	}
	if err := ValidateEmail(form.Values["email"]); err != nil {
		form.Errors["email"] = err.Error()
	}
	password := c.FormValue("password")
	if err := db.ValidatePassword(password); err != nil {
		form.Errors["password"] = err.Error()
	} else if password != c.FormValue("password_confirm") {
		form.Errors["password_confirm"] = "passwords do not match"
	}
	if !form.Valid() {
		return h.page(c, http.StatusUnprocessableEntity, "setup", &views.Page{Title: "Set up", Data: form})
	}
	hash, err := db.HashPassword(password)
	if err != nil {
		return err
	}
	u, err := h.store.CreateFirstUser(c.Request().Context(), form.Values["email"], hash)
	if errors.Is(err, db.ErrNotFound) {
		h.closeSetup()
		return echo.NewHTTPError(http.StatusNotFound, "Setup is complete. Sign in instead.")
	}
	if err != nil {
		return err
	}
	h.closeSetup()
	return h.startSession(c, u)
}
