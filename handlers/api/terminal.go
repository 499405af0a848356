package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

// ListTerminalSessions answers GET /api/v1/terminal-sessions: the
// recorded web terminal sessions, newest first, of one service with kind
// and id, at most limit (default 100, up to 500).
func (h *Handler) ListTerminalSessions(c echo.Context) error {
	kind := c.QueryParam("kind")
	var id int64
	if kind != "" {
		if kind != db.KindApp && kind != db.KindDatabase && kind != db.KindCompose {
			return web.Error(http.StatusUnprocessableEntity, "kind", "kind must be app, database or compose")
		}
		n, err := strconv.ParseInt(c.QueryParam("id"), 10, 64)
		if err != nil || n < 1 {
			return web.Error(http.StatusUnprocessableEntity, "id", "id must name the service (a number) when kind is given")
		}
		id = n
	}
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return web.Error(http.StatusUnprocessableEntity, "limit", "limit must be a whole number from 1 to 500")
		}
		limit = n
	}
	out, err := h.Ops.TerminalSessions(c.Request().Context(), kind, id, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}
