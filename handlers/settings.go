package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

type settingsPage struct {
	Tokens         []db.APIToken
	NewToken       string
	TokenForm      *views.Form
	Sessions       []db.Session
	CurrentSession string
	Concurrency    int
	ConcurrencyMsg string
	ConcurrencyErr string
	CSRF           string
}

func (h *Handler) loadSettings(c echo.Context) (*settingsPage, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	p := &settingsPage{TokenForm: views.NewForm()}
	var err error
	if p.Tokens, err = h.store.APITokens(ctx, u.ID); err != nil {
		return nil, err
	}
	if p.Sessions, err = h.store.SessionsByUser(ctx, u.ID); err != nil {
		return nil, err
	}
	if ck, err := c.Cookie(sessionCookie); err == nil {
		p.CurrentSession = db.SessionIDFor(ck.Value)
	}
	if p.Concurrency, err = h.store.DeployConcurrency(ctx); err != nil {
		return nil, err
	}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	return p, nil
}

func (h *Handler) showSettingsPage(c echo.Context) error {
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.page(c, http.StatusOK, "settings", &views.Page{Title: "Settings", Active: "settings", Data: p})
}

func (h *Handler) updateConcurrency(c echo.Context) error {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("deploy_concurrency")))
	msg, perr := "", ""
	if err != nil || n < 1 || n > 16 {
		perr = "Concurrent deployments must be a whole number from 1 to 16."
	} else {
		if err := h.store.SetSetting(c.Request().Context(), db.SettingDeployConcurrency, strconv.Itoa(n)); err != nil {
			return err
		}
		h.runner.SetConcurrency(n)
		msg = "Saved: up to " + strconv.Itoa(n) + " deployments run at once."
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	p.ConcurrencyMsg, p.ConcurrencyErr = msg, perr
	status := http.StatusOK
	if perr != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.partial(c, status, "settings_concurrency", p)
}

func (h *Handler) createToken(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	form := views.NewForm()
	form.Values["name"] = name
	if err := validateDisplayName(name); err != nil {
		form.Errors["name"] = "Token " + err.Error()
	}
	var clear string
	if form.Valid() {
		_, token, err := h.store.CreateAPIToken(c.Request().Context(), currentUser(c).ID, name)
		if err != nil {
			return err
		}
		clear = token
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	p.NewToken = clear
	if !form.Valid() {
		p.TokenForm = form // keep the input only when it needs fixing
	}
	status := http.StatusOK
	if !form.Valid() {
		status = http.StatusUnprocessableEntity
	}
	return h.partial(c, status, "settings_tokens", p)
}

func (h *Handler) revokeToken(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeAPIToken(c.Request().Context(), currentUser(c).ID, id); err != nil {
		return err
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "settings_tokens", p)
}

func (h *Handler) revokeSession(c echo.Context) error {
	if err := h.store.RevokeSession(c.Request().Context(), currentUser(c).ID, c.Param("id")); err != nil {
		return err
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "settings_sessions", p)
}
