package pages

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// metricsPanel is the charts of one service, or of the nodes on the
// Server page; metrics.js draws them from URL.
type metricsPanel struct {
	Server   bool
	URL      string // the API read by the charts, without range
	Interval int    // seconds between samples: the refresh period
	Ranges   []string
}

func (h *Handler) newMetricsPanel(c echo.Context, url string, server bool) (*metricsPanel, error) {
	m, err := h.Store.MetricsSettings(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &metricsPanel{Server: server, URL: url, Interval: m.IntervalSeconds, Ranges: ops.MetricsRanges}, nil
}

// ShowMetricsPanel is the metrics panel of an app, database or compose
// stack, loaded into its page.
func (h *Handler) ShowMetricsPanel(c echo.Context) error {
	kind := c.Param("kind")
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || (kind != db.KindApp && kind != db.KindDatabase && kind != db.KindCompose) {
		return echo.NewHTTPError(http.StatusNotFound, "No such service.")
	}
	svc, err := h.Store.MetricsService(c.Request().Context(), id)
	if err != nil || svc.Kind != kind {
		return echo.NewHTTPError(http.StatusNotFound, "No such service.")
	}
	p, err := h.newMetricsPanel(c, fmt.Sprintf("/api/v1/services/%s/%d/metrics", kind, id), false)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "metrics_panel", p)
}

// ShowServerPage shows every node's CPU, memory, disk and load.
func (h *Handler) ShowServerPage(c echo.Context) error {
	p, err := h.newMetricsPanel(c, "/api/v1/server/metrics", true)
	if err != nil {
		return err
	}
	return h.Page(c, http.StatusOK, "server", &views.Page{Title: "Server", Active: "server", Data: p})
}

// metricsSettingsPanel is the settings panel of the collector.
type metricsSettingsPanel struct {
	Form    *views.Form
	Message string
}

func (h *Handler) showMetricsSettings(c echo.Context, status int, form *views.Form, message string) error {
	if form == nil {
		m, err := h.Store.MetricsSettings(c.Request().Context())
		if err != nil {
			return err
		}
		form = views.NewForm()
		form.Values["interval_seconds"] = strconv.Itoa(m.IntervalSeconds)
		form.Values["raw_hours"] = strconv.Itoa(m.RawHours)
		form.Values["rollup_days"] = strconv.Itoa(m.RollupDays)
	}
	return h.Partial(c, status, "settings_metrics", &metricsSettingsPanel{Form: form, Message: message})
}

func (h *Handler) ShowMetricsSettings(c echo.Context) error {
	return h.showMetricsSettings(c, http.StatusOK, nil, "")
}

// UpdateMetricsSettings saves the collector's settings; typed values stay
// in the form when one is refused.
func (h *Handler) UpdateMetricsSettings(c echo.Context) error {
	form := views.NewForm()
	nums := wholeNumbers(c, form, "interval_seconds", "raw_hours", "rollup_days")
	if form.Valid() {
		err := h.Ops.SetMetricsSettings(c.Request().Context(), nums["interval_seconds"], nums["raw_hours"], nums["rollup_days"])
		if err != nil && !formErrors(form, err) {
			return err
		}
	}
	if !form.Valid() {
		return h.showMetricsSettings(c, http.StatusUnprocessableEntity, form, "")
	}
	return h.showMetricsSettings(c, http.StatusOK, nil, "Saved. The collector uses it from its next sample.")
}
