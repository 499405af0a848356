package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/jobs/metrics"
)

// ServiceMetrics answers GET /api/v1/services/{kind}/{id}/metrics: one
// series per replica (CPU, memory, network and block I/O rates, restarts,
// OOM kills) over range, with each replica's current values.
func (h *Handler) ServiceMetrics(c echo.Context) error {
	kind, id, err := serviceParams(c)
	if err != nil {
		return err
	}
	m, err := h.Ops.ServiceMetrics(c.Request().Context(), kind, id, c.QueryParam("service"), c.QueryParam("range"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// ServerMetrics answers GET /api/v1/server/metrics: every node's CPU,
// memory, disk and load over range.
func (h *Handler) ServerMetrics(c echo.Context) error {
	m, err := h.Ops.ServerMetrics(c.Request().Context(), c.QueryParam("range"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// GetMetricsSettings answers GET /api/v1/settings/metrics.
func (h *Handler) GetMetricsSettings(c echo.Context) error {
	m, err := h.Store.MetricsSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// UpdateMetricsSettings changes the sampling interval and the retention
// of samples; fields left out keep their value.
func (h *Handler) UpdateMetricsSettings(c echo.Context) error {
	var in struct {
		IntervalSeconds *int `json:"interval_seconds"`
		RawHours        *int `json:"raw_hours"`
		RollupDays      *int `json:"rollup_days"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if err := h.Ops.SetMetricsSettings(c.Request().Context(), in.IntervalSeconds, in.RawHours, in.RollupDays); err != nil {
		return err
	}
	return h.GetMetricsSettings(c)
}

// PushAgentMetrics answers POST /api/v1/agent/metrics: a round of samples
// from `dokploy agent` on another node.
func (h *Handler) PushAgentMetrics(c echo.Context) error {
	var in metrics.Push
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if err := h.Ops.PushMetrics(c.Request().Context(), in.Containers, in.Nodes); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
