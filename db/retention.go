package db

import (
	"context"
	"fmt"
)

// Settings of history retention.
const (
	SettingKeepDeploymentLogs = "retention_deployment_logs"
	SettingDeliveryDays       = "retention_webhook_days"
	SettingAuditDays          = "retention_audit_days"
)

// HistoryRetention says how much history the database keeps: the log
// lines of the last KeepDeploymentLogs deployments (and other operations)
// of each service, webhook deliveries for DeliveryDays days and audit
// events for AuditDays days. Expired sessions are always removed.
type HistoryRetention struct {
	KeepDeploymentLogs int `json:"keep_deployment_logs"`
	DeliveryDays       int `json:"webhook_delivery_days"`
	AuditDays          int `json:"audit_days"`
}

// DefaultHistoryRetention keeps enough to debug last month's deploys.
var DefaultHistoryRetention = HistoryRetention{KeepDeploymentLogs: 50, DeliveryDays: 30, AuditDays: 90}

// HistoryRetention returns the configured retention.
func (s *Store) HistoryRetention(ctx context.Context) (HistoryRetention, error) {
	r := DefaultHistoryRetention
	var err error
	if r.KeepDeploymentLogs, err = s.intSetting(ctx, SettingKeepDeploymentLogs, r.KeepDeploymentLogs); err != nil {
		return r, err
	}
	if r.DeliveryDays, err = s.intSetting(ctx, SettingDeliveryDays, r.DeliveryDays); err != nil {
		return r, err
	}
	r.AuditDays, err = s.intSetting(ctx, SettingAuditDays, r.AuditDays)
	return r, err
}

// HistoryPruneReport says what PruneHistory removed.
type HistoryPruneReport struct {
	DeploymentLogs int64 `json:"deployment_logs"` // deployments whose lines were removed
	LogLines       int64 `json:"log_lines"`
	Deliveries     int64 `json:"webhook_deliveries"`
	Sessions       int64 `json:"sessions"`
	Notifications  int64 `json:"notifications"` // sent or failed, older than NotificationKeepDays
	AuditEvents    int64 `json:"audit_events"`
}

// pruneBatch bounds one transaction, so a first prune of a large history
// does not hold locks for long.
const pruneBatch = 500

// PruneHistory removes what retention r no longer keeps. A queued or
// running deployment's log is never touched, whatever its age; a pruned
// deployment keeps its row and is marked log_pruned. Sent and failed
// notifications go after NotificationKeepDays, audit events after
// r.AuditDays (kept when it is 0).
func (s *Store) PruneHistory(ctx context.Context, r HistoryRetention) (HistoryPruneReport, error) {
	var rep HistoryPruneReport
	for {
		var ids []int64
		err := s.db.SelectContext(ctx, &ids, `
			SELECT id FROM (
				SELECT id, status, log_pruned,
				       row_number() OVER (PARTITION BY service_id ORDER BY id DESC) AS newer
				FROM deployments) d
			WHERE newer > $1 AND NOT log_pruned AND status NOT IN ('queued', 'running')
			ORDER BY id LIMIT $2`, r.KeepDeploymentLogs, pruneBatch)
		if err != nil {
			return rep, fmt.Errorf("find deployment logs to prune: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		err = s.InTx(ctx, func(tx *Store) error {
			res, err := tx.db.ExecContext(ctx, `DELETE FROM deployment_logs WHERE deployment_id = ANY($1)`, pqInt64Array(ids))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			rep.LogLines += n
			_, err = tx.db.ExecContext(ctx, `UPDATE deployments SET log_pruned = true WHERE id = ANY($1)`, pqInt64Array(ids))
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("prune deployment logs: %w", err)
		}
		rep.DeploymentLogs += int64(len(ids))
		if len(ids) < pruneBatch {
			break
		}
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE created_at < now() - make_interval(days => $1)`, r.DeliveryDays)
	if err != nil {
		return rep, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	rep.Deliveries, _ = res.RowsAffected()
	res, err = s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < now()`)
	if err != nil {
		return rep, fmt.Errorf("prune expired sessions: %w", err)
	}
	rep.Sessions, _ = res.RowsAffected()
	if rep.Notifications, err = s.pruneNotifications(ctx); err != nil {
		return rep, err
	}
	if rep.AuditEvents, err = s.pruneAudit(ctx, r.AuditDays); err != nil {
		return rep, err
	}
	return rep, nil
}
