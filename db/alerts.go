package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Alert rule targets.
const (
	AlertTargetService = "service"
	AlertTargetNode    = "node"
)

// AlertRule is a condition on a metric of a service's replicas or of the
// nodes: Metric Comparison Threshold, held for ForSeconds, fires; the same
// instance fires again at the earliest CooldownSeconds after.
type AlertRule struct {
	ID              int64     `db:"id" json:"id"`
	Name            string    `db:"name" json:"name"`
	Target          string    `db:"target" json:"target"`
	ServiceID       *int64    `db:"service_id" json:"service_id"`
	Node            string    `db:"node" json:"node"`
	Metric          string    `db:"metric" json:"metric"`
	Comparison      string    `db:"comparison" json:"comparison"`
	Threshold       float64   `db:"threshold" json:"threshold"`
	ForSeconds      int       `db:"for_seconds" json:"for_seconds"`
	CooldownSeconds int       `db:"cooldown_seconds" json:"cooldown_seconds"`
	Enabled         bool      `db:"enabled" json:"enabled"`
	Builtin         bool      `db:"builtin" json:"builtin"`
	CreatedAt       time.Time `db:"created_at" json:"created_at"`
	UpdatedAt       time.Time `db:"updated_at" json:"updated_at"`
	// Of the service (service rules): its Swarm name, kind and project.
	Service     string `db:"service" json:"-"`
	ServiceKind string `db:"service_kind" json:"-"`
	Project     string `db:"project" json:"-"`
}

const alertRuleSelect = `
	SELECT r.id, r.name, r.target, r.service_id, r.node, r.metric, r.comparison, r.threshold, r.for_seconds,
	       r.cooldown_seconds, r.enabled, r.builtin, r.created_at, r.updated_at,
	       coalesce(sv.name, '') AS service, coalesce(sv.kind, '') AS service_kind, coalesce(p.name, '') AS project
	FROM alert_rules r
	LEFT JOIN services sv ON sv.id = r.service_id
	LEFT JOIN environments e ON e.id = sv.environment_id
	LEFT JOIN projects p ON p.id = e.project_id`

// CreateAlertRule stores a rule; a taken name is ErrConflict.
func (s *Store) CreateAlertRule(ctx context.Context, r *AlertRule) error {
	err := s.db.QueryRowxContext(ctx, `
		INSERT INTO alert_rules (name, target, service_id, node, metric, comparison, threshold, for_seconds, cooldown_seconds, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, created_at, updated_at`,
		r.Name, r.Target, r.ServiceID, r.Node, r.Metric, r.Comparison, r.Threshold, r.ForSeconds, r.CooldownSeconds, r.Enabled).
		Scan(&r.ID, &r.CreatedAt, &r.UpdatedAt)
	if isUniqueViolation(err) {
		return conflictf("an alert rule named %q already exists", r.Name)
	}
	return opError("create alert rule", err)
}

// UpdateAlertRule saves every field of r. When what the rule watches
// changes (target, service, node or metric), its states go: they were
// about something else.
func (s *Store) UpdateAlertRule(ctx context.Context, r *AlertRule) error {
	return s.InTx(ctx, func(tx *Store) error {
		var old AlertRule
		if err := tx.db.GetContext(ctx, &old, alertRuleSelect+` WHERE r.id = $1 FOR UPDATE OF r`, r.ID); err != nil {
			return notFound("update alert rule", err)
		}
		_, err := tx.db.ExecContext(ctx, `
			UPDATE alert_rules SET name = $2, target = $3, service_id = $4, node = $5, metric = $6, comparison = $7,
				threshold = $8, for_seconds = $9, cooldown_seconds = $10, enabled = $11, updated_at = now()
			WHERE id = $1`, r.ID, r.Name, r.Target, r.ServiceID, r.Node, r.Metric, r.Comparison, r.Threshold,
			r.ForSeconds, r.CooldownSeconds, r.Enabled)
		if isUniqueViolation(err) {
			return conflictf("an alert rule named %q already exists", r.Name)
		}
		if err != nil {
			return opError("update alert rule", err)
		}
		same := old.Target == r.Target && old.Node == r.Node && old.Metric == r.Metric &&
			((old.ServiceID == nil && r.ServiceID == nil) || (old.ServiceID != nil && r.ServiceID != nil && *old.ServiceID == *r.ServiceID))
		if !same || !r.Enabled {
			_, err = tx.db.ExecContext(ctx, `DELETE FROM alert_states WHERE rule_id = $1`, r.ID)
		}
		return opError("update alert rule", err)
	})
}

