package pages

import (
	"net/http"
	"strconv"
	"strings"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

type settingsPage struct {
	Tokens         []db.APIToken
	NewToken       string
	TokenForm      *views.Form
	TokenProjects  []db.Project // what a new token may be limited to
	Sessions       []db.Session
	CurrentSession string
	Concurrency    int
	ConcurrencyMsg string
	ConcurrencyErr string
	CSRF           string
	// The account page: its change-password form and what it said.
	Email       string
	PasswordMsg string
	Password    *views.Form
	SessionsOOB bool // an HTMX answer also replaces the sessions panel
	// Two-factor sign-in: the account page's panel, and the Settings
	// switch that requires it of everyone.
	TwoFactor   *twoFactorPanel
	SecurityMsg string
	SecurityErr string
}

func (h *Handler) loadSettings(c echo.Context) (*settingsPage, error) {
	ctx := c.Request().Context()
	u := web.CurrentUser(c)
	p := &settingsPage{TokenForm: views.NewForm(), Password: views.NewForm(), Email: u.Email}
	var err error
	if p.Tokens, err = h.Store.APITokens(ctx, u.ID); err != nil {
		return nil, err
	}
	if p.TokenProjects, err = h.Store.ProjectNames(ctx, web.VisibleProjects(c)); err != nil {
		return nil, err
	}
	if p.Sessions, err = h.Store.SessionsByUser(ctx, u.ID); err != nil {
		return nil, err
	}
	if s := web.SessionToken(c); s != "" {
		p.CurrentSession = db.SessionIDFor(s)
	}
	if p.Concurrency, err = h.Store.DeployConcurrency(ctx); err != nil {
		return nil, err
	}
	p.CSRF = web.CSRF(c)
	return p, nil
}

// settingsTitles names the two full pages settingsPage backs.
var settingsTitles = map[string]string{"settings": "Settings", "account": "Account"}

// renderSettingsPage renders the Settings or Account page in full. The
// two-factor panel is loaded here, for full pages only (2–3 queries and,
// while a set-up is pending, a QR code): the partials after a token or
// session change do not show it.
func (h *Handler) renderSettingsPage(c echo.Context, status int, page string, p *settingsPage) error {
	if p.TwoFactor == nil {
		var err error
		if p.TwoFactor, err = h.loadTwoFactor(c); err != nil {
			return err
		}
	}
	return h.Page(c, status, page, &views.Page{Title: settingsTitles[page], Active: page, Data: p})
}

func (h *Handler) ShowSettingsPage(c echo.Context) error {
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.renderSettingsPage(c, http.StatusOK, "settings", p)
}

func (h *Handler) UpdateConcurrency(c echo.Context) error {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("deploy_concurrency")))
	if err != nil {
		n = 0 // refused by SetConcurrency with its message
	}
	msg, perr, err := outcome(h.Ops.SetDeploySettings(c.Request().Context(), &n, nil), "Saved: up to "+strconv.Itoa(n)+" deployments run at once.")
	if err != nil {
		return err
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
	return h.Partial(c, status, "settings_concurrency", p)
}

func (h *Handler) CreateToken(c echo.Context) error {
	form := views.NewForm()
	for _, k := range []string{"name", "scope", "expires_in_days"} {
		form.Values[k] = strings.TrimSpace(c.FormValue(k))
	}
	in := ops.NewToken{Name: form.Values["name"], Scope: form.Values["scope"]}
	in.ExpiresInDays, _ = strconv.Atoi(form.Values["expires_in_days"]) // a select: 0 (never) otherwise
	if p := c.FormValue("project_id"); p != "" {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			id = -1 // refused by CreateAPIToken as no such project
		}
		in.ProjectIDs = []int64{id}
	}
	_, clear, err := h.Ops.CreateAPIToken(c.Request().Context(), web.Access(c), in)
	if err != nil && !formErrors(form, err) {
		return err
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
	return h.Partial(c, status, "settings_tokens", p)
}

func (h *Handler) RevokeToken(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.RevokeAPIToken(c.Request().Context(), web.Access(c), id); err != nil {
		return err
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "settings_tokens", p)
}

func (h *Handler) RevokeSession(c echo.Context) error {
	if err := h.Store.RevokeSession(c.Request().Context(), web.CurrentUser(c).ID, c.Param("id")); err != nil {
		return err
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "settings_sessions", p)
}
