// Package alerts evaluates the user's alert rules against the stored
// metrics samples and notifies alert.firing and alert.resolved.
//
// An Evaluator runs every metrics interval. For each enabled rule it reads
// the samples of the rule's window (db.AlertInstances: one indexed range
// scan per rule) and evaluates every instance the rule watches on its own:
// each replica of a service (a hot replica is not hidden by an idle one,
// and limits are per replica), each node for node rules.
//
// The condition holds for an instance when its newest sample is fresh (at
// most maxGap old), satisfies the comparison, and so did every sample of
// the for_seconds before it, with no gap longer than maxGap between two
// samples (the samples cover the window); for 0 s the newest sample
// alone decides. Holding, it fires once (alert.firing); while firing it
// stays quiet; when the condition stops holding it resolves
// (alert.resolved). After a firing, the same rule and instance does not
// fire again within cooldown_seconds: it stays pending and fires when the
// cooldown is over if the condition still holds.
//
// State lives in alert_states, so it survives restarts. Each rule is
// evaluated under a transaction-scoped advisory lock, so two control-plane
// processes take turns and the second sees the first's firing; the
// notification's dedupe key (rule, instance and firing start) is a second
// guard.
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/notify"
)

// Metric describes one metric a rule can watch.
type Metric struct {
	Name, Label, Unit string
	// Max bounds a threshold.
	Max float64
	// Percent: a share in %.
	Percent bool
	Hint    string
}

// Metrics lists each target's metrics, in the order forms show them.
var Metrics = map[string][]Metric{
	db.AlertTargetService: {
		{Name: "cpu", Label: "CPU", Unit: "%", Max: 12800, Percent: true, Hint: "per replica, % of one CPU (200 = two CPUs busy)"},
		{Name: "memory", Label: "Memory", Unit: "bytes", Max: 1 << 50, Hint: "per replica, working set in bytes"},
		{Name: "memory_percent", Label: "Memory of limit", Unit: "%", Max: 100, Percent: true, Hint: "per replica, % of its memory limit"},
		{Name: "restarts", Label: "Restarts", Max: 1000, Hint: "per replica, ended tasks Swarm keeps in the slot's history"},
	},
	db.AlertTargetNode: {
		{Name: "cpu", Label: "CPU", Unit: "%", Max: 100, Percent: true, Hint: "% of all the node's CPUs"},
		{Name: "memory_percent", Label: "Memory", Unit: "%", Max: 100, Percent: true, Hint: "% of the node's memory in use"},
		{Name: "disk_percent", Label: "Disk", Unit: "%", Max: 100, Percent: true, Hint: "% used of the disk of Docker's data root"},
		{Name: "load1", Label: "Load (1 min)", Max: 10000, Hint: "1-minute load average"},
	},
}

