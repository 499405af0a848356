package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"
)

// ListInvitations lists the invitations not yet accepted.
func (h *Handler) ListInvitations(c echo.Context) error {
	list, err := h.Store.OpenInvitations(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, list))
}

// CreateInvitation answers with the one-time link: the only time it is
// shown.
func (h *Handler) CreateInvitation(c echo.Context) error {
	var in struct {
		Email         string `json:"email"`
		Role          string `json:"role"`
		ProjectID     *int64 `json:"project_id"`
		Level         string `json:"level"`
		ExpiresInDays int    `json:"expires_in_days"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	sent, err := h.Ops.Invite(c.Request().Context(), web.Access(c), ops.NewInvitation{
		Email: in.Email, Role: in.Role, ProjectID: in.ProjectID, Level: in.Level, ExpiresInDays: in.ExpiresInDays}, h.InvitationLink)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, struct {
		Invitation any    `json:"invitation"`
		Link       string `json:"link"`
		EmailedVia string `json:"emailed_via"`
		EmailError string `json:"email_error,omitempty"`
	}{sent.Invitation, sent.Link, sent.EmailedVia, sent.EmailError})
}

// DeleteInvitation revokes an open invitation.
func (h *Handler) DeleteInvitation(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.RevokeInvitation(c.Request().Context(), web.Access(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
