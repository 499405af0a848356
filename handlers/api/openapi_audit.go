package api

// auditOperations document the audit log.
func auditOperations() []Operation {
	event := map[string]any{"id": 812, "at": exampleTime, "actor_type": "token", "actor_user_id": 2, "actor_email": "dev@example.com",
		"actor_token_id": 5, "actor_token_name": "ci", "ip": "203.0.113.7", "action": "app.update", "resource": "service",
		"resource_id": 7, "project_id": 1, "route": "PATCH /api/v1/applications/:id", "status": 200, "detail": "",
		"changes":    map[string]any{"replicas": map[string]any{"old": 1, "new": 2}, "env.API_KEY": "changed"},
		"request_id": "b1946ac92492"}
	filters := "Query: user (an id or an email), project (id), resource (project, environment, service, deployment, domain, backup, " +
		"backup-run, user, token, settings, …), action (that action and the ones under it: app matches app.deploy, sign_in matches sign_in.failed), " +
		"since and until (2026-12-04, 2026-12-04T18:30 or RFC 3339, UTC). Owners and admins see every event; members and viewers " +
		"the events of their projects and their own (sign-ins, tokens). Never a secret: changes has old/new of plain fields and only " +
		"\"changed\" (env: \"added\", \"changed\", \"removed\") for secrets and variables."
	return []Operation{
		{Method: "GET", Path: "/api/v1/audit", Tag: "Audit", Summary: "The audit log, newest first",
			Notes:  filters + " Paging by id: limit (1–100, default 50) and before (the next_before of the previous page); after returns only newer events.",
			Status: 200, Response: map[string]any{"items": []any{event}, "limit": 50, "next_before": 812}, Errors: []int{401, 422}},
		{Method: "GET", Path: "/api/v1/audit/export", Tag: "Audit", Summary: "Export the audit log as JSON lines (application/x-ndjson)",
			Notes: filters + " One event per line, newest first, every event the filters select (streamed).", Status: 200, Text: true,
			Errors: []int{401, 422}},
	}
}
