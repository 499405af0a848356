package pages

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/alerts"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// alertsPanel is the settings panel of alert rules.
type alertsPanel struct {
	Rules []ops.AlertRuleView
	Form  *views.Form
	// EditID is the rule the form edits; 0 adds one.
	EditID      int64
	Targets     []kindOption
	Metrics     []metricOption
	Comparisons []kindOption
	Groups      []serviceGroup // the service picker, by project
	Nodes       []db.AlertNode
	Message     string
	Error       string
	CSRF        string
}

type metricOption struct {
	Value, Label, Hint string
	Selected           bool
}

type serviceGroup struct {
	Project  string
	Services []kindOption
}

// alertForm fills the form's choices for its target.
func (h *Handler) alertForm(c echo.Context, p *alertsPanel, form *views.Form) error {
	ctx := c.Request().Context()
	target := form.Get("target")
	if target != db.AlertTargetNode {
		target = db.AlertTargetService
		form.Values["target"] = target
	}
	if form.Get("comparison") == "" {
		form.Values["comparison"] = ">"
	}
	p.Form, p.Targets, p.Metrics, p.Comparisons, p.Groups = form, nil, nil, nil, nil
	for _, t := range []kindOption{{Value: db.AlertTargetService, Label: "A service's replicas"}, {Value: db.AlertTargetNode, Label: "Nodes"}} {
		t.Selected = t.Value == target
		p.Targets = append(p.Targets, t)
	}
	for _, m := range alerts.Metrics[target] {
		label := m.Label
		if m.Unit != "" {
			label += " (" + m.Unit + ")"
		}
		p.Metrics = append(p.Metrics, metricOption{Value: m.Name, Label: label, Hint: m.Hint, Selected: m.Name == form.Get("metric")})
	}
	for _, cmp := range alerts.Comparisons {
		p.Comparisons = append(p.Comparisons, kindOption{Value: cmp, Label: cmp, Selected: cmp == form.Get("comparison")})
	}
	services, err := h.Ops.AlertServiceChoices(ctx)
	if err != nil {
		return err
	}
	for _, s := range services {
		group := s.Project
		if s.Environment != db.DefaultEnvironment {
			group += " · " + s.Environment
		}
		if len(p.Groups) == 0 || p.Groups[len(p.Groups)-1].Project != group {
			p.Groups = append(p.Groups, serviceGroup{Project: group})
		}
		id := strconv.FormatInt(s.ID, 10)
		label := s.Name + " (" + s.Kind + ")"
		g := &p.Groups[len(p.Groups)-1]
		g.Services = append(g.Services, kindOption{Value: id, Label: label, Selected: id == form.Get("service_id")})
	}
	p.Nodes, err = h.Store.AlertNodes(ctx, time.Now().Add(-time.Hour))
	return err
}

func (h *Handler) loadAlertRules(c echo.Context) (*alertsPanel, error) {
	rules, err := h.Ops.AlertRules(c.Request().Context())
	if err != nil {
		return nil, err
	}
	p := &alertsPanel{Rules: rules, CSRF: web.CSRF(c)}
	form := views.NewForm()
	form.Values["for_seconds"], form.Values["cooldown_seconds"], form.Values["enabled"] = "60", "1800", "on"
	if err := h.alertForm(c, p, form); err != nil {
		return nil, err
	}
	return p, nil
}

func (h *Handler) renderAlertRules(c echo.Context, p *alertsPanel) error {
	status := http.StatusOK
	if !p.Form.Valid() || p.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "settings_alerts", p)
}

// ShowAlertRules is the settings page's "Alert rules" panel.
func (h *Handler) ShowAlertRules(c echo.Context) error {
	p, err := h.loadAlertRules(c)
	if err != nil {
		return err
	}
	return h.renderAlertRules(c, p)
}

var alertFormFields = []string{"name", "target", "service_id", "node", "metric", "comparison", "threshold", "for_seconds", "cooldown_seconds", "enabled"}

// alertRuleFromForm reads the form into form (as typed) and an input; a
// number that does not parse is a field error.
func alertRuleFromForm(c echo.Context, form *views.Form) ops.AlertRuleInput {
	get := c.FormValue
	if c.Request().Method == http.MethodGet {
		get = c.QueryParam
	}
	for _, k := range alertFormFields {
		form.Values[k] = strings.TrimSpace(get(k))
	}
	v := form.Values
	name, target, node, metric, cmp := v["name"], v["target"], v["node"], v["metric"], v["comparison"]
	enabled := v["enabled"] != ""
	in := ops.AlertRuleInput{Name: &name, Target: &target, Metric: &metric, Comparison: &cmp, Enabled: &enabled}
	if target == db.AlertTargetNode {
		in.Node = &node
	} else if v["service_id"] != "" {
		if id, err := strconv.ParseInt(v["service_id"], 10, 64); err == nil {
			in.ServiceID = &id
		} else {
			form.Errors["service_id"] = "Choose a service."
		}
	}
	if f, err := strconv.ParseFloat(v["threshold"], 64); err == nil {
		in.Threshold = &f
	} else {
		form.Errors["threshold"] = "Enter a number."
	}
	for _, k := range []string{"for_seconds", "cooldown_seconds"} {
		n, err := strconv.Atoi(v[k])
		if err != nil {
			form.Errors[k] = "Enter a whole number of seconds."
			continue
		}
		if k == "for_seconds" {
			in.ForSeconds = &n
		} else {
			in.CooldownSeconds = &n
		}
	}
	return in
}

