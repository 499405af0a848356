package api

import (
	"net/http"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

func (h *Handler) ListTokens(c echo.Context) error {
	tokens, err := h.Store.APITokens(c.Request().Context(), web.CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, tokens))
}

// CreateToken answers with the token in clear: the only time it is shown.
func (h *Handler) CreateToken(c echo.Context) error {
	name, err := bindName(c)
	if err != nil {
		return err
	}
	t, token, err := h.Ops.CreateAPIToken(c.Request().Context(), web.CurrentUser(c).ID, name)
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
	if err := h.Ops.RevokeAPIToken(c.Request().Context(), web.CurrentUser(c).ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
