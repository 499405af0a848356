package pages

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/views"
)

// ShowAccountPage shows the signed-in user's password form, sessions and
// API tokens (the last two are the same panels as on Settings).
func (h *Handler) ShowAccountPage(c echo.Context) error {
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	return h.renderSettingsPage(c, http.StatusOK, "account", p)
}

// ChangePassword changes the user's own password through
// ops.ChangePassword: the session asking stays signed in, every other
// one ends. The password fields are never echoed back.
func (h *Handler) ChangePassword(c echo.Context) error {
	ctx := c.Request().Context()
	form := views.NewForm()
	current, next := c.FormValue("current_password"), c.FormValue("new_password")
	keep := ""
	if s := web.SessionToken(c); s != "" {
		keep = db.SessionIDFor(s)
	}
	if next != c.FormValue("new_password_confirm") {
		// Checked first: nothing may change while the two disagree.
		form.Errors["new_password_confirm"] = "The two new passwords do not match."
	} else if err := h.Ops.ChangePassword(ctx, web.CurrentUser(c).ID, current, next, keep); err != nil && !formErrors(form, err) {
		return err
	}
	return h.renderPassword(c, form)
}

func (h *Handler) renderPassword(c echo.Context, form *views.Form) error {
	p, err := h.loadSettings(c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !form.Valid() {
		p.Password, status = form, http.StatusUnprocessableEntity
	} else {
		p.PasswordMsg = "Password changed. Your other sessions were signed out; this one stays signed in."
	}
	if !web.IsHTMX(c) {
		return h.renderSettingsPage(c, status, "account", p)
	}
	p.SessionsOOB = p.PasswordMsg != ""
	return h.Partial(c, status, "account_password", p)
}
