package ops

import (
	"context"
	"strconv"

	"dokploy/db"
)

// Bounds of the history retention settings.
const (
	maxKeepDeploymentLogs = 10000
	maxDeliveryDays       = 3650
	maxAuditDays          = 3650
)

// SetHistoryRetention validates and saves history retention; a nil field
// keeps its value. The hourly prune applies it; PruneHistory does at once.
func (s *Service) SetHistoryRetention(ctx context.Context, keepLogs, deliveryDays, auditDays *int) error {
	errs := FieldErrors{}
	values := map[string]string{}
	if n := keepLogs; n != nil {
		if *n < 1 || *n > maxKeepDeploymentLogs {
			errs["keep_deployment_logs"] = "Keep the logs of 1 to 10000 deployments per service."
		}
		values[db.SettingKeepDeploymentLogs] = strconv.Itoa(*n)
	}
	if n := deliveryDays; n != nil {
		if *n < 1 || *n > maxDeliveryDays {
			errs["webhook_delivery_days"] = "Keep webhook deliveries for 1 to 3650 days."
		}
		values[db.SettingDeliveryDays] = strconv.Itoa(*n)
	}
	if n := auditDays; n != nil {
		if *n < 1 || *n > maxAuditDays {
			errs["audit_days"] = "Keep audit events for 1 to 3650 days."
		}
		values[db.SettingAuditDays] = strconv.Itoa(*n)
	}
	if len(errs) > 0 {
		return errs
	}
	return s.saveSettings(ctx, values)
}
