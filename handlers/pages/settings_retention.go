package pages

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"dokploy/views"
)

// retentionPanel is the settings panel for history retention.
type retentionPanel struct {
	Form    *views.Form
	Message string
}

func (h *Handler) showRetention(c echo.Context, status int, form *views.Form, message string) error {
	if form == nil {
		r, err := h.Store.HistoryRetention(c.Request().Context())
		if err != nil {
			return err
		}
		form = views.NewForm()
		form.Values["keep_deployment_logs"] = strconv.Itoa(r.KeepDeploymentLogs)
		form.Values["webhook_delivery_days"] = strconv.Itoa(r.DeliveryDays)
		form.Values["audit_days"] = strconv.Itoa(r.AuditDays)
	}
	return h.Partial(c, status, "settings_retention", &retentionPanel{Form: form, Message: message})
}

func (h *Handler) ShowRetentionSettings(c echo.Context) error {
	return h.showRetention(c, http.StatusOK, nil, "")
}

// UpdateRetentionSettings saves history retention; typed values stay in
// the form when one is refused.
func (h *Handler) UpdateRetentionSettings(c echo.Context) error {
	form := views.NewForm()
	nums := wholeNumbers(c, form, "keep_deployment_logs", "webhook_delivery_days", "audit_days")
	if form.Valid() {
		err := h.Ops.SetHistoryRetention(c.Request().Context(), nums["keep_deployment_logs"], nums["webhook_delivery_days"], nums["audit_days"])
		if err != nil && !formErrors(form, err) {
			return err
		}
	}
	if !form.Valid() {
		return h.showRetention(c, http.StatusUnprocessableEntity, form, "")
	}
	return h.showRetention(c, http.StatusOK, nil, "Saved. Applied within the hour, or now with Apply now.")
}

// PruneHistoryNow applies history retention at once and says what went.
func (h *Handler) PruneHistoryNow(c echo.Context) error {
	rep, err := h.Runner.PruneHistory(c.Request().Context())
	if err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Applying retention failed: "+err.Error())
	}
	return h.showRetention(c, http.StatusOK, nil, fmt.Sprintf("Removed the logs of %d deployments (%d lines), %d webhook deliveries, %d expired sessions and %d audit events.",
		rep.DeploymentLogs, rep.LogLines, rep.Deliveries, rep.Sessions, rep.AuditEvents))
}
