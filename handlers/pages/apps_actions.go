package pages

import (
	"context"
	"fmt"
	"net/http"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// GenerateDeployKey creates an SSH key pair for cloning a private repository;
// the user adds the public key to the repository as a read-only deploy key.
func (h *Handler) GenerateDeployKey(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if _, err := h.Ops.NewDeployKey(c.Request().Context(), a); err != nil {
		return err
	}
	if a, err = h.Store.App(c.Request().Context(), a.ID); err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	p.Saved = "New deploy key generated. Add the public key to your repository."
	return h.Partial(c, http.StatusOK, "app_settings", p)
}

func (h *Handler) DeployApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.Deploy(c.Request().Context(), a, "user", web.CurrentUser(c).Email)
	if err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/deployments/%d", d.ID))
}

// appAction runs a runtime action and re-renders the live header.
func (h *Handler) appAction(c echo.Context, act func(context.Context, *db.App) error) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if err := act(c.Request().Context(), a); err != nil {
		return err
	}
	// The header's Start/Stop buttons depend on the new status.
	c.Response().Header().Set("HX-Refresh", "true")
	return h.ShowAppLivePartial(c)
}

func (h *Handler) StopApp(c echo.Context) error {
	return h.appAction(c, h.Ops.StopApp)
}

func (h *Handler) StartApp(c echo.Context) error {
	return h.appAction(c, h.Ops.StartApp)
}

func (h *Handler) RestartApp(c echo.Context) error {
	return h.appAction(c, h.Ops.RestartApp)
}

func (h *Handler) DeleteApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteApp(c.Request().Context(), a); err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/projects/%d", a.ProjectID))
}

// ShowAppLivePartial is polled by the app page every 2 s: status, running
// version and deployment history. It reads only what "app_live" shows (the
// app row and its recent deployments, both by index), never the variables,
// ports or volumes of the full page: a hundred open pages must stay cheap.
func (h *Handler) ShowAppLivePartial(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	a, err := h.Store.AppSummary(c.Request().Context(), id)
	if err != nil {
		return err
	}
	deps, err := h.Store.DeploymentHistory(c.Request().Context(), a.ID, appHistory)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "app_live", &appPage{App: a, Deployments: deps, CSRF: web.CSRF(c)})
}