// MetricOf returns target's metric name, if there is one.
func MetricOf(target, name string) (Metric, bool) {
	for _, m := range Metrics[target] {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// MetricNames lists target's metric names.
func MetricNames(target string) []string {
	var out []string
	for _, m := range Metrics[target] {
		out = append(out, m.Name)
	}
	return out
}

// Comparisons are the comparisons a rule may use.
var Comparisons = []string{">", ">=", "<", "<="}

var comparisonWords = map[string]string{">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}

// FormatValue writes v in the metric's unit.
func FormatValue(metric string, v float64) string {
	switch metric {
	case "memory":
		return humanBytes(v)
	case "restarts":
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case "load1":
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " %"
}

// FormatThreshold writes a threshold without needless decimals.
func FormatThreshold(metric string, v float64) string {
	if metric == "memory" {
		return humanBytes(v)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if m, ok := MetricOf(db.AlertTargetService, metric); ok && m.Percent {
		return s + " %"
	}
	if m, ok := MetricOf(db.AlertTargetNode, metric); ok && m.Percent {
		return s + " %"
	}
	return s
}

func humanBytes(v float64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%.0f B", v)
	}
	div, exp := float64(unit), 0
	for m := v / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v/div, "KMGTPE"[exp])
}

// Duration writes seconds the way people say them: 30 s, 2 min, 6 h.
func Duration(secs int) string {
	switch {
	case secs == 0:
		return "0 s"
	case secs%3600 == 0:
		return strconv.Itoa(secs/3600) + " h"
	case secs%60 == 0:
		return strconv.Itoa(secs/60) + " min"
	case secs > 120:
		return (time.Duration(secs) * time.Second).String()
	}
	return strconv.Itoa(secs) + " s"
}

// Condition writes a rule's condition: "CPU > 50 % for 30 s".
func Condition(r *db.AlertRule) string {
	label := r.Metric
	if m, ok := MetricOf(r.Target, r.Metric); ok {
		label = m.Label
	}
	s := label + " " + r.Comparison + " " + FormatThreshold(r.Metric, r.Threshold)
	if r.ForSeconds > 0 {
		s += " for " + Duration(r.ForSeconds)
	}
	return s
}

// Options configure an Evaluator.
type Options struct {
	Store    *db.Store
	Notifier *notify.Notifier
	// Settings gives the metrics interval; store.MetricsSettings when nil.
	Settings func(ctx context.Context) (db.MetricsSettings, error)
	// Now is the clock (tests inject one); time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Evaluator evaluates the rules; see the package comment.
type Evaluator struct {
	opts Options
	log  *slog.Logger
}

// New builds an evaluator.
func New(opts Options) *Evaluator {
	if opts.Settings == nil {
		opts.Settings = opts.Store.MetricsSettings
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Evaluator{opts: opts, log: opts.Logger}
}

// Run evaluates every metrics interval until ctx ends; failures are
// logged, never fatal.
func (e *Evaluator) Run(ctx context.Context) {
	for {
		m, err := e.opts.Settings(ctx)
		if err != nil || m.IntervalSeconds < 1 {
			m = db.DefaultMetricsSettings
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(m.IntervalSeconds) * time.Second):
		}
		if err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("alert rules", "err", err)
		}
	}
}

// maxGap is the longest wait between two samples of an instance that
// still counts as continuous, and the age up to which the newest sample
// is current: two intervals and some slack for a slow round.
func maxGap(interval time.Duration) time.Duration { return 2*interval + 5*time.Second }

// Evaluate runs one round over every enabled rule.
func (e *Evaluator) Evaluate(ctx context.Context) error {
	m, err := e.opts.Settings(ctx)
	if err != nil || m.IntervalSeconds < 1 {
		m = db.DefaultMetricsSettings
	}
	rules, err := e.opts.Store.EnabledAlertRules(ctx)
	if err != nil {
		return err
	}
	var firstErr error
	for i := range rules {
		if err := e.evaluateRule(ctx, &rules[i], time.Duration(m.IntervalSeconds)*time.Second); err != nil {
			e.log.Warn("alert rule", "rule", rules[i].ID, "name", rules[i].Name, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// transition is a notification to send for one instance.
type transition struct {
	firing bool
	inst   db.AlertInstance
	state  db.AlertState
	// firedFor: how long it fired (resolved); gone: no sample any more.
	firedFor time.Duration
	gone     bool
}

func (e *Evaluator) evaluateRule(ctx context.Context, r *db.AlertRule, interval time.Duration) error {
	now := e.opts.Now().UTC()
	gap := maxGap(interval)
	window := time.Duration(r.ForSeconds)*time.Second + 2*gap
	return e.opts.Store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.LockAlertRule(ctx, r.ID); err != nil {
			return err
		}
		// Re-read under the lock: the rule may have been disabled or
		// changed since the list was read.
		fresh, err := tx.AlertRule(ctx, r.ID)
		if err != nil || !fresh.Enabled {
			return nil // deleted or disabled meanwhile
		}
		r = fresh
		insts, err := tx.AlertInstances(ctx, r, now.Add(-window), now, gap)
		if err != nil {
			return err
		}
		states, err := tx.RuleAlertStates(ctx, r.ID)
		if err != nil {
			return err
		}
		var out []transition
		seen := map[string]bool{}
		for _, in := range insts {
			seen[in.Key] = true
			st, had := states[in.Key]
			if !had {
				st = db.AlertState{RuleID: r.ID, Key: in.Key}
			}
			st.Label = in.Label
			v := in.Value
			st.LastValue = &v
			fresh := now.Sub(in.Latest) <= gap
			holds := fresh && in.RunStart != nil && in.Latest.Sub(*in.RunStart) >= time.Duration(r.ForSeconds)*time.Second
			st.PendingSince = nil
			if fresh && in.RunStart != nil {
				since := *in.RunStart
				st.PendingSince = &since
			}
			switch {
			case holds && st.FiringSince == nil:
				cooling := st.LastFiredAt != nil && now.Sub(*st.LastFiredAt) < time.Duration(r.CooldownSeconds)*time.Second
				if cooling {
					break // stays pending until the cooldown is over
				}
				// When it started to fire, from the samples and the stored
				// state only, so every process computes the same instant
				// (the dedupe key).
				firing := in.RunStart.Add(time.Duration(r.ForSeconds) * time.Second)
				if st.LastFiredAt != nil {
					if end := st.LastFiredAt.Add(time.Duration(r.CooldownSeconds) * time.Second); end.After(firing) {
						firing = end
					}
				}
				firing = firing.Truncate(time.Second)
				st.FiringSince, st.LastFiredAt, st.PendingSince = &firing, &now, nil
				out = append(out, transition{firing: true, inst: in, state: st})
			case holds:
				st.PendingSince = nil // still firing
			case st.FiringSince != nil:
				out = append(out, transition{inst: in, state: st, firedFor: now.Sub(*st.FiringSince), gone: !fresh})
				st.FiringSince, st.LastResolvedAt = nil, &now
			}
			if err := tx.SaveAlertState(ctx, st); err != nil {
				return err
			}
		}
		// Instances without samples in the window: a firing one resolves
		// (the replica or node went away); idle ones are forgotten once
		// their cooldown is over.
		for key, st := range states {
			if seen[key] {
				continue
			}
			switch {
			case st.FiringSince != nil:
				out = append(out, transition{inst: db.AlertInstance{Key: key, Label: st.Label}, state: st,
					firedFor: now.Sub(*st.FiringSince), gone: true})
				st.FiringSince, st.PendingSince, st.LastResolvedAt = nil, nil, &now
				if err := tx.SaveAlertState(ctx, st); err != nil {
					return err
				}
			case st.LastFiredAt == nil || now.Sub(*st.LastFiredAt) >= time.Duration(r.CooldownSeconds)*time.Second:
				if err := tx.DeleteAlertState(ctx, r.ID, key); err != nil {
					return err
				}
			case st.PendingSince != nil:
				st.PendingSince = nil
				if err := tx.SaveAlertState(ctx, st); err != nil {
					return err
				}
			}
		}
		// Queued while the lock is held, so a second process waits and
		// then sees the state written here.
		for _, t := range out {
			e.notify(ctx, tx, r, t)
		}
		return nil
	})
}

// notify queues the firing or resolved notification of t.
func (e *Evaluator) notify(ctx context.Context, tx *db.Store, r *db.AlertRule, t transition) {
	if e.opts.Notifier == nil {
		return
	}
	m, _ := MetricOf(r.Target, r.Metric)
	label := m.Label
	if label == "" {
		label = r.Metric
	}
	what := t.inst.Label
	var subject db.NotificationSubject
	link := e.opts.Notifier.Link("/server")
	if r.Target == db.AlertTargetService && r.ServiceID != nil {
		s, err := tx.ServiceSubject(ctx, *r.ServiceID)
		if err != nil {
			e.log.Warn("alert subject", "rule", r.ID, "err", err)
		}
		subject = s
		link = e.opts.Notifier.Link(servicePath(r.ServiceKind, *r.ServiceID))
		if what == "" {
			what = r.Service
		}
	}
	if what == "" {
		what = t.inst.Key
	}
	var since time.Time
	if t.state.FiringSince != nil {
		since = *t.state.FiringSince
	}
	value := 0.0
	if t.state.LastValue != nil {
		value = *t.state.LastValue
	}
	data := map[string]any{"rule_id": r.ID, "rule": r.Name, "metric": r.Metric, "comparison": r.Comparison,
		"threshold": r.Threshold, "value": value, "for_seconds": r.ForSeconds, "target": r.Target, "key": t.inst.Key,
		"instance": what, "firing_since": since.UTC().Format(time.RFC3339)}
	if r.Target == db.AlertTargetService {
		data["service"] = t.inst.Service
		data["replica"] = t.inst.Replica
		data["node"] = t.inst.Node
	} else {
		data["node"] = t.inst.Key
		data["hostname"] = t.inst.Label
	}
	words := comparisonWords[r.Comparison]
	ev := notify.Event{Subject: subject, URL: link, Data: data,
		DedupeKey: fmt.Sprintf("alert:%d:%s:%d", r.ID, t.inst.Key, since.Unix())}
	threshold := FormatThreshold(r.Metric, r.Threshold)
	if t.firing {
		ev.Name, ev.Severity = notify.EventAlertFiring, notify.SeverityWarning
		ev.Title = fmt.Sprintf("%s of %s %s %s", label, what, words, threshold)
		if r.ForSeconds > 0 {
			ev.Title += " for " + Duration(r.ForSeconds)
		}
		ev.Body = fmt.Sprintf("Alert rule %q fired: %s of %s is %s (%s %s%s). You are told again when it resolves.",
			r.Name, label, what, FormatValue(r.Metric, value), r.Comparison, threshold, forWords(r.ForSeconds))
	} else {
		ev.Name, ev.Severity = notify.EventAlertResolved, notify.SeveritySuccess
		ev.DedupeKey += ":resolved"
		fired := t.firedFor.Round(time.Second)
		data["fired_seconds"] = int(fired.Seconds())
		ev.Title = fmt.Sprintf("Resolved: %s of %s", label, what)
		if t.gone {
			ev.Body = fmt.Sprintf("Alert rule %q resolved: %s sends no samples any more (last value %s). It fired for %s.",
				r.Name, what, FormatValue(r.Metric, value), fired)
		} else {
			ev.Title += " no longer " + words + " " + threshold
			ev.Body = fmt.Sprintf("Alert rule %q resolved: %s of %s is %s now. It fired for %s.",
				r.Name, label, what, FormatValue(r.Metric, value), fired)
		}
	}
	if _, err := e.opts.Notifier.Notify(ctx, ev); err != nil {
		e.log.Warn("queue alert notification", "rule", r.ID, "key", t.inst.Key, "event", ev.Name, "err", err)
	}
}

func forWords(secs int) string {
	if secs == 0 {
		return ""
	}
	return " for " + Duration(secs)
}

// servicePath is the dashboard page of a service.
func servicePath(kind string, id int64) string {
	base := map[string]string{"app": "/apps/", "database": "/databases/", "compose": "/compose/"}[kind]
	if base == "" {
		return "/"
	}
	return base + strconv.FormatInt(id, 10)
}

// StateSummary is a rule's state as lists show it: its worst instance.
type StateSummary struct {
	Status   string     `json:"status"` // ok, pending or firing
	Since    *time.Time `json:"since"`
	Value    *float64   `json:"value"`
	Instance string     `json:"instance,omitempty"`
}

// Summarize reduces a rule's states to one: firing beats pending beats
// ok; among equals the one that started first.
func Summarize(states []db.AlertState) StateSummary {
	out := StateSummary{Status: "ok"}
	rank := map[string]int{"ok": 0, "pending": 1, "firing": 2}
	for _, st := range states {
		s := StateSummary{Status: "ok", Value: st.LastValue, Instance: st.Label}
		switch {
		case st.FiringSince != nil:
			s.Status, s.Since = "firing", st.FiringSince
		case st.PendingSince != nil:
			s.Status, s.Since = "pending", st.PendingSince
		}
		switch {
		case out.Instance == "" && out.Value == nil && rank[s.Status] >= rank[out.Status]:
			out = s
		case rank[s.Status] > rank[out.Status]:
			out = s
		case rank[s.Status] == rank[out.Status] && s.Since != nil && (out.Since == nil || s.Since.Before(*out.Since)):
			out = s
		}
	}
	return out
}

// Describe names what a rule watches: "shop-web (shop)", "every node".
func Describe(r *db.AlertRule) string {
	if r.Target == db.AlertTargetNode {
		if r.Node == "" {
			return "every node"
		}
		return "node " + r.Node
	}
	if r.Project != "" {
		return r.Service + " (" + r.Project + ")"
	}
	return strings.TrimSpace(r.Service)
}
