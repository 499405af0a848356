package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
)

// accessPanel is the data of the Advanced tab's access rules: basic-auth
// users, redirects and headers, which apply to every domain of the app.
// After a refusal it carries what the user typed, so nothing is retyped.
type accessPanel struct {
	App        *db.App
	Users      []db.BasicAuthUser
	Redirects  []db.Redirect
	Headers    string // "Name: value" lines
	ReqHeaders string
	Section    string // which sub-form the message belongs to
	Message    string
	Error      string
	CSRF       string

	// Typed input kept after a refusal.
	AuthUser    string
	Regex       string
	Replacement string
	Permanent   bool
}

func (h *Handler) loadAccessPanel(c echo.Context, a *db.App) (*accessPanel, error) {
	ctx := c.Request().Context()
	p := &accessPanel{App: a, CSRF: web.CSRF(c)}
	var err error
	if p.Users, err = h.Store.AppBasicAuth(ctx, a.ID); err != nil {
		return nil, err
	}
	if p.Redirects, err = h.Store.AppRedirects(ctx, a.ID); err != nil {
		return nil, err
	}
	headers, err := h.Store.AppHeaders(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	p.Headers, p.ReqHeaders = formatHeaders(headers, db.HeaderResponse), formatHeaders(headers, db.HeaderRequest)
	return p, nil
}

// renderAccessPanel re-renders the panel after an action, 422 when the
// action's input was refused.
func (h *Handler) renderAccessPanel(c echo.Context, a *db.App, edit func(*accessPanel)) error {
	p, err := h.loadAccessPanel(c, a)
	if err != nil {
		return err
	}
	edit(p)
	status := http.StatusOK
	if p.Error != "" && p.Message == "" {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "app_access", p)
}

func (h *Handler) AddBasicAuthUser(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	user := strings.TrimSpace(c.FormValue("username"))
	_, err = h.Ops.AddBasicAuthUser(c.Request().Context(), a, user, c.FormValue("password"))
	msg, problem, err := outcome(err, "User "+user+" added: every domain of this app now asks for a password.")
	if err != nil {
		return err
	}
	return h.renderAccessPanel(c, a, func(p *accessPanel) {
		p.Section, p.Message, p.Error = "auth", msg, problem
		if msg == "" {
			p.AuthUser = user // the password is never sent back
		}
	})
}

func (h *Handler) DeleteBasicAuthUser(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.Param("uid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	msg, problem, err := outcome(h.Ops.DeleteBasicAuthUser(c.Request().Context(), a, uid), "User removed.")
	if err != nil {
		return err
	}
	return h.renderAccessPanel(c, a, func(p *accessPanel) { p.Section, p.Message, p.Error = "auth", msg, problem })
}

func (h *Handler) AddRedirect(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	rd := &db.Redirect{ServiceID: a.ID, Regex: c.FormValue("regex"), Replacement: c.FormValue("replacement"), Permanent: c.FormValue("permanent") == "on"}
	msg, problem, err := outcome(h.Ops.AddRedirect(c.Request().Context(), rd), "Redirect added.")
	if err != nil {
		return err
	}
	return h.renderAccessPanel(c, a, func(p *accessPanel) {
		p.Section, p.Message, p.Error = "redirects", msg, problem
		if msg == "" {
			p.Regex, p.Replacement, p.Permanent = rd.Regex, rd.Replacement, rd.Permanent
		}
	})
}

func (h *Handler) DeleteRedirect(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	rid, err := strconv.ParseInt(c.Param("rid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	msg, problem, err := outcome(h.Ops.DeleteRedirect(c.Request().Context(), a, rid), "Redirect removed.")
	if err != nil {
		return err
	}
	return h.renderAccessPanel(c, a, func(p *accessPanel) { p.Section, p.Message, p.Error = "redirects", msg, problem })
}

func (h *Handler) UpdateHeaders(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	resp, err1 := ops.ParseHeaderLines(c.FormValue("headers"), db.HeaderResponse)
	req, err2 := ops.ParseHeaderLines(c.FormValue("request_headers"), db.HeaderRequest)
	msg, perr := "", ""
	switch {
	case err1 != nil:
		perr = "Response headers not saved: " + err1.Error()
	case err2 != nil:
		perr = "Request headers not saved: " + err2.Error()
	default:
		if msg, perr, err = outcome(h.Ops.SetHeaders(c.Request().Context(), a, resp, req), "Headers saved."); err != nil {
			return err
		}
	}
	return h.renderAccessPanel(c, a, func(p *accessPanel) {
		p.Section, p.Message, p.Error = "headers", msg, perr
		if msg == "" {
			p.Headers, p.ReqHeaders = c.FormValue("headers"), c.FormValue("request_headers")
		}
	})
}
