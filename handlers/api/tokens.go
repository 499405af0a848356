package api

import (
	"net/http"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// ListTokens lists the caller's tokens; ?all=true lists every user's, for
// owners and admins.
func (h *Handler) ListTokens(c echo.Context) error {
	if c.QueryParam("all") == "true" {
		if !web.Access(c).Admin() {
			return web.Error(http.StatusForbidden, "", "Only owners and admins can list every user's tokens.")
		}
		all, err := h.Store.AllAPITokens(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, pageOf(c, all))
	}
	tokens, err := h.Store.APITokens(c.Request().Context(), web.CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, tokens))
}

// CreateToken answers with the token in clear: the only time it is shown.
func (h *Handler) CreateToken(c echo.Context) error {
	var in struct {
		Name          string  `json:"name"`
		Scope         string  `json:"scope"`
		ProjectIDs    []int64 `json:"project_ids"`
		ExpiresInDays int     `json:"expires_in_days"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	t, token, err := h.Ops.CreateAPIToken(c.Request().Context(), web.Access(c), ops.NewToken{
		Name: in.Name, Scope: in.Scope, ProjectIDs: in.ProjectIDs, ExpiresInDays: in.ExpiresInDays})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, struct {
		*db.APIToken
		Token string `json:"token"`
	}{t, token})
}

func (h *Handler) RevokeToken(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.RevokeAPIToken(c.Request().Context(), web.Access(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
