package ops

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode"

	"dokploy/db"
	"dokploy/jobs/alerts"
)

// AlertRuleInput is a rule as typed; on update a nil field keeps its
// value. ServiceID is dropped when the target is node.
type AlertRuleInput struct {
	Name            *string
	Target          *string
	ServiceID       *int64
	Node            *string
	Metric          *string
	Comparison      *string
	Threshold       *float64
	ForSeconds      *int
	CooldownSeconds *int
	Enabled         *bool
}

// AlertRuleView is a rule with its current state.
type AlertRuleView struct {
	db.AlertRule
	State alerts.StateSummary `json:"state"`
	// For pages: what it watches and its condition in words.
	Watches   string `json:"-"`
	Condition string `json:"-"`
	Cooldown  string `json:"-"` // "6 h"
	Value     string `json:"-"` // the state's value in the metric's unit
}

// AlertRules lists every rule with its state.
func (s *Service) AlertRules(ctx context.Context) ([]AlertRuleView, error) {
	rules, err := s.store.AlertRules(ctx)
	if err != nil {
		return nil, err
	}
	states, err := s.store.AlertStates(ctx)
	if err != nil {
		return nil, err
	}
	byRule := map[int64][]db.AlertState{}
	for _, st := range states {
		byRule[st.RuleID] = append(byRule[st.RuleID], st)
	}
	out := make([]AlertRuleView, 0, len(rules))
	for i := range rules {
		out = append(out, alertView(&rules[i], byRule[rules[i].ID]))
	}
	return out, nil
}

// AlertRule returns one rule with its state.
func (s *Service) AlertRule(ctx context.Context, id int64) (*AlertRuleView, error) {
	r, err := s.store.AlertRule(ctx, id)
	if err != nil {
		return nil, err
	}
	states, err := s.store.AlertStates(ctx)
	if err != nil {
		return nil, err
	}
	var mine []db.AlertState
	for _, st := range states {
		if st.RuleID == id {
			mine = append(mine, st)
		}
	}
	v := alertView(r, mine)
	return &v, nil
}

func alertView(r *db.AlertRule, states []db.AlertState) AlertRuleView {
	st := alerts.Summarize(states)
	if !r.Enabled {
		st = alerts.StateSummary{Status: "ok"}
	}
	v := AlertRuleView{AlertRule: *r, State: st, Watches: alerts.Describe(r), Condition: alerts.Condition(r),
		Cooldown: alerts.Duration(r.CooldownSeconds)}
	if st.Value != nil {
		v.Value = alerts.FormatValue(r.Metric, *st.Value)
	}
	return v
}

// apply sets in's fields on r.
func (in AlertRuleInput) apply(r *db.AlertRule) {
	if in.Name != nil {
		r.Name = *in.Name
	}
	if in.Target != nil {
		r.Target = strings.TrimSpace(*in.Target)
	}
	if in.ServiceID != nil {
		id := *in.ServiceID
		r.ServiceID = &id
	}
	if in.Node != nil {
		r.Node = strings.TrimSpace(*in.Node)
	}
	if in.Metric != nil {
		r.Metric = strings.TrimSpace(*in.Metric)
	}
	if in.Comparison != nil {
		r.Comparison = strings.TrimSpace(*in.Comparison)
	}
	if in.Threshold != nil {
		r.Threshold = *in.Threshold
	}
	if in.ForSeconds != nil {
		r.ForSeconds = *in.ForSeconds
	}
	if in.CooldownSeconds != nil {
		r.CooldownSeconds = *in.CooldownSeconds
	}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
}

