package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/ops"
)

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
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "auth", msg, problem })
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
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "auth", msg, problem })
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
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "redirects", msg, problem })
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
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "redirects", msg, problem })
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
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) {
		p.Section, p.Message, p.Error = "headers", msg, perr
		if msg == "" {
			p.Headers, p.ReqHeaders = c.FormValue("headers"), c.FormValue("request_headers")
		}
	})
}

// ---- JSON API ------------------------------------------------------------