// AlertRule returns one rule.
func (s *Store) AlertRule(ctx context.Context, id int64) (*AlertRule, error) {
	var r AlertRule
	err := s.db.GetContext(ctx, &r, alertRuleSelect+` WHERE r.id = $1`, id)
	return &r, notFound("alert rule", err)
}

// AlertRules lists every rule by name.
func (s *Store) AlertRules(ctx context.Context) ([]AlertRule, error) {
	out := []AlertRule{}
	err := s.db.SelectContext(ctx, &out, alertRuleSelect+` ORDER BY lower(r.name), r.id`)
	return out, opError("alert rules", err)
}

// EnabledAlertRules lists the rules to evaluate.
func (s *Store) EnabledAlertRules(ctx context.Context) ([]AlertRule, error) {
	out := []AlertRule{}
	err := s.db.SelectContext(ctx, &out, alertRuleSelect+` WHERE r.enabled ORDER BY r.id`)
	return out, opError("enabled alert rules", err)
}

// DeleteAlertRule removes a rule and its states.
func (s *Store) DeleteAlertRule(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
	if err != nil {
		return opError("delete alert rule", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("delete alert rule", sql.ErrNoRows)
	}
	return nil
}

// AlertState is a rule's state for one instance it watches (see the
// migration 00019).
type AlertState struct {
	RuleID         int64      `db:"rule_id" json:"-"`
	Key            string     `db:"key" json:"key"`
	Label          string     `db:"label" json:"label"`
	PendingSince   *time.Time `db:"pending_since" json:"pending_since"`
	FiringSince    *time.Time `db:"firing_since" json:"firing_since"`
	LastFiredAt    *time.Time `db:"last_fired_at" json:"last_fired_at"`
	LastValue      *float64   `db:"last_value" json:"last_value"`
	LastResolvedAt *time.Time `db:"last_resolved_at" json:"last_resolved_at"`
	UpdatedAt      time.Time  `db:"updated_at" json:"updated_at"`
}

// AlertStates returns the states of every rule, by rule then key.
func (s *Store) AlertStates(ctx context.Context) ([]AlertState, error) {
	out := []AlertState{}
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM alert_states ORDER BY rule_id, key`)
	return out, opError("alert states", err)
}

// LockAlertRule takes the rule's evaluation lock until the transaction
// ends, so two control-plane processes take turns: the second sees what
// the first wrote. Call it inside InTx.
func (s *Store) LockAlertRule(ctx context.Context, ruleID int64) error {
	if s.tx == nil {
		return fmt.Errorf("lock alert rule %d: not in a transaction", ruleID)
	}
	_, err := s.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('dokploy alert rule'), $1::int)`, ruleID)
	return opError("lock alert rule", err)
}

// RuleAlertStates returns one rule's states by key.
func (s *Store) RuleAlertStates(ctx context.Context, ruleID int64) (map[string]AlertState, error) {
	var list []AlertState
	if err := s.db.SelectContext(ctx, &list, `SELECT * FROM alert_states WHERE rule_id = $1`, ruleID); err != nil {
		return nil, opError("alert states", err)
	}
	out := make(map[string]AlertState, len(list))
	for _, st := range list {
		out[st.Key] = st
	}
	return out, nil
}