// ShowAlertRuleForm is the form for another target, keeping what was
// typed (the target select reloads it).
func (h *Handler) ShowAlertRuleForm(c echo.Context) error {
	form := views.NewForm()
	alertRuleFromForm(c, form)
	form.Errors = map[string]string{} // nothing was submitted yet
	form.Values["metric"] = ""
	p := &alertsPanel{CSRF: web.CSRF(c)}
	if id, err := strconv.ParseInt(c.QueryParam("id"), 10, 64); err == nil {
		p.EditID = id
	}
	if err := h.alertForm(c, p, form); err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "alert_rule_form", p)
}

// EditAlertRule shows the panel with the form filled with a rule.
func (h *Handler) EditAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	r, err := h.Ops.AlertRule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p, err := h.loadAlertRules(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	form.Values["name"], form.Values["target"], form.Values["node"] = r.Name, r.Target, r.Node
	if r.ServiceID != nil {
		form.Values["service_id"] = strconv.FormatInt(*r.ServiceID, 10)
	}
	form.Values["metric"], form.Values["comparison"] = r.Metric, r.Comparison
	form.Values["threshold"] = strconv.FormatFloat(r.Threshold, 'f', -1, 64)
	form.Values["for_seconds"], form.Values["cooldown_seconds"] = strconv.Itoa(r.ForSeconds), strconv.Itoa(r.CooldownSeconds)
	if r.Enabled {
		form.Values["enabled"] = "on"
	}
	p.EditID = id
	if err := h.alertForm(c, p, form); err != nil {
		return err
	}
	return h.renderAlertRules(c, p)
}

// CreateAlertRule saves the add form.
func (h *Handler) CreateAlertRule(c echo.Context) error {
	form := views.NewForm()
	in := alertRuleFromForm(c, form)
	var r *ops.AlertRuleView
	if form.Valid() {
		var err error
		if r, err = h.Ops.CreateAlertRule(c.Request().Context(), in); err != nil && !formErrors(form, err) {
			return err
		}
	}
	return h.afterAlertSave(c, form, 0, r, "Added")
}

// UpdateAlertRule saves the edit form.
func (h *Handler) UpdateAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	in := alertRuleFromForm(c, form)
	var r *ops.AlertRuleView
	if form.Valid() {
		if r, err = h.Ops.UpdateAlertRule(c.Request().Context(), id, in); err != nil && !formErrors(form, err) {
			return err
		}
	}
	return h.afterAlertSave(c, form, id, r, "Saved")
}

func (h *Handler) afterAlertSave(c echo.Context, form *views.Form, id int64, r *ops.AlertRuleView, verb string) error {
	p, err := h.loadAlertRules(c)
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.EditID = id
		if err := h.alertForm(c, p, form); err != nil {
			return err
		}
	} else {
		p.Message = verb + " " + r.Name + ": " + r.Condition + "."
	}
	return h.renderAlertRules(c, p)
}

// ToggleAlertRule enables or disables a rule.
func (h *Handler) ToggleAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	r, err := h.Ops.AlertRule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	enabled := !r.Enabled
	if _, err := h.Ops.UpdateAlertRule(c.Request().Context(), id, ops.AlertRuleInput{Enabled: &enabled}); err != nil {
		return err
	}
	p, err := h.loadAlertRules(c)
	if err != nil {
		return err
	}
	if enabled {
		p.Message = "Enabled " + r.Name + "."
	} else {
		p.Message = "Disabled " + r.Name + ": it is not evaluated until enabled again."
	}
	return h.renderAlertRules(c, p)
}

// DeleteAlertRule removes a rule.
func (h *Handler) DeleteAlertRule(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	r, err := h.Ops.AlertRule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	derr := h.Ops.DeleteAlertRule(c.Request().Context(), id)
	p, err := h.loadAlertRules(c)
	if err != nil {
		return err
	}
	var conflict *ops.ConflictError
	switch {
	case derr == nil:
		p.Message = "Deleted " + r.Name + "."
	case errors.As(derr, &conflict):
		p.Error = conflict.Msg
	default:
		return derr
	}
	return h.renderAlertRules(c, p)
}
