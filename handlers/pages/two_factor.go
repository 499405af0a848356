package pages

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// twoFactorPanel is the account page's two-factor panel.
type twoFactorPanel struct {
	ops.TwoFactorStatus
	Enrolment     *ops.TwoFactorEnrolment // waiting for its first code
	QR            template.URL            // the enrolment's otpauth URI as a PNG data URI
	RecoveryCodes []string                // just made: shown this once
	Notice        string                  // why the user was sent here
	Msg           string
	Form          *views.Form
	CSRF          string
}

// loadTwoFactor builds the panel for the signed-in user.
func (h *Handler) loadTwoFactor(c echo.Context) (*twoFactorPanel, error) {
	ctx := c.Request().Context()
	u := web.CurrentUser(c)
	st, err := h.Ops.TwoFactorStatus(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	p := &twoFactorPanel{TwoFactorStatus: st, Form: views.NewForm(), CSRF: web.CSRF(c)}
	if st.Pending {
		if p.Enrolment, err = h.Ops.PendingTwoFactor(ctx, u.ID, web.TwoFactorIssuer(c)); err != nil {
			return nil, err
		}
		if p.Enrolment != nil {
			png, err := qrcode.Encode(p.Enrolment.URI, qrcode.Medium, 240)
			if err != nil {
				return nil, err
			}
			p.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)) //nolint:gosec // our own PNG
		}
	}
	switch c.QueryParam("two_factor") {
	case "required":
		if !st.Enabled {
			p.Notice = "This server requires two-factor sign-in. Set it up below to go on."
		}
	case "recovery-used":
		p.Notice = "You signed in with a recovery code; it no longer works. Make new codes below when few are left."
	}
	return p, nil
}

// renderTwoFactor answers a two-factor form: the panel (HTMX) or the
// whole account page.
func (h *Handler) renderTwoFactor(c echo.Context, err error, done string, codes []string) error {
	form := views.NewForm()
	if err != nil && !formErrors(form, err) {
		return err
	}
	p, lerr := h.loadTwoFactor(c)
	if lerr != nil {
		return lerr
	}
	status := http.StatusOK
	if err != nil {
		p.Form, status = form, http.StatusUnprocessableEntity
	} else {
		p.Msg, p.RecoveryCodes = done, codes
	}
	if !web.IsHTMX(c) {
		sp, err := h.loadSettings(c)
		if err != nil {
			return err
		}
		sp.TwoFactor = p
		return h.renderSettingsPage(c, status, "account", sp)
	}
	return h.Partial(c, status, "account_two_factor", p)
}

// BeginTwoFactor starts an enrolment: the panel shows its QR code.
func (h *Handler) BeginTwoFactor(c echo.Context) error {
	_, err := h.Ops.BeginTwoFactor(c.Request().Context(), web.CurrentUser(c).ID, web.TwoFactorIssuer(c))
	return h.renderTwoFactor(c, err, "", nil)
}

// ConfirmTwoFactor turns it on with a first code and shows the recovery codes.
func (h *Handler) ConfirmTwoFactor(c echo.Context) error {
	codes, err := h.Ops.ConfirmTwoFactor(c.Request().Context(), web.CurrentUser(c).ID, c.FormValue("code"))
	return h.renderTwoFactor(c, err, "Two-factor sign-in is on. Save these recovery codes now: they are shown only this once.", codes)
}

// NewRecoveryCodes replaces the recovery codes.
func (h *Handler) NewRecoveryCodes(c echo.Context) error {
	codes, err := h.Ops.NewRecoveryCodes(c.Request().Context(), web.CurrentUser(c).ID, c.FormValue("password"))
	return h.renderTwoFactor(c, err, "New recovery codes; the old ones no longer work. Save these now: they are shown only this once.", codes)
}

// DisableTwoFactor turns it off (or cancels a set-up).
func (h *Handler) DisableTwoFactor(c echo.Context) error {
	err := h.Ops.DisableTwoFactor(c.Request().Context(), web.CurrentUser(c).ID, c.FormValue("password"))
	return h.renderTwoFactor(c, err, "Two-factor sign-in is off: a password alone signs you in.", nil)
}

// UpdateRequireTwoFactor is the Settings switch that makes two-factor
// sign-in compulsory for every user.
func (h *Handler) UpdateRequireTwoFactor(c echo.Context) error {
	on := c.FormValue("require_two_factor") == "on"
	done := "Saved: two-factor sign-in is optional."
	if on {
		done = "Saved: every user must use two-factor sign-in; those without it set it up at their next page view."
	}
	msg, problem, err := outcome(h.Ops.SetRequireTwoFactor(c.Request().Context(), web.CurrentUser(c), on), done)
	if err != nil {
		return err
	}
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	p.SecurityMsg, p.SecurityErr = msg, problem
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	if !web.IsHTMX(c) {
		return h.renderSettingsPage(c, status, "settings", p)
	}
	if p.TwoFactor, err = h.loadTwoFactor(c); err != nil { // the panel shows whether yours is on
		return err
	}
	return h.Partial(c, status, "settings_security", p)
}