// SaveAlertState writes one state.
func (s *Store) SaveAlertState(ctx context.Context, st AlertState) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO alert_states (rule_id, key, label, pending_since, firing_since, last_fired_at, last_value, last_resolved_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
		ON CONFLICT (rule_id, key) DO UPDATE SET label = EXCLUDED.label, pending_since = EXCLUDED.pending_since,
			firing_since = EXCLUDED.firing_since, last_fired_at = EXCLUDED.last_fired_at, last_value = EXCLUDED.last_value,
			last_resolved_at = EXCLUDED.last_resolved_at, updated_at = now()`,
		st.RuleID, st.Key, st.Label, st.PendingSince, st.FiringSince, st.LastFiredAt, st.LastValue, st.LastResolvedAt)
	return opError("save alert state", err)
}

// DeleteAlertState forgets one state.
func (s *Store) DeleteAlertState(ctx context.Context, ruleID int64, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM alert_states WHERE rule_id = $1 AND key = $2`, ruleID, key)
	return opError("delete alert state", err)
}

// AlertInstance is what the samples say about one instance a rule
// watches, over the window asked for.
type AlertInstance struct {
	Key     string    `db:"key"`
	Label   string    `db:"label"`
	Node    string    `db:"node"`
	Replica int       `db:"replica"`
	Service string    `db:"service"`
	Latest  time.Time `db:"latest"` // the newest sample
	Value   float64   `db:"value"`  // its value
	// LatestOK: the newest sample satisfies the comparison.
	LatestOK bool `db:"latest_ok"`
	// RunStart is the oldest sample of the unbroken run of samples that
	// satisfy the comparison and end with the newest one; nil when the
	// newest does not. A gap of more than maxGap between two samples
	// breaks the run.
	RunStart *time.Time `db:"run_start"`
}

// alertExprs are the SQL of each metric's value, per target. NULL leaves
// a sample out (memory_percent of a container without a limit).
var alertExprs = map[string]map[string]string{
	AlertTargetService: {
		"cpu":            `cpu`,
		"memory":         `mem::float8`,
		"memory_percent": `CASE WHEN mem_limit > 0 THEN mem * 100.0 / mem_limit END`,
		"restarts":       `restarts::float8`,
	},
	AlertTargetNode: {
		"cpu":            `cpu`,
		"memory_percent": `CASE WHEN mem_total > 0 THEN mem_used * 100.0 / mem_total END`,
		"disk_percent":   `CASE WHEN disk_total > 0 THEN disk_used * 100.0 / disk_total END`,
		"load1":          `load1`,
	},
}

// alertComparisons are the comparisons a rule may use.
var alertComparisons = map[string]bool{">": true, ">=": true, "<": true, "<=": true}

// AlertMetricKnown reports whether metric is one of target's.
func AlertMetricKnown(target, metric string) bool {
	_, ok := alertExprs[target][metric]
	return ok
}

