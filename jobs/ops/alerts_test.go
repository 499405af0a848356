package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/ops"
)

func ptr[T any](v T) *T { return &v }

// Each bad rule is refused with a message on its field, and nothing is
// stored; the built-in rule cannot be deleted; switching a rule to nodes
// drops its service.
func TestAlertRules_ValidationAndCRUD(t *testing.T) {
	dbtest.Integration(t)
	store := dbtest.NewStore(t)
	ctx := context.Background()
	s := ops.New(store, nil, nil)
	p, err := store.CreateProject(ctx, "Shop", "")
	if err != nil {
		t.Fatal(err)
	}
	env, err := store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	app := &db.App{EnvironmentID: env.ID, Name: "web", AppName: "web", SourceType: db.SourceImage, Image: "nginx:1",
		Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
	if err := store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	good := func() ops.AlertRuleInput {
		return ops.AlertRuleInput{Name: ptr("web hot"), Target: ptr("service"), ServiceID: ptr(app.ID), Metric: ptr("cpu"),
			Comparison: ptr(">"), Threshold: ptr(50.0), ForSeconds: ptr(30), CooldownSeconds: ptr(300)}
	}
	for _, c := range []struct {
		name, field, want string
		edit              func(in *ops.AlertRuleInput)
	}{
		{"unknown metric", "metric", `unknown metric "load1" for a service rule`, func(in *ops.AlertRuleInput) { in.Metric = ptr("load1") }},
		{"negative for", "for_seconds", "for_seconds is 0 to 86400", func(in *ops.AlertRuleInput) { in.ForSeconds = ptr(-1) }},
		{"long cooldown", "cooldown_seconds", "0 to 604800", func(in *ops.AlertRuleInput) { in.CooldownSeconds = ptr(8 * 86400) }},
		{"no service", "service_id", "needs service_id", func(in *ops.AlertRuleInput) { in.ServiceID = nil }},
		{"missing service", "service_id", "there is no service with id 999999", func(in *ops.AlertRuleInput) { in.ServiceID = ptr(int64(999999)) }},
		{"memory of no limit", "metric", "web has none: set a memory limit", func(in *ops.AlertRuleInput) { in.Metric = ptr("memory_percent") }},
		{"node with service", "service_id", "leave service_id out", func(in *ops.AlertRuleInput) {
			in.Target, in.Metric = ptr("node"), ptr("disk_percent")
		}},
		{"percent over 100", "threshold", "0 to 100", func(in *ops.AlertRuleInput) {
			in.Target, in.ServiceID, in.Metric, in.Threshold = ptr("node"), nil, ptr("disk_percent"), ptr(150.0)
		}},
		{"bad target", "target", `"service"`, func(in *ops.AlertRuleInput) { in.Target = ptr("host") }},
		{"bad comparison", "comparison", "one of >, >=, <, <=", func(in *ops.AlertRuleInput) { in.Comparison = ptr("==") }},
		{"no name", "name", "give the rule a name", func(in *ops.AlertRuleInput) { in.Name = ptr(" ") }},
	} {
		in := good()
		c.edit(&in)
		_, err := s.CreateAlertRule(ctx, in)
		var fe ops.FieldErrors
		if !errors.As(err, &fe) || !strings.Contains(fe[c.field], c.want) {
			t.Errorf("%s: %v, want %s: …%s…", c.name, err, c.field, c.want)
		}
	}
	rules, err := s.AlertRules(ctx)
	if err != nil || len(rules) != 1 || !rules[0].Builtin {
		t.Fatalf("after refused creates: %+v %v, want the built-in rule only", rules, err)
	}
	if err := s.DeleteAlertRule(ctx, rules[0].ID); err == nil || !strings.Contains(err.Error(), "disable it instead") {
		t.Errorf("delete built-in: %v", err)
	}

	r, err := s.CreateAlertRule(ctx, good())
	if err != nil {
		t.Fatal(err)
	}
	if r.State.Status != "ok" || r.Condition != "CPU > 50 % for 30 s" || r.Watches != "web (Shop)" || !r.Enabled {
		t.Errorf("created: %+v", r)
	}
	if _, err := s.CreateAlertRule(ctx, good()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("same name twice: %v", err)
	}
	u, err := s.UpdateAlertRule(ctx, r.ID, ops.AlertRuleInput{Target: ptr("node"), Metric: ptr("load1"), Threshold: ptr(4.0)})
	if err != nil {
		t.Fatal(err)
	}
	if u.ServiceID != nil || u.Target != "node" || u.Node != "" || u.Condition != "Load (1 min) > 4 for 30 s" || u.Watches != "every node" {
		t.Errorf("switched to nodes: %+v", u)
	}
	if err := s.DeleteAlertRule(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AlertRule(ctx, r.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("deleted rule: %v", err)
	}
}
