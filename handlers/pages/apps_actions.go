package pages

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/ops"
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
	p, err := h.loadAppTab(c, a, "general", nil)
	if err != nil {
		return err
	}
	p.Saved = "New deploy key generated. Add the public key to your repository."
	return h.Partial(c, http.StatusOK, "app_settings", p)
}

// DeployApp queues a deployment. From the page the header answers and
// follows it (with a link to its log); a plain form post opens the log.
func (h *Handler) DeployApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.Deploy(c.Request().Context(), a, "user", web.CurrentUser(c).Email)
	if err != nil {
		return err
	}
	if !web.IsHTMX(c) {
		return web.Redirect(c, fmt.Sprintf("/deployments/%d", d.ID))
	}
	// An open Deployments tab refreshes its history at once (it polls
	// slowly while nothing runs).
	c.Response().Header().Set("HX-Trigger", "deploy-queued")
	return h.ShowAppHeader(c)
}

// appAction runs a runtime action on Swarm and answers with the header,
// which polls until the state it asked for is real ("stopping" until the
// last task is gone). Nothing else on the page is touched, so unsaved
// edits in a tab survive.
// The header's line under the state says what was asked, until the next
// poll shows where Swarm is.
func (h *Handler) appAction(c echo.Context, act func(context.Context, *db.App) error, confirmation string) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if err := act(c.Request().Context(), a); err != nil {
		return err
	}
	f, _, _, err := h.appFrame(c, a)
	if err != nil {
		return err
	}
	f.Acted = true
	if f.State.Class != "state-bad" {
		f.Message = confirmation
	}
	return h.Partial(c, http.StatusOK, "service_header", f)
}

func (h *Handler) StopApp(c echo.Context) error {
	return h.appAction(c, h.Ops.StopApp, "Stop requested: the state reads stopped once the last task has exited.")
}

func (h *Handler) StartApp(c echo.Context) error {
	return h.appAction(c, h.Ops.StartApp, "Start requested: the state reads running once the task is up.")
}

func (h *Handler) RestartApp(c echo.Context) error {
	return h.appAction(c, h.Ops.RestartApp, "Restart requested: Swarm replaces the tasks; the state reads updating until it is done.")
}

// DeleteApp is the delete dialog's form. Docker refusing to remove the
// service keeps everything and says why inside the dialog.
func (h *Handler) DeleteApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var refused *ops.EngineError
	if err := h.Ops.DeleteApp(c.Request().Context(), a); errors.As(err, &refused) {
		return h.Partial(c, http.StatusUnprocessableEntity, "app_delete_form",
			&appPage{App: a, CSRF: web.CSRF(c), DeleteError: refused.Msg + ". Nothing was removed; try again."})
	} else if err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/projects/%d", a.ProjectID))
}
