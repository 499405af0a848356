package handlers

import "testing"

// Action names come from the route, and the UI's and the API's route of
// one operation give the same name.
func TestAuditAction_Names(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, route, want string }{
		{"POST", "/apps/:id/deploy", "app.deploy"},
		{"POST", "/api/v1/applications/:id/deploy", "app.deploy"},
		{"POST", "/apps/:id", "app.update"},
		{"PATCH", "/api/v1/applications/:id", "app.update"},
		{"POST", "/apps/:id/delete", "app.delete"},
		{"DELETE", "/api/v1/applications/:id", "app.delete"},
		{"POST", "/projects/:id/apps", "app.create"},
		{"POST", "/api/v1/applications", "app.create"},
		{"POST", "/projects", "project.create"},
		{"POST", "/api/v1/projects", "project.create"},
		{"POST", "/projects/:id/rename", "project.update"},
		{"PATCH", "/api/v1/projects/:id", "project.update"},
		{"POST", "/environments/:id/delete", "environment.delete"},
		{"DELETE", "/api/v1/projects/:id/environments/:env_id", "environment.delete"},
		{"POST", "/apps/:id/env", "app.env.update"},
		{"PUT", "/api/v1/applications/:id/env", "app.env.update"},
		{"POST", "/apps/:id/domains", "domain.create"},
		{"POST", "/api/v1/applications/:id/domains", "domain.create"},
		{"POST", "/domains/:id/delete", "domain.delete"},
		{"DELETE", "/api/v1/domains/:id", "domain.delete"},
		{"POST", "/compose/:id/domains/:did/delete", "domain.delete"},
		{"POST", "/apps/:id/basic-auth/:uid/delete", "basic_auth.delete"},
		{"DELETE", "/api/v1/applications/:id/basic-auth/:uid", "basic_auth.delete"},
		{"POST", "/apps/:id/headers", "app.headers.update"},
		{"PUT", "/api/v1/applications/:id/headers", "app.headers.update"},
		{"POST", "/apps/:id/webhooks/rotate", "app.webhook.rotate"},
		{"POST", "/settings/tokens", "token.create"},
		{"POST", "/api/v1/tokens", "token.create"},
		{"POST", "/settings/tokens/:id/revoke", "token.revoke"},
		{"DELETE", "/api/v1/tokens/:id", "token.revoke"},
		{"POST", "/settings/retention", "settings.retention.update"},
		{"PATCH", "/api/v1/settings/retention", "settings.retention.update"},
		{"POST", "/settings/retention/prune", "settings.retention.prune"},
		{"POST", "/api/v1/settings/retention/prune", "settings.retention.prune"},
		{"POST", "/deployments/:id/rollback", "deployment.rollback"},
		{"POST", "/compose/:id/deployments/:did/rollback", "deployment.rollback"},
		{"POST", "/settings/alerts", "alert_rule.create"},
		{"POST", "/api/v1/alert-rules", "alert_rule.create"},
		{"POST", "/account/password", "account.password.update"},
		{"POST", "/api/v1/account/password", "account.password.update"},
		{"POST", "/apps/:id/env/reveal", "app.env.reveal"},
		{"POST", "/settings/control-plane-backup/run", "control_plane.backup.run"},
		{"POST", "/api/v1/control-plane/backup", "control_plane.backup.run"},
		{"POST", "/api/deploy/:token", "webhook.deploy"},
	} {
		if got := auditAction(tc.method, tc.route); got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.method, tc.route, got, tc.want)
		}
	}
}
