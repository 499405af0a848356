package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/views"
)

// maintenancePanel is the settings panel for deploy limits and disk use.
type maintenancePanel struct {
	Limits    db.DeployLimits
	Disk      *jobs.DiskUsage
	DiskError string
	Form      *views.Form
	Message   string
}

func (h *Handler) loadMaintenance(c echo.Context) (*maintenancePanel, error) {
	limits, err := h.store.DeployLimits(c.Request().Context())
	if err != nil {
		return nil, err
	}
	p := &maintenancePanel{Limits: limits, Form: views.NewForm()}
	p.Form.Values["image_retention"] = strconv.Itoa(limits.ImageRetention)
	for key, d := range map[string]time.Duration{"timeout_clone": limits.Clone, "timeout_build": limits.Build,
		"timeout_pull": limits.Pull, "timeout_converge": limits.Converge} {
		p.Form.Values[key] = shortDuration(d)
	}
	if du, err := h.runner.DiskUsage(c.Request().Context()); err != nil {
		p.DiskError = "Docker did not answer: " + err.Error()
	} else {
		p.Disk = &du
	}
	return p, nil
}

func (h *Handler) showMaintenancePartial(c echo.Context) error {
	p, err := h.loadMaintenance(c)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "settings_maintenance", p)
}

// updateMaintenance saves image retention and the per-step deadlines.
// deployLimitKeys are the settings of the deploy-limits form and API.
var deployLimitKeys = []string{db.SettingImageRetention, db.SettingCloneTimeout, db.SettingBuildTimeout,
	db.SettingPullTimeout, db.SettingConvergeTimeout}

// checkDeployLimits validates submitted deploy limits (only the keys
// present) and returns the values to store and one message per bad field.
func checkDeployLimits(in map[string]string) (values, errs map[string]string) {
	values, errs = map[string]string{}, map[string]string{}
	for key, v := range in {
		v = strings.TrimSpace(v)
		if key == db.SettingImageRetention {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				errs[key] = "keep between 1 and 100 images per app"
				continue
			}
			values[key] = strconv.Itoa(n)
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Second || d > 24*time.Hour {
			errs[key] = "a duration between 5s and 24h, like 90s, 10m or 1h"
			continue
		}
		values[key] = d.String()
	}
	return values, errs
}

func (h *Handler) updateMaintenance(c echo.Context) error {
	form := views.NewForm()
	in := map[string]string{}
	for _, key := range deployLimitKeys {
		in[key] = c.FormValue(key)
		form.Values[key] = c.FormValue(key)
	}
	values, errs := checkDeployLimits(in)
	form.Errors = errs
	if form.Valid() {
		for k, v := range values {
			if err := h.store.SetSetting(c.Request().Context(), k, v); err != nil {
				return err
			}
		}
	}
	p, err := h.loadMaintenance(c)
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.Form = form
		return h.partial(c, http.StatusUnprocessableEntity, "settings_maintenance", p)
	}
	p.Message = "Saved. New deployments use these limits."
	return h.partial(c, http.StatusOK, "settings_maintenance", p)
}

// pruneNow runs the daily prune on demand.
func (h *Handler) pruneNow(c echo.Context) error {
	rep, err := h.runner.Prune(c.Request().Context())
	if err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Prune failed: "+err.Error())
	}
	p, err := h.loadMaintenance(c)
	if err != nil {
		return err
	}
	p.Message = fmt.Sprintf("Removed %d image(s) and freed %s of build cache.", rep.Images, views.HumanBytes(int64(rep.BuildCacheFreed)))
	return h.partial(c, http.StatusOK, "settings_maintenance", p)
}

// shortDuration shows 5m and 1h rather than Go's 5m0s and 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
