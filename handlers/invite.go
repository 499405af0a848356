package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/pages"
	"dokploy/views"
)

// invitationForm fills the invitation page from the open invitation of
// the link's token; a form without email says the link does not work.
func (h *Handler) invitationForm(c echo.Context) (*views.Form, error) {
	form := views.NewForm()
	token := c.Param("token")
	inv, err := h.Store.OpenInvitation(c.Request().Context(), token)
	if errors.Is(err, db.ErrNotFound) {
		return form, nil
	}
	if err != nil {
		return nil, err
	}
	form.Values["token"], form.Values["email"], form.Values["role"] = token, inv.Email, string(inv.Role)
	if inv.ProjectName != nil {
		form.Values["project"] = *inv.ProjectName
	}
	return form, nil
}

func (h *Handler) showInvitation(c echo.Context) error {
	form, err := h.invitationForm(c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if form.Get("email") == "" {
		status = http.StatusGone
	}
	return h.Page(c, status, "invite", &views.Page{Title: "Invitation", Data: form})
}

// acceptInvitation creates the invitee's account and signs them in.
func (h *Handler) acceptInvitation(c echo.Context) error {
	form, err := h.invitationForm(c)
	if err != nil {
		return err
	}
	if form.Get("email") == "" {
		return h.Page(c, http.StatusGone, "invite", &views.Page{Title: "Invitation", Data: form})
	}
	u, err := h.Ops.AcceptInvitation(c.Request().Context(), c.Param("token"), c.FormValue("password"), c.FormValue("password_confirm"))
	if errors.Is(err, db.ErrNotFound) { // used by a racing request a moment ago
		return h.Page(c, http.StatusGone, "invite", &views.Page{Title: "Invitation", Data: views.NewForm()})
	}
	if err != nil && !pages.FormErrors(form, err) {
		return err
	}
	if !form.Valid() {
		return h.Page(c, http.StatusUnprocessableEntity, "invite", &views.Page{Title: "Invitation", Data: form})
	}
	h.auditSignIn(c, "invitation.accept", u.Email, u, http.StatusSeeOther, "joined as "+string(u.Role))
	return h.startSession(c, u, "/")
}