// validateAlertRule checks every field of r; serviceSet says whether the
// input named a service (a node rule must not).
func (s *Service) validateAlertRule(ctx context.Context, r *db.AlertRule, serviceSet bool) FieldErrors {
	errs := FieldErrors{}
	r.Name = strings.TrimSpace(r.Name)
	switch {
	case r.Name == "":
		errs["name"] = "give the rule a name"
	case len(r.Name) > 64 || strings.IndexFunc(r.Name, unicode.IsControl) >= 0:
		errs["name"] = "the name must be one line of at most 64 characters"
	}
	switch r.Target {
	case db.AlertTargetService:
		r.Node = ""
		if r.ServiceID == nil {
			errs["service_id"] = "a service rule needs service_id: the service whose replicas it watches"
			break
		}
		svc, err := s.store.AlertServiceChoice(ctx, *r.ServiceID)
		switch {
		case errors.Is(err, db.ErrNotFound):
			errs["service_id"] = "there is no service with id " + strconv.FormatInt(*r.ServiceID, 10)
		case err != nil:
			errs["service_id"] = "the service could not be checked: " + err.Error()
		case r.Metric == "memory_percent" && svc.Kind != "compose" && svc.MemoryLimitMB == 0:
			errs["metric"] = "memory_percent is a share of the memory limit, and " + svc.Name +
				" has none: set a memory limit on it, or watch memory (bytes)"
		}
	case db.AlertTargetNode:
		if serviceSet {
			errs["service_id"] = "a node rule watches nodes, not a service: leave service_id out"
		}
		r.ServiceID = nil
		if len(r.Node) > 128 || strings.IndexFunc(r.Node, unicode.IsControl) >= 0 {
			errs["node"] = "the node is a node's id or hostname, at most 128 characters; leave it empty for every node"
		}
	default:
		errs["target"] = `the target is "service" (a service's replicas) or "node" (the nodes)`
		return errs
	}
	m, ok := alerts.MetricOf(r.Target, r.Metric)
	if !ok {
		if _, seen := errs["metric"]; !seen {
			errs["metric"] = "unknown metric " + quote(r.Metric) + " for a " + r.Target + " rule: use " +
				strings.Join(alerts.MetricNames(r.Target), ", ")
		}
	}
	switch r.Comparison {
	case ">", ">=", "<", "<=":
	default:
		errs["comparison"] = "the comparison is one of >, >=, <, <="
	}
	if ok {
		switch {
		case math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0):
			errs["threshold"] = "the threshold must be a number"
		case r.Threshold < 0 || r.Threshold > m.Max:
			errs["threshold"] = "the threshold of " + r.Metric + " is 0 to " + strconv.FormatFloat(m.Max, 'f', -1, 64) + unitWords(m)
		}
	}
	if r.ForSeconds < 0 || r.ForSeconds > 86400 {
		errs["for_seconds"] = "for_seconds is 0 to 86400 (a day): how long the condition must hold before the rule fires"
	}
	if r.CooldownSeconds < 0 || r.CooldownSeconds > 7*86400 {
		errs["cooldown_seconds"] = "cooldown_seconds is 0 to 604800 (7 days): the least time between two firings"
	}
	return errs
}

func unitWords(m alerts.Metric) string {
	switch {
	case m.Percent:
		return " (%)"
	case m.Unit == "bytes":
		return " bytes"
	}
	return ""
}

// CreateAlertRule validates and stores a rule; it is enabled unless in
// says otherwise.
func (s *Service) CreateAlertRule(ctx context.Context, in AlertRuleInput) (*AlertRuleView, error) {
	r := &db.AlertRule{Enabled: true, Comparison: ">"}
	in.apply(r)
	if errs := s.validateAlertRule(ctx, r, in.ServiceID != nil); len(errs) > 0 {
		return nil, errs
	}
	if err := s.store.CreateAlertRule(ctx, r); err != nil {
		return nil, alertConflict(err)
	}
	return s.AlertRule(ctx, r.ID)
}

// UpdateAlertRule changes a rule; what in leaves out stays. Changing what
// it watches (target, service, node, metric) or disabling it forgets its
// state.
func (s *Service) UpdateAlertRule(ctx context.Context, id int64, in AlertRuleInput) (*AlertRuleView, error) {
	r, err := s.store.AlertRule(ctx, id)
	if err != nil {
		return nil, err
	}
	in.apply(r)
	if r.Target == db.AlertTargetNode && in.ServiceID == nil {
		r.ServiceID = nil // switched to node: the old service goes
	}
	if errs := s.validateAlertRule(ctx, r, in.ServiceID != nil); len(errs) > 0 {
		return nil, errs
	}
	if err := s.store.UpdateAlertRule(ctx, r); err != nil {
		return nil, alertConflict(err)
	}
	return s.AlertRule(ctx, id)
}

// DeleteAlertRule removes a rule; the built-in one can only be disabled.
func (s *Service) DeleteAlertRule(ctx context.Context, id int64) error {
	r, err := s.store.AlertRule(ctx, id)
	if err != nil {
		return err
	}
	if r.Builtin {
		return conflict("", "%q is built in: disable it instead of deleting it", r.Name)
	}
	return s.store.DeleteAlertRule(ctx, id)
}

func alertConflict(err error) error {
	if errors.Is(err, db.ErrConflict) {
		return &ConflictError{Field: "name", Msg: err.Error()}
	}
	return err
}

// AlertServiceChoices lists the services a rule can watch.
func (s *Service) AlertServiceChoices(ctx context.Context) ([]db.AlertServiceChoice, error) {
	return s.store.AlertServiceChoices(ctx)
}
