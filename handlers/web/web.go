// Package web is what the two front-ends share: the dependencies of a
// request, the signed-in user, rendering into a buffer, path parameters
// and the error values the error funnel (package handlers) turns into
// responses. It knows nothing of routes.
package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/cpbackup"
	"dokploy/jobs/ops"
	"dokploy/jobs/routing"
	"dokploy/views"
)

// SessionCookie holds a browser's session token. Over HTTPS its name has
// the __Host- prefix (see CookieName).
const SessionCookie = "dokploy_session"

// CookieName is the name a cookie of ours has on this request: over HTTPS
// it carries the __Host- prefix, which browsers accept only when Secure,
// for Path=/ and without a Domain, so a sibling subdomain cannot plant it.
func CookieName(c echo.Context, base string) string {
	if c.Scheme() == "https" {
		return "__Host-" + base
	}
	return base
}

// SessionToken is the browser's session token when it signed in a user
// (set by the session middleware), or "".
func SessionToken(c echo.Context) string {
	s, _ := c.Get(ctxSession).(string)
	return s
}

// SetSessionToken records the request's valid session token.
func SetSessionToken(c echo.Context, token string) { c.Set(ctxSession, token) }

// Keys of values the middleware stores on the request context.
const (
	CtxUser      = "user"
	CtxCSRF      = "csrf"
	CtxViaToken  = "via_token"
	CtxTokenName = "token_name"
	CtxTokenID   = "token_id"
	CtxRequestID = "request_id"
	CtxAccess    = "access"
	ctxFrontEnd  = "front_end"
	ctxSession   = "session_token"
)

// Deps are the dependencies of every handler, shared by both front-ends.
type Deps struct {
	PublicURL string
	Version   string
	Store     *db.Store
	Views     *views.Renderer
	Runner    *jobs.Runner
	Routing   *routing.Service // nil routes nothing (tests)
	Ops       *ops.Service
	// ControlPlane backs the control plane up; nil where it does not run
	// (tests), and its routes then answer 503.
	ControlPlane *cpbackup.Service
}

// CurrentUser is the signed-in user (session or API token), or nil.
func CurrentUser(c echo.Context) *db.User {
	u, _ := c.Get(CtxUser).(*db.User)
	return u
}

// Access is what the signed-in request may reach (its user's role and
// grants, narrowed by its API token), or nil before sign-in.
func Access(c echo.Context) *db.Access {
	a, _ := c.Get(CtxAccess).(*db.Access)
	return a
}

// VisibleProjects is the project filter for list queries: nil for all.
func VisibleProjects(c echo.Context) []int64 { return Access(c).ProjectIDs() }

// errNotFound is what a project the request cannot reach looks like: the
// same answer as one that does not exist, so ids tell nothing.
var errNotFound = echo.NewHTTPError(http.StatusNotFound, "Not found.")

// NeedLevel checks that the request may act at the level in the project:
// 404 when it cannot see the project at all, 403 (saying what it has)
// when it sees it with too little.
func NeedLevel(c echo.Context, projectID int64, need db.Level) error {
	switch got := Access(c).Level(projectID); {
	case got == db.LevelNone:
		return errNotFound
	case got < need:
		return Error(http.StatusForbidden, "", fmt.Sprintf("You have %s access to this project; this needs %s. Ask an owner or admin for more.", got, need))
	}
	return nil
}

// InvitationLink is the absolute URL of an invitation's one-time link.
func (d *Deps) InvitationLink(token string) string {
	return strings.TrimSuffix(d.PublicURL, "/") + "/invite/" + token
}

// CSRF is the request's CSRF token, for forms.
func CSRF(c echo.Context) string {
	s, _ := c.Get(CtxCSRF).(string)
	return s
}

