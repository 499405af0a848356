package api

import (
	"io"
	"net/http"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"
)

func (h *Handler) DeployApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	by := web.CurrentUser(c).Email
	trigger := "user"
	if name, ok := c.Get(web.CtxTokenName).(string); ok {
		trigger, by = "api", "token "+name
	}
	d, err := h.Ops.Deploy(c.Request().Context(), a, trigger, by)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, d)
}

func (h *Handler) ListDeployments(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	limit, offset := pageParams(c)
	deps, err := h.Store.DeploymentsPage(c.Request().Context(), a.ID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": deps, "limit": limit, "offset": offset})
}

func (h *Handler) GetDeployment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	d, err := h.Store.Deployment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h *Handler) DeploymentLogs(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if _, err := h.Store.Deployment(c.Request().Context(), id); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	after := 0
	for {
		lines, err := h.Store.Logs(c.Request().Context(), id, after, 1000)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if _, err := io.WriteString(c.Response(), l.Line+"\n"); err != nil {
				return nil
			}
			after = l.Seq
		}
		if len(lines) < 1000 {
			return nil
		}
	}
}

func (h *Handler) CancelDeployment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.CancelDeployment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h *Handler) RollbackDeployment(c echo.Context) error {
	by := web.CurrentUser(c).Email
	if name, ok := c.Get(web.CtxTokenName).(string); ok {
		by = "token " + name
	}
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.Rollback(c.Request().Context(), id, by)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, d)
}
