package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

func (h *Handler) apiDeployApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	by := currentUser(c).Email
	trigger := "user"
	if name, ok := c.Get(ctxTokenName).(string); ok {
		trigger, by = "api", "token "+name
	}
	d, err := h.triggerDeploy(c, a, trigger, by)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, d)
}

func (h *Handler) apiListDeployments(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	limit, offset := pageParams(c)
	deps, err := h.store.DeploymentsPage(c.Request().Context(), a.ID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": deps, "limit": limit, "offset": offset})
}

func (h *Handler) apiGetDeployment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	d, err := h.store.Deployment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h *Handler) apiDeploymentLogs(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := h.store.Deployment(c.Request().Context(), id); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	after := 0
	for {
		lines, err := h.store.Logs(c.Request().Context(), id, after, 1000)
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

func (h *Handler) apiCancelDeployment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := h.store.RequestCancel(c.Request().Context(), id); errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "", "deployment already finished")
	} else if err != nil {
		return err
	}
	d, err := h.store.Deployment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
