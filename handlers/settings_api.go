package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// deploySettingsJSON is the body and answer of /api/v1/settings/deploy.
type deploySettingsJSON struct {
	DeployConcurrency *int    `json:"deploy_concurrency"`
	ImageRetention    *int    `json:"image_retention"`
	TimeoutClone      *string `json:"timeout_clone"`
	TimeoutBuild      *string `json:"timeout_build"`
	TimeoutPull       *string `json:"timeout_pull"`
	TimeoutConverge   *string `json:"timeout_converge"`
}

func (h *Handler) apiGetDeploySettings(c echo.Context) error {
	ctx := c.Request().Context()
	n, err := h.store.DeployConcurrency(ctx)
	if err != nil {
		return err
	}
	l, err := h.store.DeployLimits(ctx)
	if err != nil {
		return err
	}
	clone, build, pull, converge := shortDuration(l.Clone), shortDuration(l.Build), shortDuration(l.Pull), shortDuration(l.Converge)
	return c.JSON(http.StatusOK, deploySettingsJSON{DeployConcurrency: &n, ImageRetention: &l.ImageRetention,
		TimeoutClone: &clone, TimeoutBuild: &build, TimeoutPull: &pull, TimeoutConverge: &converge})
}

// apiUpdateDeploySettings changes the queue's concurrency, image retention
// and step deadlines; fields left out keep their value.
func (h *Handler) apiUpdateDeploySettings(c echo.Context) error {
	var in deploySettingsJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if n := in.DeployConcurrency; n != nil && (*n < 1 || *n > 16) {
		return apiError(http.StatusUnprocessableEntity, "deploy_concurrency", "concurrent deployments must be from 1 to 16")
	}
	limits := map[string]string{}
	if in.ImageRetention != nil {
		limits[db.SettingImageRetention] = strconv.Itoa(*in.ImageRetention)
	}
	for key, v := range map[string]*string{db.SettingCloneTimeout: in.TimeoutClone, db.SettingBuildTimeout: in.TimeoutBuild,
		db.SettingPullTimeout: in.TimeoutPull, db.SettingConvergeTimeout: in.TimeoutConverge} {
		if v != nil {
			limits[key] = *v
		}
	}
	values, errs := checkDeployLimits(limits)
	if err := firstFieldError(errs); err != nil {
		return err
	}
	ctx := c.Request().Context()
	for k, v := range values {
		if err := h.store.SetSetting(ctx, k, v); err != nil {
			return err
		}
	}
	if n := in.DeployConcurrency; n != nil {
		if err := h.store.SetSetting(ctx, db.SettingDeployConcurrency, strconv.Itoa(*n)); err != nil {
			return err
		}
		h.runner.SetConcurrency(*n)
	}
	return h.apiGetDeploySettings(c)
}
