package api

import (
	"net/http"
	"strconv"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// deploySettingsJSON is the body and answer of /api/v1/settings/deploy.
type deploySettingsJSON struct {
	DeployConcurrency *int     `json:"deploy_concurrency"`
	ImageRetention    *int     `json:"image_retention"`
	TimeoutClone      *string  `json:"timeout_clone"`
	TimeoutBuild      *string  `json:"timeout_build"`
	TimeoutPull       *string  `json:"timeout_pull"`
	TimeoutConverge   *string  `json:"timeout_converge"`
	BuildMemoryMB     *int     `json:"build_memory_mb"`
	BuildCPUs         *float64 `json:"build_cpus"`
}

func (h *Handler) GetDeploySettings(c echo.Context) error {
	ctx := c.Request().Context()
	n, err := h.Store.DeployConcurrency(ctx)
	if err != nil {
		return err
	}
	l, err := h.Store.DeployLimits(ctx)
	if err != nil {
		return err
	}
	clone, build, pull, converge := ops.ShortDuration(l.Clone), ops.ShortDuration(l.Build), ops.ShortDuration(l.Pull), ops.ShortDuration(l.Converge)
	return c.JSON(http.StatusOK, deploySettingsJSON{DeployConcurrency: &n, ImageRetention: &l.ImageRetention,
		TimeoutClone: &clone, TimeoutBuild: &build, TimeoutPull: &pull, TimeoutConverge: &converge,
		BuildMemoryMB: &l.BuildMemoryMB, BuildCPUs: &l.BuildCPUs})
}

// UpdateDeploySettings changes the queue's concurrency, image retention
// and step deadlines; fields left out keep their value.
func (h *Handler) UpdateDeploySettings(c echo.Context) error {
	var in deploySettingsJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	limits := map[string]string{}
	if in.ImageRetention != nil {
		limits[db.SettingImageRetention] = strconv.Itoa(*in.ImageRetention)
	}
	if in.BuildMemoryMB != nil {
		limits[db.SettingBuildMemory] = strconv.Itoa(*in.BuildMemoryMB)
	}
	if in.BuildCPUs != nil {
		limits[db.SettingBuildCPUs] = strconv.FormatFloat(*in.BuildCPUs, 'f', -1, 64)
	}
	for key, v := range map[string]*string{db.SettingCloneTimeout: in.TimeoutClone, db.SettingBuildTimeout: in.TimeoutBuild,
		db.SettingPullTimeout: in.TimeoutPull, db.SettingConvergeTimeout: in.TimeoutConverge} {
		if v != nil {
			limits[key] = *v
		}
	}
	if err := h.Ops.SetDeploySettings(c.Request().Context(), in.DeployConcurrency, limits); err != nil {
		return err
	}
	return h.GetDeploySettings(c)
}

func (h *Handler) GetRetention(c echo.Context) error {
	r, err := h.Store.HistoryRetention(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// UpdateRetention changes history retention; fields left out keep their
// value.
func (h *Handler) UpdateRetention(c echo.Context) error {
	var in struct {
		KeepDeploymentLogs *int `json:"keep_deployment_logs"`
		DeliveryDays       *int `json:"webhook_delivery_days"`
		AuditDays          *int `json:"audit_days"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if err := h.Ops.SetHistoryRetention(c.Request().Context(), in.KeepDeploymentLogs, in.DeliveryDays, in.AuditDays); err != nil {
		return err
	}
	return h.GetRetention(c)
}

// PruneHistory applies history retention now.
func (h *Handler) PruneHistory(c echo.Context) error {
	rep, err := h.Runner.PruneHistory(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

func (h *Handler) UpdateSettings(c echo.Context) error {
	if h.Routing == nil {
		return web.Error(http.StatusServiceUnavailable, "", "routing is not configured")
	}
	ctx := c.Request().Context()
	cur, err := h.Routing.ACME(ctx)
	if err != nil {
		return err
	}
	var in struct {
		Email    *string `json:"acme_email"`
		Server   *string `json:"acme_server"`
		CABundle *string `json:"acme_ca_bundle"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	setIf(&cur.Email, in.Email)
	setIf(&cur.Server, in.Server)
	setIf(&cur.CABundle, in.CABundle)
	err = h.Ops.SetACME(ctx, &cur)
	if err != nil && !ops.IsNotRouted(err) {
		return err
	}
	body := map[string]any{"acme_email": cur.Email, "acme_server": cur.Server, "acme_ca_bundle": cur.CABundle}
	return routed(c, err, http.StatusOK, body)
}

// logSettingsJSON is the body and answer of /api/v1/settings/logs.
type logSettingsJSON struct {
	MaxSize *string `json:"max_size"`
	MaxFile *int    `json:"max_file"`
}

func (h *Handler) GetLogSettings(c echo.Context) error {
	l, err := h.Store.DeployLimits(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, logSettingsJSON{MaxSize: &l.LogMaxSize, MaxFile: &l.LogMaxFile})
}

// UpdateLogSettings changes the json-file rotation of services deployed
// from now on; fields left out keep their value.
func (h *Handler) UpdateLogSettings(c echo.Context) error {
	var in logSettingsJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if err := h.Ops.SetLogSettings(c.Request().Context(), in.MaxSize, in.MaxFile); err != nil {
		return err
	}
	return h.GetLogSettings(c)
}
