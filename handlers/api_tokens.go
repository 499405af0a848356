package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

func (h *Handler) apiListTokens(c echo.Context) error {
	tokens, err := h.store.APITokens(c.Request().Context(), currentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, tokens))
}

// apiCreateToken answers with the token in clear: the only time it is shown.
func (h *Handler) apiCreateToken(c echo.Context) error {
	name, err := bindName(c)
	if err != nil {
		return err
	}
	t, token, err := h.store.CreateAPIToken(c.Request().Context(), currentUser(c).ID, name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, struct {
		*db.APIToken
		Token string `json:"token"`
	}{t, token})
}

func (h *Handler) apiRevokeToken(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeAPIToken(c.Request().Context(), currentUser(c).ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