// IsHTMX reports whether HTMX sent the request.
func IsHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// Redirect works for plain forms and HTMX requests alike.
func Redirect(c echo.Context, to string) error {
	if IsHTMX(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// IDParam parses the :id path parameter.
func IDParam(c echo.Context) (int64, error) { return PathID(c, "id") }

// PathID parses a positive numeric path parameter; anything else is 404.
func PathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	return id, nil
}

// LoadApp loads the app named by the :id path parameter.
func (d *Deps) LoadApp(c echo.Context) (*db.App, error) {
	id, err := IDParam(c)
	if err != nil {
		return nil, err
	}
	return d.Store.App(c.Request().Context(), id)
}

// LoadDatabase loads the database named by the :id path parameter.
func (d *Deps) LoadDatabase(c echo.Context) (*db.Database, error) {
	id, err := IDParam(c)
	if err != nil {
		return nil, err
	}
	return d.Store.Database(c.Request().Context(), id)
}

// LoadAppDomain loads the :id domain and its app (not the dashboard's
// domains, which belong to the settings).
func (d *Deps) LoadAppDomain(c echo.Context) (*db.Domain, *db.App, error) {
	id, err := IDParam(c)
	if err != nil {
		return nil, nil, err
	}
	return d.Ops.AppDomain(c.Request().Context(), id)
}

// Page renders a full page into a buffer first, so a template error
// becomes a logged 500 from the error funnel, never a half-written 200.
func (d *Deps) Page(c echo.Context, status int, name string, p *views.Page) error {
	p.CSRF = CSRF(c)
	p.Version = d.Version
	if u := CurrentUser(c); u != nil {
		p.User = u
	}
	var buf bytes.Buffer
	if err := d.Views.Page(&buf, name, p); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// Partial renders an HTMX partial, buffered like Page.
func (d *Deps) Partial(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := d.Views.Partial(&buf, name, data); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// WebhookURL is the deploy webhook address of w.
func (d *Deps) WebhookURL(w *db.Webhook) string {
	return strings.TrimSuffix(d.PublicURL, "/") + "/api/deploy/" + w.Token
}

// AddressMismatch is set when the browser reaches the dashboard at another
// host than DOKPLOY_PUBLIC_URL's, the base of every webhook URL shown: a
// user copying such a URL should know which address it carries.
type AddressMismatch struct {
	Configured string // DOKPLOY_PUBLIC_URL
	Browsing   string // the Host the browser used
}

// PublicAddressMismatch compares the request's host with DOKPLOY_PUBLIC_URL's
// and returns nil when they agree (ports included) or either is unknown.
func (d *Deps) PublicAddressMismatch(c echo.Context) *AddressMismatch {
	u, err := url.Parse(d.PublicURL)
	browsing := c.Request().Host
	if err != nil || u.Host == "" || browsing == "" || strings.EqualFold(u.Host, browsing) {
		return nil
	}
	return &AddressMismatch{Configured: strings.TrimSuffix(d.PublicURL, "/"), Browsing: browsing}
}

// APIError is the JSON error body of every API response.
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field,omitempty"`
}

func (e *APIError) Error() string { return e.Message }

// Error returns an error the funnel answers with status, field and msg.
func Error(status int, field, msg string) error {
	return &APIError{Status: status, Field: field, Message: msg}
}

// APIFrontEnd marks a route group as the JSON API, so the error funnel
// answers its errors with JSON (and the rest with pages or partials).
func APIFrontEnd(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(ctxFrontEnd, "api")
		return next(c)
	}
}

// IsAPI reports whether the request was routed to the JSON API.
func IsAPI(c echo.Context) bool { return c.Get(ctxFrontEnd) == "api" }

// RecordReveal records that the caller was shown secret values (what, of
// which service, how many): who (the user, and the API token's name when
// one was used), from which address and through which front-end, in the
// server log and the audit log. The values themselves are never logged.
func RecordReveal(c echo.Context, what string, serviceID int64, count int) {
	who := ""
	if u := CurrentUser(c); u != nil {
		who = u.Email
	}
	token, _ := c.Get(CtxTokenName).(string)
	slog.Info("secret values revealed", "what", what, "service", serviceID, "values", count,
		"user", who, "token", token, "ip", c.RealIP(), "request_id", c.Get(CtxRequestID))
	// The audit log records it too (the request's event, even on a GET).
	note := db.AuditNoteOf(c.Request().Context())
	values := fmt.Sprintf("%d values", count)
	if count == 1 {
		values = "1 value"
	}
	note.Record("secret.reveal", what+" ("+values+")")
	note.About(db.ResService, serviceID)
}

// TwoFactorIssuer names this installation in authenticator apps:
// "Dokploy (host)", so two servers' entries are told apart.
func TwoFactorIssuer(c echo.Context) string {
	host := c.Request().Host
	if host == "" {
		return "Dokploy"
	}
	return "Dokploy (" + host + ")"
}
