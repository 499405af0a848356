package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"
)

// alertRuleJSON is the body of POST and PATCH /alert-rules; PATCH changes
// only what is sent.
type alertRuleJSON struct {
	Name            *string  `json:"name"`
	Target          *string  `json:"target"`
	ServiceID       *int64   `json:"service_id"`
	Node            *string  `json:"node"`
	Metric          *string  `json:"metric"`
	Comparison      *string  `json:"comparison"`
	Threshold       *float64 `json:"threshold"`
	ForSeconds      *int     `json:"for_seconds"`
	CooldownSeconds *int     `json:"cooldown_seconds"`
	Enabled         *bool    `json:"enabled"`
}

func (in alertRuleJSON) input() ops.AlertRuleInput {
	return ops.AlertRuleInput{Name: in.Name, Target: in.Target, ServiceID: in.ServiceID, Node: in.Node, Metric: in.Metric,
		Comparison: in.Comparison, Threshold: in.Threshold, ForSeconds: in.ForSeconds, CooldownSeconds: in.CooldownSeconds,
		Enabled: in.Enabled}
}

// ListAlertRules answers GET /alert-rules.
func (h *Handler) ListAlertRules(c echo.Context) error {
	list, err := h.Ops.AlertRules(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

// CreateAlertRule answers POST /alert-rules.
func (h *Handler) CreateAlertRule(c echo.Context) error {
	var body alertRuleJSON
	if err := bindStrict(c, &body); err != nil {
		return err
	}
	r, err := h.Ops.CreateAlertRule(c.Request().Context(), body.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// GetAlertRule answers GET /alert-rules/{id}.
func (h *Handler) GetAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	r, err := h.Ops.AlertRule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// UpdateAlertRule answers PATCH /alert-rules/{id}.
func (h *Handler) UpdateAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	var body alertRuleJSON
	if err := bindStrict(c, &body); err != nil {
		return err
	}
	r, err := h.Ops.UpdateAlertRule(c.Request().Context(), id, body.input())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// DeleteAlertRule answers DELETE /alert-rules/{id}.
func (h *Handler) DeleteAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteAlertRule(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