// AlertInstances evaluates r over the samples taken in (from, to]: one
// row per instance that has samples there. A service rule's instances are
// its replicas (global services: one per node), a node rule's the nodes
// it names. The scan uses the (service_id, ts) or ts index, so its cost
// is the window's samples.
func (s *Store) AlertInstances(ctx context.Context, r *AlertRule, from, to time.Time, maxGap time.Duration) ([]AlertInstance, error) {
	expr, ok := alertExprs[r.Target][r.Metric]
	if !ok || !alertComparisons[r.Comparison] {
		return nil, fmt.Errorf("alert rule %d: unknown metric %q or comparison %q", r.ID, r.Metric, r.Comparison)
	}
	// expr and the comparison come from the fixed tables above, never
	// from input.
	var raw string
	var args []any
	switch r.Target {
	case AlertTargetService:
		if r.ServiceID == nil {
			return nil, fmt.Errorf("alert rule %d has no service", r.ID)
		}
		raw = `SELECT CASE WHEN replica > 0 THEN service || '#' || replica ELSE service || '@' || node END AS key,
				CASE WHEN replica > 0 THEN service || ' replica ' || replica ELSE service || ' on ' || node END AS label,
				node, replica, service, ts, ` + expr + ` AS v
			FROM container_samples WHERE service_id = $1 AND ts > $2 AND ts <= $3`
		args = []any{*r.ServiceID, from, to}
	default:
		raw = `SELECT node AS key, hostname AS label, node, 0 AS replica, '' AS service, ts, ` + expr + ` AS v
			FROM node_samples WHERE ts > $2 AND ts <= $3 AND ($1 = '' OR node = $1 OR hostname = $1)`
		args = []any{r.Node, from, to}
	}
	q := `
		WITH raw AS (` + raw + `),
		s AS (
			SELECT key, label, node, replica, service, ts, v, v ` + r.Comparison + ` $4 AS ok,
				ts - lag(ts) OVER (PARTITION BY key ORDER BY ts) AS gap
			FROM raw WHERE v IS NOT NULL),
		b AS (
			SELECT key, max(ts) AS latest,
				coalesce(max(ts) FILTER (WHERE NOT ok), '-infinity') AS last_bad,
				coalesce(max(ts) FILTER (WHERE ok AND gap > make_interval(secs => $5)), '-infinity') AS last_gap
			FROM s GROUP BY key),
		c AS (
			SELECT s.key, min(s.ts) FILTER (WHERE s.ok AND s.ts > b.last_bad AND s.ts >= b.last_gap) AS run_start
			FROM s JOIN b ON b.key = s.key GROUP BY s.key)
		SELECT b.key, s.label, s.node, s.replica, s.service, b.latest, s.v AS value, s.ok AS latest_ok, c.run_start
		FROM b JOIN s ON s.key = b.key AND s.ts = b.latest JOIN c ON c.key = b.key
		ORDER BY b.key`
	args = append(args, r.Threshold, maxGap.Seconds())
	var rows []AlertInstance
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("db: alert instances of rule %d: %w", r.ID, err)
	}
	// Two samples of one key at the same second (should not happen) would
	// repeat a key; keep the first.
	out := rows[:0]
	seen := map[string]bool{}
	for _, row := range rows {
		if !seen[row.Key] {
			seen[row.Key] = true
			out = append(out, row)
		}
	}
	return out, nil
}

// AlertServiceChoice is a service a rule can watch.
type AlertServiceChoice struct {
	ID            int64  `db:"id"`
	Name          string `db:"name"`
	Kind          string `db:"kind"`
	Project       string `db:"project"`
	Environment   string `db:"environment"`
	MemoryLimitMB int    `db:"memory_limit_mb"` // apps and databases; 0: none (or compose)
}

// AlertServiceChoices lists every service by project, environment and name.
func (s *Store) AlertServiceChoices(ctx context.Context) ([]AlertServiceChoice, error) {
	out := []AlertServiceChoice{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT sv.id, sv.name, sv.kind, p.name AS project, e.name AS environment,
		       coalesce(a.memory_limit_mb, d.memory_limit_mb, 0) AS memory_limit_mb
		FROM services sv JOIN environments e ON e.id = sv.environment_id JOIN projects p ON p.id = e.project_id
		LEFT JOIN applications a ON a.id = sv.id LEFT JOIN databases d ON d.id = sv.id
		ORDER BY lower(p.name), lower(e.name), lower(sv.name)`)
	return out, opError("alert service choices", err)
}

// AlertServiceChoice returns one service a rule can watch.
func (s *Store) AlertServiceChoice(ctx context.Context, id int64) (*AlertServiceChoice, error) {
	var out AlertServiceChoice
	err := s.db.GetContext(ctx, &out, `
		SELECT sv.id, sv.name, sv.kind, p.name AS project, e.name AS environment,
		       coalesce(a.memory_limit_mb, d.memory_limit_mb, 0) AS memory_limit_mb
		FROM services sv JOIN environments e ON e.id = sv.environment_id JOIN projects p ON p.id = e.project_id
		LEFT JOIN applications a ON a.id = sv.id LEFT JOIN databases d ON d.id = sv.id
		WHERE sv.id = $1`, id)
	return &out, notFound("service", err)
}

// AlertNode is a node that sent samples lately.
type AlertNode struct {
	Node     string `db:"node"`
	Hostname string `db:"hostname"`
}

// AlertNodes lists the nodes with a sample since since, by hostname.
func (s *Store) AlertNodes(ctx context.Context, since time.Time) ([]AlertNode, error) {
	out := []AlertNode{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT DISTINCT ON (node) node, hostname FROM node_samples WHERE ts > $1 ORDER BY node, ts DESC`, since)
	return out, opError("alert nodes", err)
}
