package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"dokploy/jobs/routing"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"dokploy/db"
	"dokploy/traefik"
)

func (h *Handler) addBasicAuthUser(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	user := strings.TrimSpace(c.FormValue("username"))
	msg, perr := "", ""
	problem, err := h.saveBasicAuthUser(ctx, a, user, c.FormValue("password"))
	switch {
	case err != nil:
		return err
	case problem != "":
		perr = problem
	default:
		msg, perr = "User "+user+" added: every domain of this app now asks for a password.", h.syncRouting(ctx)
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "auth", msg, perr })
}

// saveBasicAuthUser hashes and stores a basic-auth user. problem is a
// message for the person when the input is refused; err is a failure.
func (h *Handler) saveBasicAuthUser(ctx context.Context, a *db.App, user, password string) (problem string, err error) {
	if len(password) < 8 || len(password) > 72 {
		return "The password must be 8 to 72 characters (bcrypt's limit).", nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	if err := traefik.ValidateBasicAuthUser(traefik.BasicAuthUser{Username: user, PasswordHash: string(hash)}); err != nil {
		return "Username " + fieldMessage(err) + ".", nil
	}
	if err := h.store.AddBasicAuthUser(ctx, a.ID, user, string(hash)); errors.Is(err, db.ErrConflict) {
		return "User " + user + " already exists.", nil
	} else if err != nil {
		return "", err
	}
	return "", nil
}

func (h *Handler) deleteBasicAuthUser(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.Param("uid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	if err := h.store.DeleteBasicAuthUser(c.Request().Context(), a.ID, uid); err != nil {
		return err
	}
	failed := h.syncRouting(c.Request().Context())
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "auth", "User removed.", failed })
}

func (h *Handler) addRedirect(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rd := &db.Redirect{AppID: a.ID, Regex: strings.TrimSpace(c.FormValue("regex")),
		Replacement: strings.TrimSpace(c.FormValue("replacement")), Permanent: c.FormValue("permanent") == "on"}
	msg, perr := "", ""
	if problem, err := h.saveRedirect(ctx, rd); err != nil {
		return err
	} else if problem != "" {
		perr = problem
	} else {
		msg, perr = "Redirect added.", h.syncRouting(ctx)
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "redirects", msg, perr })
}

// saveRedirect validates and stores a regex redirect (see saveBasicAuthUser).
func (h *Handler) saveRedirect(ctx context.Context, rd *db.Redirect) (problem string, err error) {
	if err := traefik.ValidateRedirect(routing.ToTraefikRedirect(db.Redirect{ID: 1, Regex: rd.Regex, Replacement: rd.Replacement})); err != nil {
		return "Redirect not saved: " + err.Error(), nil
	}
	return "", h.store.CreateRedirect(ctx, rd)
}

func (h *Handler) deleteRedirect(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	rid, err := strconv.ParseInt(c.Param("rid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	if err := h.store.DeleteRedirect(c.Request().Context(), a.ID, rid); err != nil {
		return err
	}
	failed := h.syncRouting(c.Request().Context())
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "redirects", "Redirect removed.", failed })
}

// parseHeaderLines reads "Name: value" lines; an empty value removes the
// header from the message.
func parseHeaderLines(text, kind string) ([]db.Header, error) {
	var out []db.Header
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok {
			return nil, fmt.Errorf("line %d: expected Name: value", i+1)
		}
		if err := traefik.ValidateHeader(name, value); err != nil {
			return nil, fmt.Errorf("line %d: %s", i+1, fieldMessage(err))
		}
		key := strings.ToLower(name)
		if seen[key] {
			return nil, fmt.Errorf("line %d: header %s is listed twice", i+1, name)
		}
		seen[key] = true
		out = append(out, db.Header{Kind: kind, Name: name, Value: value})
	}
	if len(out) > 50 {
		return nil, errors.New("at most 50 headers")
	}
	return out, nil
}

func (h *Handler) updateHeaders(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	resp, err1 := parseHeaderLines(c.FormValue("headers"), db.HeaderResponse)
	req, err2 := parseHeaderLines(c.FormValue("request_headers"), db.HeaderRequest)
	msg, perr := "", ""
	switch {
	case err1 != nil:
		perr = "Response headers not saved: " + err1.Error()
	case err2 != nil:
		perr = "Request headers not saved: " + err2.Error()
	default:
		if err := h.store.SetAppHeaders(ctx, a.ID, db.HeaderResponse, resp); err != nil {
			return err
		}
		if err := h.store.SetAppHeaders(ctx, a.ID, db.HeaderRequest, req); err != nil {
			return err
		}
		msg, perr = "Headers saved.", h.syncRouting(ctx)
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) {
		p.Section, p.Message, p.Error = "headers", msg, perr
		if msg == "" {
			p.Headers, p.ReqHeaders = c.FormValue("headers"), c.FormValue("request_headers")
		}
	})
}

// ---- JSON API ------------------------------------------------------------
