package api

import (
	"strings"

	"dokploy/db"
	"dokploy/jobs/alerts"
)

func exampleAlertRule() map[string]any {
	return map[string]any{"id": 2, "name": "shop-web hot", "target": "service", "service_id": 9, "node": "", "metric": "cpu",
		"comparison": ">", "threshold": 50.0, "for_seconds": 30, "cooldown_seconds": 300, "enabled": true, "builtin": false,
		"state":      map[string]any{"status": "firing", "since": exampleTime, "value": 97.5, "instance": "shop-web replica 1"},
		"created_at": exampleTime, "updated_at": exampleTime}
}

// alertOperations document /alert-rules.
func alertOperations() []Operation {
	notes := "target is service (service_id required: every replica of that service is watched on its own) or node " +
		"(node: a node's id or hostname, empty for every node). metric for a service: " + strings.Join(alerts.MetricNames(db.AlertTargetService), ", ") +
		" (cpu is % of one CPU; memory bytes of working set; memory_percent of the memory limit, which the service must have; restarts the slot's ended tasks); " +
		"for a node: " + strings.Join(alerts.MetricNames(db.AlertTargetNode), ", ") + ". comparison is >, >=, < or <=. " +
		"The rule fires when every sample of the last for_seconds (0 to 86400; 0: the latest sample) satisfies the comparison and the samples cover that time; " +
		"it notifies alert.firing once, then alert.resolved when the condition clears. After a firing the same instance does not fire again " +
		"within cooldown_seconds (0 to 604800). state is the rule's worst instance: ok, pending (holding, not yet long enough, or held back by the cooldown) " +
		"or firing, since when, and its latest value. The built-in rule \"Disk almost full\" (builtin: true) can be changed or disabled, not deleted."
	return []Operation{
		{Method: "GET", Path: "/api/v1/alert-rules", Tag: "Alerts", Summary: "List alert rules with their state",
			Status: 200, Response: map[string]any{"items": []any{exampleAlertRule()}}, Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/alert-rules", Tag: "Alerts", Summary: "Add an alert rule", Notes: notes,
			Body: map[string]any{"name": "shop-web hot", "target": "service", "service_id": 9, "metric": "cpu", "comparison": ">",
				"threshold": 50.0, "for_seconds": 30, "cooldown_seconds": 300},
			Status: 201, Response: exampleAlertRule(), Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/alert-rules/{id}", Tag: "Alerts", Summary: "Get an alert rule and its state",
			Status: 200, Response: exampleAlertRule(), Errors: []int{401, 404}},
		{Method: "PATCH", Path: "/api/v1/alert-rules/{id}", Tag: "Alerts", Summary: "Change an alert rule",
			Notes: "Fields left out keep their value. Changing what the rule watches (target, service_id, node, metric) or disabling it resets its state.",
			Body:  map[string]any{"threshold": 80.0, "enabled": false}, Status: 200, Response: exampleAlertRule(),
			Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/alert-rules/{id}", Tag: "Alerts", Summary: "Delete an alert rule (not the built-in one)",
			Status: 204, Errors: []int{401, 404, 409}},
	}
}
