package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/git"
)

// generateDeployKey creates an SSH key pair for cloning a private repository;
// the user adds the public key to the repository as a read-only deploy key.
func (h *Handler) generateDeployKey(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if _, err := h.newDeployKey(c.Request().Context(), a); err != nil {
		return err
	}
	if a, err = h.store.App(c.Request().Context(), a.ID); err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	p.Saved = "New deploy key generated. Add the public key to your repository."
	return h.partial(c, http.StatusOK, "app_settings", p)
}

// triggerDeploy queues a deployment and hands it to the worker pool.
func (h *Handler) triggerDeploy(c echo.Context, a *db.App, trigger, by string) (*db.Deployment, error) {
	d, err := h.store.CreateDeployment(c.Request().Context(), a.ID, trigger, by)
	if err != nil {
		return nil, err
	}
	h.enqueue(c, d)
	return d, nil
}

// enqueue hands a queued deployment to the workers. If Redis is down the row
// stays queued in PostgreSQL and the workers' re-enqueue loop picks it up
// once Redis is back, so the request still succeeds.
func (h *Handler) enqueue(c echo.Context, d *db.Deployment) {
	if err := h.runner.Enqueue(c.Request().Context(), d.ID); err != nil {
		slog.Warn("deployment queued in PostgreSQL only; it starts when Redis is back", "deployment", d.ID, "err", err)
	}
}

func (h *Handler) deployApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	d, err := h.triggerDeploy(c, a, "user", currentUser(c).Email)
	if err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/deployments/%d", d.ID))
}

// appAction runs a runtime action and re-renders the live header.
func (h *Handler) appAction(c echo.Context, act func(*db.App) error) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if err := act(a); err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Docker refused: "+err.Error())
	}
	// The header's Start/Stop buttons depend on the new status.
	c.Response().Header().Set("HX-Refresh", "true")
	return h.showAppLivePartial(c)
}

func (h *Handler) stopApp(c echo.Context) error {
	return h.appAction(c, func(a *db.App) error { return h.runner.StopApp(c.Request().Context(), a) })
}

func (h *Handler) startApp(c echo.Context) error {
	return h.appAction(c, func(a *db.App) error { return h.runner.StartApp(c.Request().Context(), a) })
}

func (h *Handler) restartApp(c echo.Context) error {
	return h.appAction(c, func(a *db.App) error { return h.runner.RestartApp(c.Request().Context(), a) })
}

func (h *Handler) deleteApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if err := h.removeApp(c, a); err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/projects/%d", a.ProjectID))
}

// removeApp removes the service and images, then the rows.
func (h *Handler) removeApp(c echo.Context, a *db.App) error {
	if err := h.runner.RemoveApp(c.Request().Context(), a); err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Could not remove the app's service: "+err.Error())
	}
	if err := h.store.DeleteApp(c.Request().Context(), a.ID); err != nil {
		return err
	}
	// The app's domains went with it (cascade); Sync deletes its Traefik file.
	// A failure is logged by Sync and retried by the next one.
	_, _ = h.routing.Sync(c.Request().Context())
	return nil
}

// showAppLivePartial is polled by the app page: status, running version
// and deployment history.
func (h *Handler) showAppLivePartial(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "app_live", p)
}

// newDeployKey replaces the app's SSH deploy key and returns its public
// half; the private key is stored encrypted and never shown.
func (h *Handler) newDeployKey(ctx context.Context, a *db.App) (string, error) {
	private, public, err := git.GenerateDeployKey()
	if err != nil {
		return "", err
	}
	priv := string(private)
	return public, h.store.SetAppSecrets(ctx, a.ID, db.SecretUpdate{GitSSHKey: &priv, GitSSHPublicKey: &public})
}

func (h *Handler) apiGenerateDeployKey(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	public, err := h.newDeployKey(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"public_key": public})
}
