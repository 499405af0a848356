package api

// userOperations documents users, roles, project grants and every token
// (owners and admins).
func userOperations() []Operation {
	user := map[string]any{"id": 2, "email": "dev@example.com", "role": "member", "created_at": "2026-12-04T18:00:00Z",
		"disabled_at": nil, "two_factor": false, "last_seen_at": "2026-12-04T18:30:00Z", "projects": 1}
	member := map[string]any{"project_id": 1, "user_id": 2, "email": "dev@example.com", "role": "member", "level": "deploy", "created_at": "2026-12-04T18:00:00Z"}
	owners := "Owners and admins only (403 otherwise, and for a token without the manage scope). "
	inv := map[string]any{"id": 3, "email": "new@example.com", "role": "member", "project_id": 1, "level": "deploy", "project_name": "shop",
		"invited_by": 1, "created_at": "2026-12-04T18:00:00Z", "expires_at": "2026-12-11T18:00:00Z", "accepted_at": nil}
	return []Operation{
		{Method: "GET", Path: "/api/v1/invitations", Tag: "Users", Summary: "Invitations not yet accepted", Paginated: true,
			Notes: owners + "Expired ones are listed too, until revoked.", Status: 200, Response: examplePage(inv), Errors: []int{401, 403}},
		{Method: "POST", Path: "/api/v1/invitations", Tag: "Users", Summary: "Invite a user by a one-time link",
			Notes: owners + "The answer holds the link, shown only this once (stored hashed). It works once, until it expires (expires_in_days 1–30, default 7). " +
				"When an email notification channel is set up the link is also mailed to the address (emailed_via names the channel; email_error says why mailing failed). " +
				"project_id with level grants a member or viewer a first project. Only owners invite owners; an address that has an account or an open invitation is refused (409).",
			Status: 201, Body: map[string]any{"email": "new@example.com", "role": "member", "project_id": 1, "level": "deploy", "expires_in_days": 7},
			Response: map[string]any{"invitation": inv, "link": "https://dokploy.example.com/invite/…", "emailed_via": "ops mail"}, Errors: []int{400, 401, 403, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/invitations/{id}", Tag: "Users", Summary: "Revoke an invitation: its link stops working",
			Notes: owners, Status: 204, Errors: []int{401, 403, 404}},
		{Method: "GET", Path: "/api/v1/users", Tag: "Users", Summary: "List users", Paginated: true,
			Notes:  owners + "Roles: owner (everything, other owners included), admin (everything but owners), member (granted projects at their level), viewer (granted projects, read-only).",
			Status: 200, Response: examplePage(user), Errors: []int{401, 403}},
		{Method: "GET", Path: "/api/v1/users/{id}", Tag: "Users", Summary: "A user and the projects granted to them",
			Notes:  owners,
			Status: 200, Response: map[string]any{"user": user, "projects": []any{map[string]any{"project_id": 1, "project_name": "shop", "level": "deploy"}}}, Errors: []int{401, 403, 404}},
		{Method: "PATCH", Path: "/api/v1/users/{id}", Tag: "Users", Summary: "Change a user's role, or disable or enable them",
			Notes: owners + "Disabling ends the user's sessions at once and refuses their API tokens until they are enabled again. " +
				"Only owners change owners or make new ones; nobody changes, disables or removes themselves; the last owner who can sign in stays one (409).",
			Status: 200, Body: map[string]any{"role": "viewer", "disabled": false}, Response: user, Errors: []int{400, 401, 403, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/users/{id}", Tag: "Users", Summary: "Remove a user",
			Notes:  owners + "Their sessions, API tokens and grants are deleted; their sessions and tokens fail on the next request.",
			Status: 204, Errors: []int{401, 403, 404, 409}},
		{Method: "GET", Path: "/api/v1/projects/{id}/members", Tag: "Users", Summary: "Who works on a project, and at which level", Paginated: true,
			Notes:  owners + "Owners and admins reach every project and are not listed.",
			Status: 200, Response: examplePage(member), Errors: []int{401, 403, 404}},
		{Method: "PUT", Path: "/api/v1/projects/{id}/members/{user_id}", Tag: "Users", Summary: "Grant a member or viewer a level on a project",
			Notes: owners + "level: view (pages, logs, metrics; no secrets), deploy (view, plus deploy, start, stop, restart, roll back, run backups), " +
				"manage (everything in the project: settings, secrets, domains, creating and deleting services). Viewers get view only.",
			Status: 200, Body: map[string]any{"level": "deploy"}, Response: member, Errors: []int{400, 401, 403, 404, 422}},
		{Method: "DELETE", Path: "/api/v1/projects/{id}/members/{user_id}", Tag: "Users", Summary: "Take a user's grant on a project away",
			Notes: owners, Status: 204, Errors: []int{401, 403, 404}},
	}
}
