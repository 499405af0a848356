package pages

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/ops"
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
	limits, err := h.Store.DeployLimits(c.Request().Context())
	if err != nil {
		return nil, err
	}
	p := &maintenancePanel{Limits: limits, Form: views.NewForm()}
	p.Form.Values["image_retention"] = strconv.Itoa(limits.ImageRetention)
	for key, d := range map[string]time.Duration{"timeout_clone": limits.Clone, "timeout_build": limits.Build,
		"timeout_pull": limits.Pull, "timeout_converge": limits.Converge} {
		p.Form.Values[key] = ops.ShortDuration(d)
	}
	if du, err := h.Runner.DiskUsage(c.Request().Context()); err != nil {
		p.DiskError = "Docker did not answer: " + err.Error()
	} else {
		p.Disk = &du
	}
	return p, nil
}

func (h *Handler) ShowMaintenancePartial(c echo.Context) error {
	p, err := h.loadMaintenance(c)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "settings_maintenance", p)
}

// UpdateMaintenance saves image retention and the per-step deadlines.
func (h *Handler) UpdateMaintenance(c echo.Context) error {
	form := views.NewForm()
	in := map[string]string{}
	for _, key := range ops.DeployLimitKeys {
		in[key] = c.FormValue(key)
		form.Values[key] = c.FormValue(key)
	}
	if err := h.Ops.SetDeploySettings(c.Request().Context(), nil, in); err != nil && !formErrors(form, err) {
		return err
	}
	p, err := h.loadMaintenance(c)
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.Form = form
		return h.Partial(c, http.StatusUnprocessableEntity, "settings_maintenance", p)
	}
	p.Message = "Saved. New deployments use these limits."
	return h.Partial(c, http.StatusOK, "settings_maintenance", p)
}

// PruneNow runs the daily prune on demand.
func (h *Handler) PruneNow(c echo.Context) error {
	rep, err := h.Runner.Prune(c.Request().Context())
	if err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Prune failed: "+err.Error())
	}
	p, err := h.loadMaintenance(c)
	if err != nil {
		return err
	}
	p.Message = fmt.Sprintf("Removed %d image(s) and freed %s of build cache.", rep.Images, views.HumanBytes(int64(rep.BuildCacheFreed)))
	return h.Partial(c, http.StatusOK, "settings_maintenance", p)
}
