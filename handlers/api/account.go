package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

// ChangePassword changes the caller's own password (ops.ChangePassword).
// Called with a browser session, that session stays signed in; with an
// API token, every session ends. API tokens keep working.
func (h *Handler) ChangePassword(c echo.Context) error {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	keep := ""
	if via, _ := c.Get(web.CtxViaToken).(bool); !via {
		if s := web.SessionToken(c); s != "" {
			keep = db.SessionIDFor(s)
		}
	}
	if err := h.Ops.ChangePassword(c.Request().Context(), web.CurrentUser(c).ID, in.CurrentPassword, in.NewPassword, keep); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"changed": true})
}
