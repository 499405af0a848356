package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/views"
)

// Operation documents one route. The OpenAPI document and the API page
// are both built from apiOperations, and TestOpenAPI_MatchesRoutes checks
// the list against the registered routes, so the three cannot drift apart.
type Operation struct {
	Method    string
	Path      string // OpenAPI form: /applications/{id}
	Tag       string
	Summary   string
	Notes     string
	Public    bool // no API token needed
	Paginated bool // takes limit and offset
	Body      any  // example request body; nil when there is none
	Status    int  // success status
	Response  any  // example response body; nil for none (204) or plain text
	Text      bool // the response is text/plain
	Errors    []int
	// StringParams: the path parameters are strings (Docker's node ids),
	// not the database's numbers.
	StringParams bool
}

const exampleTime = "2026-01-02T15:04:05Z"

func exampleProject() map[string]any {
	return map[string]any{"id": 1, "name": "shop", "description": "Online shop", "created_at": exampleTime,
		"environments": []any{exampleEnvironment()}}
}

func exampleEnvironment() map[string]any {
	return map[string]any{"id": 1, "project_id": 1, "name": "production", "created_at": exampleTime}
}

func exampleWebhook() map[string]any {
	return map[string]any{"url": "https://dokploy.example.com/api/deploy/3q2-Xk…", "deploy_on": "push",
		"watch_paths": []any{"src/**", "Dockerfile"}, "auto_deploy": true, "secret_set": true}
}

func exampleApp() map[string]any {
	return map[string]any{
		"id": 7, "environment_id": 1, "project_id": 1, "environment": "production", "name": "Shop web", "app_name": "shop-web",
		"port": 3000, "replicas": 1, "memory_limit_mb": 512, "cpu_limit": 0.5, "status": "running",
		"placement_constraints": []any{"node.labels.region==eu"}, "max_replicas_per_node": 1,
		"current_image": "shop-web:42", "current_commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
		"created_at": exampleTime, "updated_at": exampleTime,
		"source": map[string]any{"type": "git", "url": "https://github.com/acme/shop.git", "branch": "main",
			"context": ".", "dockerfile": "Dockerfile", "target": "", "no_cache": false, "token_set": true, "deploy_public_key": ""},
		"env_keys":    []any{"DATABASE_URL", "NODE_ENV"},
		"ports":       []any{map[string]any{"published": 8080, "target": 3000, "protocol": "tcp", "mode": "host"}},
		"volumes":     []any{map[string]any{"name": "uploads", "path": "/app/uploads", "docker_volume": "shop-web-uploads"}},
		"webhook_url": "https://dokploy.example.com/api/deploy/3q2-Xk…",
		"webhook":     exampleWebhook(),
	}
}

func exampleAppInput() map[string]any {
	return map[string]any{
		"project_id": 1, "environment": "production", "name": "Shop web", "app_name": "shop-web",
		"source": map[string]any{"type": "git", "url": "https://github.com/acme/shop.git", "branch": "main",
			"context": ".", "dockerfile": "Dockerfile", "token": "ghp_…"},
		"port": 3000, "replicas": 1, "memory_limit_mb": 512, "cpu_limit": 0.5,
		"env":        map[string]any{"NODE_ENV": "production"},
		"build_args": map[string]any{"NPM_TOKEN": "…"},
		"ports":      []any{map[string]any{"published": 8080, "target": 3000, "protocol": "tcp", "mode": "host"}},
		"volumes":    []any{map[string]any{"name": "uploads", "path": "/app/uploads"}},
		"deploy_on":  "push", "watch_paths": []any{"src/**"}, "auto_deploy": true, "webhook_secret": "a-long-random-secret",
	}
}

func exampleDeployment() map[string]any {
	return map[string]any{"id": 42, "application_id": 7, "app_name": "shop-web", "status": "queued", "trigger": "api",
		"triggered_by": "token ci", "error": "", "commit": "", "commit_message": "", "image": "",
		"created_at": exampleTime, "started_at": nil, "serving_at": nil, "finished_at": nil, "rollback_of": nil, "action": "deploy"}
}

func exampleDatabase() map[string]any {
	return map[string]any{
		"id": 9, "environment_id": 1, "project_id": 1, "environment": "production", "name": "shop-db", "engine": "postgres",
		"image": "postgres:17", "database": "shop_db", "user": "shop_db", "registry_server": "", "registry_username": "",
		"memory_limit_mb": 1024, "cpu_limit": 1.0, "args": []any{"-c", "max_connections=200"}, "status": "healthy",
		"placement_constraints": []any{}, "max_replicas_per_node": 0,
		"current_image": "postgres:17", "created_at": exampleTime, "updated_at": exampleTime,
		"live":         map[string]any{"state": "healthy", "running": 1, "healthy": 1, "desired": 1},
		"internal_url": "postgresql://shop_db:********@shop-db:5432/shop_db",
		"external_url": "postgresql://shop_db:********@dokploy.example.com:15432/shop_db", "external_port": 15432,
		"volume": "shop-db-data", "env_keys": []any{"POSTGRES_INITDB_ARGS"},
	}
}

func exampleDatabaseInput() map[string]any {
	return map[string]any{"project_id": 1, "environment": "production", "engine": "postgres", "name": "shop-db",
		"image": "postgres:17", "database": "shop_db", "user": "shop_db", "external_port": 15432,
		"memory_limit_mb": 1024, "cpu_limit": 1.0, "args": []any{"-c", "max_connections=200"},
		"env":      map[string]any{"POSTGRES_INITDB_ARGS": "--data-checksums"},
		"registry": map[string]any{"server": "ghcr.io", "username": "acme", "password": "…"}}
}

func exampleDatabaseCreated() map[string]any {
	d := exampleDatabase()
	d["status"], d["live"] = "queued", map[string]any{"state": "not deployed", "running": 0, "healthy": 0, "desired": 0}
	dep := exampleDeployment()
	dep["application_id"], dep["app_name"], dep["action"] = 9, "shop-db", "deploy"
	d["deployment"] = dep
	return d
}

func exampleDestination() map[string]any {
	return map[string]any{"id": 2, "name": "offsite", "endpoint": "https://s3.eu-central-1.amazonaws.com", "region": "eu-central-1",
		"bucket": "acme-backups", "prefix": "dokploy", "access_key": "AKIAIOSFODNN7EXAMPLE", "path_style": false, "backup_plans": 1,
		"created_at": exampleTime, "updated_at": exampleTime}
}

func exampleDestinationInput() map[string]any {
	return map[string]any{"name": "offsite", "endpoint": "https://s3.eu-central-1.amazonaws.com", "region": "eu-central-1",
		"bucket": "acme-backups", "prefix": "dokploy", "access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": "…", "path_style": false}
}

func exampleControlPlaneSettingsInput() map[string]any {
	return map[string]any{"destination_id": 2, "schedule": "daily", "timezone": "UTC", "enabled": true, "keep_last": 14, "passphrase": "a long passphrase kept offline"}
}

func exampleControlPlaneSettings() map[string]any {
	return map[string]any{"destination_id": 2, "schedule": "0 3 * * *", "timezone": "UTC", "enabled": true, "keep_last": 14,
		"passphrase_set": true, "next_run_at": exampleTime, "updated_at": exampleTime}
}

func exampleControlPlaneRun(status string) map[string]any {
	r := map[string]any{"id": 12, "status": status, "reason": "manual", "triggered_by": "admin@example.com", "destination_id": 2, "destination": "offsite",
		"object_key": "control-plane/dokploy-20260102T150405Z-12.tar.gz", "size_bytes": 0, "sha256": "", "secret_key_included": false,
		"tables": 0, "rows": 0, "files": 0, "error": "", "created_at": exampleTime, "started_at": nil, "finished_at": nil, "deleted_at": nil}
	if status == "done" {
		r["size_bytes"], r["sha256"], r["secret_key_included"] = 48213, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true
		r["tables"], r["rows"], r["files"], r["started_at"], r["finished_at"] = 27, 1834, 4, exampleTime, exampleTime
	}
	return r
}

func exampleBackupInput() map[string]any {
	return map[string]any{"destination_id": 2, "schedule": "daily", "timezone": "Europe/Paris", "enabled": true, "prefix": "shop",
		"keep_last": 7, "keep_daily": 0, "keep_weekly": 4, "keep_monthly": 0, "drill_schedule": "weekly"}
}

func exampleBackup() map[string]any {
	b := exampleBackupInput()
	b["schedule"], b["drill_schedule"] = "0 3 * * *", "0 3 * * 0"
	b["id"], b["database_id"], b["destination"], b["missed"] = 4, 9, "offsite", false
	b["next_run_at"], b["next_drill_at"], b["last_success_at"], b["created_at"], b["updated_at"] = exampleTime, exampleTime, exampleTime, exampleTime, exampleTime
	return b
}

func exampleVolumeBackupInput() map[string]any {
	return map[string]any{"volume": "uploads", "destination_id": 2, "schedule": "daily", "timezone": "Europe/Berlin", "keep_last": 7,
		"stop_during_backup": true, "prefix": "prod"}
}

func exampleVolumeBackup() map[string]any {
	b := exampleBackup()
	b["database_id"], b["volume"], b["stop_during_backup"], b["drill_schedule"], b["next_drill_at"] = 7, "uploads", true, "", nil
	return b
}

func exampleVolumeBackupRun() map[string]any {
	r := exampleBackupRun()
	r["database_id"], r["database"], r["volume"], r["engine"], r["engine_version"], r["format"] = 7, "shop-web", "uploads", "volume", "tar", "volume-tar-gzip"
	r["object_key"] = "prod/shop-web/shop-web-uploads-20250601T030000Z-40.tar.gz"
	r["drilled_at"], r["drill_ok"], r["drill_summary"] = nil, nil, ""
	return r
}

func exampleBackupRun() map[string]any {
	return map[string]any{"id": 31, "backup_id": 4, "database_id": 9, "database": "shop-db", "destination_id": 2, "destination": "offsite",
		"operation_id": 120, "reason": "manual", "status": "done", "error": "",
		"object_key": "shop/shop-db/shop-db-20261202T030000Z-31.dump", "size_bytes": 1048576,
		"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "engine": "postgres",
		"engine_version": "pg_dump (PostgreSQL) 17.2", "format": "pg_dump-custom", "deleted_at": nil,
		"drilled_at": exampleTime, "drill_ok": true, "drill_summary": "2 tables, 15 rows (orders 12, users 3)",
		"created_at": exampleTime, "started_at": exampleTime, "finished_at": exampleTime}
}

func exampleOperation(action string) map[string]any {
	dep := exampleDeployment()
	dep["application_id"], dep["app_name"], dep["action"] = 9, "shop-db", action
	return dep
}

func exampleDelivery() map[string]any {
	return map[string]any{"id": 3, "application_id": 7, "created_at": exampleTime, "provider": "github", "event": "push",
		"ref": "refs/heads/main", "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8", "commit_message": "Fix checkout",
		"outcome": "deployed", "reason": "", "deployment_id": 42}
}

func exampleDomainInput() map[string]any {
	return map[string]any{"host": "shop.example.com", "path": "/", "strip_path": false, "internal_path": "/", "port": 3000,
		"https": true, "certificate": "letsencrypt", "enabled": true}
}

func exampleDomain() map[string]any {
	d := exampleDomainInput()
	for k, v := range map[string]any{"id": 5, "app_id": 7, "certificate_id": nil, "created_at": exampleTime, "updated_at": exampleTime,
		"status": "active"} {
		d[k] = v
	}
	return d
}

func exampleCertificate() map[string]any {
	return map[string]any{"id": 1, "name": "wildcard", "hosts": []any{"*.example.com"}, "not_after": exampleTime, "created_at": exampleTime}
}

func exampleToken() map[string]any {
	return map[string]any{"id": 2, "name": "ci", "prefix": "dkp_AbC123", "created_at": exampleTime, "last_used_at": nil, "scope": "deploy", "project_ids": []any{1}, "expires_at": "2027-03-04T18:00:00Z"}
}

func exampleDeploySettings() map[string]any {
	return map[string]any{"deploy_concurrency": 1, "image_retention": 10, "timeout_clone": "5m", "timeout_build": "30m",
		"timeout_pull": "10m", "timeout_converge": "5m", "build_memory_mb": 4096, "build_cpus": 0}
}

func exampleRedirect() map[string]any {
	return map[string]any{"id": 1, "regex": "^https?://www\\.example\\.com/(.*)", "replacement": "https://example.com/${1}", "permanent": true}
}

func exampleHeaders() map[string]any {
	return map[string]any{"response": map[string]any{"X-Frame-Options": "DENY"}, "request": map[string]any{"X-Forwarded-Prefix": "/shop"}}
}

func examplePage(items ...any) map[string]any {
	return map[string]any{"items": items, "limit": 50, "offset": 0}
}

// notRoutedNote documents the answer of a routing change that was saved
// but could not be written to Traefik's files (ops.NotRoutedError).
const notRoutedNote = "If the change is saved but Traefik's files could not be updated, the answer keeps its status and adds routing_error; the next sync retries."

// Operations lists every documented route.
func Operations() []Operation {
	notFound := []int{401, 404}
	write := []int{400, 401, 404, 422}
	created := exampleToken()
	created["token"] = "dkp_AbC123…"
	return append([]Operation{
		{Method: "GET", Path: "/api/health", Tag: "System", Summary: "Health of PostgreSQL, Redis and Docker", Public: true, Status: 200,
			Response: map[string]any{"status": "ok", "components": map[string]any{"postgres": map[string]any{"ok": true}}}},
		{Method: "GET", Path: "/api/openapi.json", Tag: "System", Summary: "This OpenAPI document", Public: true, Status: 200},
		{Method: "POST", Path: "/api/deploy/{token}", Tag: "Webhooks", Summary: "Deploy webhook for git hosts, registries and CI", Public: true,
			Notes: "Provider is recognised from X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Event-Key (Bitbucket) or a Docker Hub body; " +
				"anything else is a generic call that needs no body. When the app has a secret: GitHub X-Hub-Signature-256, Gitea X-Gitea-Signature, " +
				"Bitbucket X-Hub-Signature (HMAC-SHA256 of the body), GitLab X-Gitlab-Token, Docker Hub and CI X-Dokploy-Secret or ?secret=. " +
				"Answers 202 when a deployment was queued, 200 with a reason when ignored (wrong branch, tag vs push, watch paths, [skip ci], ping), " +
				"401 on a bad or missing signature, 404 for an unknown token, 413 for bodies over 5 MB.",
			Body: map[string]any{"ref": "refs/heads/main", "after": "9fceb02…", "head_commit": map[string]any{"id": "9fceb02…", "message": "Fix checkout"},
				"commits": []any{map[string]any{"id": "9fceb02…", "added": []any{}, "modified": []any{"src/app.js"}, "removed": []any{}}}},
			Status: 202, Response: map[string]any{"outcome": "deployed", "deployment_id": 42, "delivery_id": 3}, Errors: []int{400, 401, 404, 413}},

		{Method: "GET", Path: "/api/v1/projects", Tag: "Projects", Summary: "List projects with their environments", Paginated: true, Status: 200,
			Response: examplePage(exampleProject()), Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/projects", Tag: "Projects", Summary: "Create a project (with a production environment)", Status: 201,
			Body: map[string]any{"name": "shop", "description": "Online shop"}, Response: exampleProject(), Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/projects/{id}", Tag: "Projects", Summary: "Get a project", Status: 200, Response: exampleProject(), Errors: notFound},
		{Method: "PATCH", Path: "/api/v1/projects/{id}", Tag: "Projects", Summary: "Rename a project", Status: 200,
			Body: map[string]any{"name": "storefront"}, Response: exampleProject(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/projects/{id}", Tag: "Projects", Summary: "Delete an empty project", Status: 204,
			Notes: "409 while the project still has applications or databases.", Errors: []int{401, 404, 409}},

		{Method: "GET", Path: "/api/v1/projects/{id}/environments", Tag: "Environments", Summary: "List a project's environments", Paginated: true,
			Status: 200, Response: examplePage(exampleEnvironment()), Errors: notFound},
		{Method: "POST", Path: "/api/v1/projects/{id}/environments", Tag: "Environments", Summary: "Create an environment", Status: 201,
			Body: map[string]any{"name": "staging"}, Response: exampleEnvironment(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "PATCH", Path: "/api/v1/projects/{id}/environments/{env_id}", Tag: "Environments", Summary: "Rename an environment", Status: 200,
			Body: map[string]any{"name": "preview"}, Response: exampleEnvironment(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/projects/{id}/environments/{env_id}", Tag: "Environments", Summary: "Delete an empty environment",
			Status: 204, Notes: "409 while the environment still has applications or databases.", Errors: []int{401, 404, 409}},

		{Method: "GET", Path: "/api/v1/applications", Tag: "Applications", Summary: "List applications", Paginated: true, Status: 200,
			Response: examplePage(exampleApp()), Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/applications", Tag: "Applications", Summary: "Create an application", Status: 201,
			Notes: "source.type is git (url, branch, context, dockerfile, target, no_cache, token) or image (image, registry{server,username,password}). " +
				"volumes are named Docker volumes (<app_name>-<name>) mounted at path: name a lowercase label of 1–40 characters, path absolute and not /. " +
				"A volume lives on the node the task runs on. app_name, omitted, is made from name (\"Shop web\" → shop-web). 409 when app_name is taken.",
			Body: exampleAppInput(), Response: exampleApp(), Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/applications/{id}", Tag: "Applications", Summary: "Get an application (secrets only as *_set)", Status: 200,
			Response: exampleApp(), Errors: notFound},
		{Method: "PATCH", Path: "/api/v1/applications/{id}", Tag: "Applications", Summary: "Change settings, source, resources, env, ports, volumes or webhook settings",
			Notes: "Only sent fields change; env, build_args, ports and volumes replace the whole list (a removed volume keeps its data in Docker). webhook_secret \"\" turns signature checks off. " +
				"app_name and the project cannot change. placement_constraints (Swarm syntax: node.id, node.hostname, node.role, node.platform.os, node.platform.arch, " +
				"node.labels.<label> or engine.labels.<label>, then == or != and a value; at most 20) replaces the list; max_replicas_per_node is 0 (no limit) to 1000. " +
				"Placement applies on the next deploy.",
			Status: 200, Body: map[string]any{"replicas": 2, "deploy_on": "tag", "watch_paths": []any{"src/**", "!src/**/*.md"}, "auto_deploy": true,
				"webhook_secret": "a-long-random-secret", "placement_constraints": []any{"node.labels.region==eu", "node.role==worker"}, "max_replicas_per_node": 1},
			Response: exampleApp(), Errors: write},
		{Method: "DELETE", Path: "/api/v1/applications/{id}", Tag: "Applications", Summary: "Delete an application with its service and images",
			Status: 204, Errors: []int{401, 404, 502}},
		{Method: "POST", Path: "/api/v1/applications/{id}/deploy", Tag: "Deployments", Summary: "Queue a deployment", Status: 202,
			Notes: "A queued deployment of the same app is superseded by the new one.", Response: exampleDeployment(), Errors: notFound},
		{Method: "POST", Path: "/api/v1/applications/{id}/stop", Tag: "Applications", Summary: "Scale the service to zero", Status: 200,
			Response: exampleApp(), Errors: []int{401, 404, 502}},
		{Method: "POST", Path: "/api/v1/applications/{id}/start", Tag: "Applications", Summary: "Scale the service back to its replicas", Status: 200,
			Response: exampleApp(), Errors: []int{401, 404, 502}},
		{Method: "POST", Path: "/api/v1/applications/{id}/restart", Tag: "Applications", Summary: "Replace the running tasks without a rebuild", Status: 200,
			Response: exampleApp(), Errors: []int{401, 404, 502}},
		{Method: "GET", Path: "/api/v1/applications/{id}/env", Tag: "Applications", Summary: "Get environment variables (values masked unless ?reveal=true)", Status: 200,
			Notes:    "Values are shown as ******** (empty ones stay empty) unless the query has reveal=true; a reveal is recorded with who asked.",
			Response: map[string]any{"env": map[string]any{"NODE_ENV": "********"}}, Errors: notFound},
		{Method: "PUT", Path: "/api/v1/applications/{id}/env", Tag: "Applications", Summary: "Replace every environment variable", Status: 200,
			Notes: "Takes effect on the next deployment.", Body: map[string]any{"env": map[string]any{"NODE_ENV": "production", "LOG_LEVEL": "info"}},
			Response: map[string]any{"env": map[string]any{"LOG_LEVEL": "********", "NODE_ENV": "********"}}, Errors: write},
		{Method: "GET", Path: "/api/v1/applications/{id}/webhook", Tag: "Webhooks", Summary: "Get the webhook URL, settings and secret", Status: 200,
			Response: func() map[string]any { w := exampleWebhook(); w["secret"] = "a-long-random-secret"; return w }(), Errors: notFound},
		{Method: "POST", Path: "/api/v1/applications/{id}/webhook/rotate", Tag: "Webhooks", Summary: "Replace the webhook URL token", Status: 200,
			Notes: "The old URL stops working at once.", Response: exampleWebhook(), Errors: notFound},
		{Method: "GET", Path: "/api/v1/applications/{id}/webhook/deliveries", Tag: "Webhooks", Summary: "List webhook deliveries, newest first",
			Paginated: true, Status: 200, Response: examplePage(exampleDelivery()), Errors: notFound},
		{Method: "GET", Path: "/api/v1/applications/{id}/deployments", Tag: "Deployments", Summary: "List an application's deployments, newest first",
			Paginated: true, Status: 200, Response: examplePage(exampleDeployment()), Errors: notFound},
		{Method: "GET", Path: "/api/v1/databases", Tag: "Databases", Summary: "List databases (passwords masked)", Paginated: true, Status: 200,
			Response: examplePage(exampleDatabase()), Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/databases", Tag: "Databases", Summary: "Create a database and queue its first deploy", Status: 201,
			Notes: "engine is postgres, mysql, mariadb, mongo or redis; name is a DNS label unique across apps, databases and stacks. " +
				"Give environment_id, or project_id with environment (default production). image defaults to postgres:17, mysql:8, mariadb:11, mongo:8 or redis:7; " +
				"database and user default to the name with - as _. The password is generated (32 characters from crypto/rand) and stored encrypted. " +
				"external_port publishes the engine's port on the nodes in host mode. redis_persistence is aof (default), rdb or none. " +
				"status follows Swarm: queued, deploying, starting, healthy (the engine answers its readiness probe), stopped, error.",
			Body: exampleDatabaseInput(), Response: exampleDatabaseCreated(), Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/databases/{id}", Tag: "Databases", Summary: "Get a database with its live state and masked URLs", Status: 200,
			Response: exampleDatabase(), Errors: notFound},
		{Method: "PATCH", Path: "/api/v1/databases/{id}", Tag: "Databases", Summary: "Change image, limits, arguments, env, external port or registry, and queue a deploy",
			Notes: "engine, name, database and user are fixed: the data volume was initialised with them. A change of major version answers warnings. " +
				"placement_constraints and max_replicas_per_node take the application syntax; the database also stays on the node that holds its data volume.",
			Body: map[string]any{"image": "postgres:17.2", "memory_limit_mb": 2048, "external_port": 0, "placement_constraints": []any{"node.labels.disk==ssd"}}, Status: 200,
			Response: exampleDatabaseCreated(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/databases/{id}", Tag: "Databases", Summary: "Delete a database; ?volume=keep or ?volume=remove is required",
			Notes:  "keep leaves the <name>-data volume for a database created later with the same name; remove deletes it for good.",
			Status: 204, Errors: []int{401, 404, 422, 502}},
		{Method: "POST", Path: "/api/v1/databases/{id}/deploy", Tag: "Databases", Summary: "Queue a deploy of the current settings", Status: 202,
			Response: exampleOperation("deploy"), Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/start", Tag: "Databases", Summary: "Queue a start; it finishes when the engine is ready", Status: 202,
			Response: exampleOperation("start"), Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/stop", Tag: "Databases", Summary: "Queue a stop; it finishes when the container is gone", Status: 202,
			Response: exampleOperation("stop"), Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/restart", Tag: "Databases", Summary: "Queue a restart; it finishes when the engine is ready again", Status: 202,
			Response: exampleOperation("restart"), Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/password", Tag: "Databases", Summary: "Queue a password change (empty body: generate one)",
			Notes: "The worker sets the password in the running engine, then stores it; if either fails neither changes. 16–128 characters of letters, digits and . _ ~ -.",
			Body:  map[string]any{"password": ""}, Status: 202, Response: exampleOperation("password"), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "GET", Path: "/api/v1/databases/{id}/credentials", Tag: "Databases", Summary: "Reveal the password and the unmasked connection URLs", Status: 200,
			Response: map[string]any{"user": "shop_db", "password": "…", "database": "shop_db",
				"internal_url": "postgresql://shop_db:…@shop-db:5432/shop_db", "external_url": ""}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/link", Tag: "Databases", Summary: "Use in an app: set an env var of the app to this database's URL",
			Notes: "The value is a reference resolved at each deploy of the app, so it follows password changes; key defaults to DATABASE_URL.",
			Body:  map[string]any{"application_id": 7, "key": "DATABASE_URL"}, Status: 200,
			Response: map[string]any{"application_id": 7, "key": "DATABASE_URL", "value": "${{database.shop-db.url}}"}, Errors: write},
		{Method: "GET", Path: "/api/v1/databases/{id}/operations", Tag: "Databases", Summary: "List the database's operations (deploy, start, stop, restart, password), newest first",
			Paginated: true, Status: 200, Response: examplePage(exampleOperation("restart")), Errors: notFound},
		{Method: "GET", Path: "/api/v1/destinations", Tag: "Backups", Summary: "List S3-compatible backup destinations (secret keys never shown)", Status: 200,
			Response: map[string]any{"items": []any{exampleDestination()}}, Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/destinations", Tag: "Backups", Summary: "Add a backup destination", Status: 201,
			Notes: "endpoint is the S3 API URL (http or https, no path); prefix is an optional folder inside the bucket; path_style (default true) suits MinIO and most self-hosted S3. " +
				"The secret key is stored encrypted and never returned.",
			Body: exampleDestinationInput(), Response: exampleDestination(), Errors: []int{400, 401, 409, 422}},
		{Method: "POST", Path: "/api/v1/destinations/test", Tag: "Backups", Summary: "Test settings before saving: write, read back and delete a small object",
			Notes: "ok false names the step that failed (connect, write, read, delete) and why; the message never contains the secret key.",
			Body:  exampleDestinationInput(), Status: 200, Response: map[string]any{"ok": false, "step": "write", "error": "write test object: the access key or secret key is wrong: check both"},
			Errors: []int{400, 401, 422}},
		{Method: "GET", Path: "/api/v1/destinations/{id}", Tag: "Backups", Summary: "Get a destination", Status: 200, Response: exampleDestination(), Errors: notFound},
		{Method: "PATCH", Path: "/api/v1/destinations/{id}", Tag: "Backups", Summary: "Change a destination; an empty or absent secret_key keeps the stored one", Status: 200,
			Body: map[string]any{"bucket": "backups-2"}, Response: exampleDestination(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/destinations/{id}", Tag: "Backups", Summary: "Remove a destination no backup plan uses", Status: 204,
			Notes: "409 while plans use it. Objects in the bucket are left as they are.", Errors: []int{401, 404, 409}},
		{Method: "POST", Path: "/api/v1/destinations/{id}/test", Tag: "Backups", Summary: "Test a saved destination (the body may override fields, nothing is saved)",
			Status: 200, Response: map[string]any{"ok": true}, Errors: []int{400, 401, 404, 422}},
		{Method: "GET", Path: "/api/v1/destinations/{id}/objects", Tag: "Backups", Summary: "List the backup artifacts in a destination (?prefix=), newest first",
			Notes:  "Up to 200 objects with what each one's sidecar says; restorable is true when the sidecar names its size, sha256 and format.",
			Status: 200, Response: map[string]any{"items": []any{map[string]any{"key": "shop/shop-db/shop-db-20261202T030000Z-31.dump", "size_bytes": 1048576,
				"modified": exampleTime, "database": "shop-db", "engine": "postgres", "format": "pg_dump-custom",
				"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "restorable": true}}}, Errors: []int{401, 404, 422, 502}},
		{Method: "POST", Path: "/api/v1/destinations/{id}/restore", Tag: "Backups", Summary: "Restore an object found in the destination into a database",
			Notes: "For artifacts this panel has no record of (another install, a deleted database). The object's sidecar gives the sha256 checked before anything changes; " +
				"confirm must repeat the database's name; a safety backup is taken first.",
			Body: map[string]any{"object_key": "shop/shop-db/shop-db-20261202T030000Z-31.dump", "database_id": 9, "confirm": "shop-db"}, Status: 202,
			Response: map[string]any{"operation": exampleOperation("restore"), "database_id": 9, "database": "shop-db"}, Errors: []int{400, 401, 404, 409, 422}},
		{Method: "GET", Path: "/api/v1/control-plane/backup-settings", Tag: "Backups", Summary: "How the control plane backs itself up (the passphrase only as set or not)",
			Status: 200, Response: exampleControlPlaneSettings(), Errors: []int{401}},
		{Method: "PUT", Path: "/api/v1/control-plane/backup-settings", Tag: "Backups", Summary: "Set the control-plane backup: destination, schedule, retention, passphrase",
			Notes: "The archive holds the PostgreSQL database (every table, exported under one snapshot) and the data directory (Traefik configuration and certificates). " +
				"The secret key that encrypts stored secrets goes in only when a passphrase (at least 12 characters) is set: it is sealed with it (scrypt, AES-256-GCM). " +
				"An absent passphrase keeps the stored one; \"\" removes it. schedule is 5-field cron or hourly, daily, weekly; enabled needs a destination and a schedule. " +
				"keep_last (default 7) keeps the newest N successful backups. Restore on a fresh machine with dokploy restore --from s3://BUCKET/KEY (see the README).",
			Body: exampleControlPlaneSettingsInput(), Status: 200, Response: exampleControlPlaneSettings(), Errors: []int{400, 401, 422}},
		{Method: "POST", Path: "/api/v1/control-plane/backup", Tag: "Backups", Summary: "Back up the control plane now",
			Notes: "Runs in the background: follow it with GET /control-plane/backups. The object is control-plane/dokploy-<UTC time>-<run>.tar.gz in the destination, with a .json sidecar (size, sha256, manifest). " +
				"409 while one runs or before a destination is chosen. A run whose process dies is marked error within a minute.",
			Status: 202, Response: exampleControlPlaneRun("queued"), Errors: []int{401, 409}},
		{Method: "GET", Path: "/api/v1/control-plane/backups", Tag: "Backups", Summary: "List control-plane backups, newest first", Paginated: true,
			Notes:  "status is queued, running, done or error; deleted_at is set once retention removed the object.",
			Status: 200, Response: examplePage(exampleControlPlaneRun("done")), Errors: []int{401}},
		{Method: "GET", Path: "/api/v1/databases/{id}/backups", Tag: "Backups", Summary: "List a database's backup plans", Status: 200,
			Response: map[string]any{"items": []any{exampleBackup()}}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/backups", Tag: "Backups", Summary: "Add a backup plan: destination, schedule, retention",
			Notes: "schedule is 5-field cron (minute hour day month weekday) or hourly, daily, weekly; empty means on demand only. timezone is an IANA name (default UTC). " +
				"keep_last (default 7) keeps the newest N successful backups; keep_daily, keep_weekly and keep_monthly keep the newest of each of that many days, weeks, months. " +
				"Failed runs never count and the newest successful backup is never deleted. drill_schedule restores the latest backup into a throwaway container on that schedule. " +
				"missed is true when no backup succeeded within twice the schedule's interval.",
			Body: exampleBackupInput(), Status: 201, Response: exampleBackup(), Errors: []int{400, 401, 404, 422}},
		{Method: "GET", Path: "/api/v1/databases/{id}/backup-runs", Tag: "Backups", Summary: "List a database's backups (runs), newest first", Paginated: true,
			Status: 200, Response: examplePage(exampleBackupRun()), Errors: notFound},
		{Method: "POST", Path: "/api/v1/databases/{id}/drill", Tag: "Backups", Summary: "Queue a restore drill of a backup (default: the latest) into a throwaway container",
			Notes: "The result (tables and row counts, or the failure) is recorded on the backup run as drilled_at, drill_ok and drill_summary; the database is never touched.",
			Body:  map[string]any{"backup_run_id": 31}, Status: 202, Response: exampleOperation("drill"), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "GET", Path: "/api/v1/applications/{id}/backups", Tag: "Backups", Summary: "List the backup plans of an application's volumes", Status: 200,
			Response: map[string]any{"items": []any{exampleVolumeBackup()}}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/applications/{id}/backups", Tag: "Backups", Summary: "Add a backup plan of one of an application's volumes",
			Notes: "volume names one of the app's volumes (optional when it has one). Each run copies the volume as a gzipped tar stream " +
				"(format volume-tar-gzip) to <prefix>/<app_name>/<app_name>-<volume>-<UTC>.tar.gz with a .json sidecar holding its sha256. " +
				"stop_during_backup scales the app to zero during the copy and back afterwards, whatever happens, so files do not change while they are read. " +
				"Schedule, time zone and retention work as for databases; drills are for databases only. A volume lives on one node: " +
				"the copy runs on the node the worker talks to.",
			Body: exampleVolumeBackupInput(), Status: 201, Response: exampleVolumeBackup(), Errors: []int{400, 401, 404, 422}},
		{Method: "GET", Path: "/api/v1/applications/{id}/backup-runs", Tag: "Backups", Summary: "List the backups (runs) of an application's volumes, newest first",
			Paginated: true, Status: 200, Response: examplePage(exampleVolumeBackupRun()), Errors: notFound},
		{Method: "GET", Path: "/api/v1/backups/{id}", Tag: "Backups", Summary: "Get a backup plan", Status: 200, Response: exampleBackup(), Errors: notFound},
		{Method: "PATCH", Path: "/api/v1/backups/{id}", Tag: "Backups", Summary: "Change a backup plan; only sent fields change", Status: 200,
			Body: map[string]any{"schedule": "0 */6 * * *", "keep_last": 14}, Response: exampleBackup(), Errors: []int{400, 401, 404, 422}},
		{Method: "DELETE", Path: "/api/v1/backups/{id}", Tag: "Backups", Summary: "Remove a backup plan; its backups stay recorded and restorable", Status: 204, Errors: notFound},
		{Method: "POST", Path: "/api/v1/backups/{id}/run", Tag: "Backups", Summary: "Back up now: queue a run of the plan", Status: 202,
			Notes:    "One backup per database at a time: a run already queued is returned instead of a second. Follow it with GET /backup-runs/{id} or the operation's log.",
			Response: exampleBackupRun(), Errors: []int{401, 404, 409}},
		{Method: "GET", Path: "/api/v1/backup-runs/{id}", Tag: "Backups", Summary: "Get a backup run: status, size, sha256, format, engine version", Status: 200,
			Notes:    "status is queued, running, done, error or cancelled; done only once the whole object is stored. The object's sidecar <object_key>.json holds the same facts.",
			Response: exampleBackupRun(), Errors: notFound},
		{Method: "POST", Path: "/api/v1/backup-runs/{id}/restore", Tag: "Backups", Summary: "Restore a backup into its database or app volume (confirm with its name) or into a new database",
			Notes: "{\"confirm\": \"shop-db\"} restores into the same database after an automatic safety backup; {\"new_database\": \"shop-db-copy\"} creates a database of the same engine and image and restores into it. " +
				"A volume backup restores only into its app's volume, confirmed with the app_name ({\"confirm\": \"shop-web\"}): the app stops, a safety backup of the volume is taken, " +
				"the volume is emptied and the archive extracted into it, and the app starts again; the answer then names application_id and application. " +
				"The sha256 is checked before anything changes; the operation's log streams live.",
			Body: map[string]any{"confirm": "shop-db"}, Status: 202,
			Response: map[string]any{"operation": exampleOperation("restore"), "database_id": 9, "database": "shop-db"}, Errors: []int{400, 401, 404, 409, 422}},
		{Method: "POST", Path: "/api/v1/backup-runs/{id}/cancel", Tag: "Backups", Summary: "Cancel a queued or running backup", Status: 200,
			Notes: "A cancelled upload is aborted: no object is left.", Response: exampleBackupRun(), Errors: []int{401, 404, 409}},
		{Method: "GET", Path: "/api/v1/deployments/{id}", Tag: "Deployments", Summary: "Get a deployment", Status: 200,
			Notes: "status is queued, running, done, error or cancelled. serving_at is when the first task of the new version was running " +
				"(healthy, when it has a health check): it takes traffic from then on. finished_at comes later, once every replica " +
				"stayed up for the monitor period.", Response: exampleDeployment(), Errors: notFound},
		{Method: "GET", Path: "/api/v1/deployments/{id}/logs", Tag: "Deployments", Summary: "Deployment log as plain text", Status: 200, Text: true,
			Errors: notFound},
		{Method: "POST", Path: "/api/v1/deployments/{id}/cancel", Tag: "Deployments", Summary: "Cancel a queued or running deployment", Status: 200,
			Response: exampleDeployment(), Errors: []int{401, 404, 409}},
		{Method: "POST", Path: "/api/v1/deployments/{id}/rollback", Tag: "Deployments", Summary: "Put a successful deployment's image back into service",
			Status: 202, Response: exampleDeployment(), Errors: []int{401, 404, 409}},

		{Method: "GET", Path: "/api/v1/applications/{id}/domains", Tag: "Domains", Summary: "List an application's domains with their routing status",
			Status: 200, Response: map[string]any{"items": []any{exampleDomain()}}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/applications/{id}/domains", Tag: "Domains", Summary: "Add a domain and apply routing", Status: 201,
			Notes: "certificate is letsencrypt, none or custom (then certificate_id). 409 when the host and path are claimed by another domain. " + notRoutedNote,
			Body:  exampleDomainInput(), Response: exampleDomain(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "PATCH", Path: "/api/v1/domains/{id}", Tag: "Domains", Summary: "Change a domain; only sent fields change", Status: 200,
			Notes: notRoutedNote, Body: map[string]any{"https": false, "certificate": "none"}, Response: exampleDomain(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/domains/{id}", Tag: "Domains", Summary: "Remove a domain", Status: 204, Errors: notFound,
			Notes: "Removed but not yet applied to Traefik answers 200 with deleted and routing_error instead; the next sync retries."},
		{Method: "GET", Path: "/api/v1/certificates", Tag: "Domains", Summary: "List uploaded certificates", Status: 200,
			Response: map[string]any{"items": []any{exampleCertificate()}}, Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/certificates", Tag: "Domains", Summary: "Upload a certificate and its key (PEM)", Status: 201,
			Body:     map[string]any{"name": "wildcard", "cert": "-----BEGIN CERTIFICATE-----\n…", "key": "-----BEGIN PRIVATE KEY-----\n…"},
			Response: exampleCertificate(), Errors: []int{400, 401, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/certificates/{id}", Tag: "Domains", Summary: "Delete a certificate no domain uses", Status: 204,
			Errors: []int{401, 404, 409}},
		{Method: "PATCH", Path: "/api/v1/settings", Tag: "System", Summary: "Change ACME (Let's Encrypt) settings; only sent fields change",
			Status: 200, Body: map[string]any{"acme_email": "ops@example.com", "acme_server": "", "acme_ca_bundle": ""},
			Response: map[string]any{"acme_email": "ops@example.com", "acme_server": "", "acme_ca_bundle": ""}, Errors: []int{400, 401, 422, 503}},
		{Method: "GET", Path: "/api/v1/settings/deploy", Tag: "System", Summary: "Deploy queue concurrency, image retention and step deadlines",
			Status: 200, Response: exampleDeploySettings(), Errors: []int{401}},
		{Method: "PATCH", Path: "/api/v1/settings/deploy", Tag: "System", Summary: "Change deploy settings; only sent fields change",
			Notes:  "Deadlines are durations between 5s and 24h (90s, 10m, 1h); concurrency 1–16; retention 1–100 images per app.",
			Status: 200, Body: map[string]any{"deploy_concurrency": 2, "timeout_build": "45m"}, Response: exampleDeploySettings(),
			Errors: []int{400, 401, 422}},
		{Method: "GET", Path: "/api/v1/settings/retention", Tag: "System", Summary: "History retention: deployment logs kept per service, webhook delivery days, audit days",
			Status: 200, Response: map[string]any{"keep_deployment_logs": 50, "webhook_delivery_days": 30, "audit_days": 90}, Errors: []int{401}},
		{Method: "PATCH", Path: "/api/v1/settings/retention", Tag: "System", Summary: "Change history retention; only sent fields change",
			Notes:  "keep_deployment_logs 1–10000 (older deployments stay listed with log_pruned true); webhook_delivery_days 1–3650; audit_days 1–3650 (default 90). Applied every hour; expired sessions are removed then too.",
			Status: 200, Body: map[string]any{"keep_deployment_logs": 20}, Response: map[string]any{"keep_deployment_logs": 20, "webhook_delivery_days": 30, "audit_days": 90},
			Errors: []int{400, 401, 422}},
		{Method: "POST", Path: "/api/v1/settings/retention/prune", Tag: "System", Summary: "Apply history retention now and say what was removed",
			Status: 200, Response: map[string]any{"deployment_logs": 3, "log_lines": 412, "webhook_deliveries": 0, "sessions": 1, "notifications": 0, "audit_events": 12}, Errors: []int{401}},

		{Method: "GET", Path: "/api/v1/applications/{id}/basic-auth", Tag: "Access", Summary: "List the app's HTTP basic-auth users (never their passwords)",
			Status: 200, Response: map[string]any{"items": []any{map[string]any{"id": 1, "username": "alice"}}}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/applications/{id}/basic-auth", Tag: "Access", Summary: "Add a basic-auth user; every domain of the app then asks for a password",
			Notes:  "The password (8 to 72 characters, at most 72 bytes) is stored hashed. Applies without a redeploy. " + notRoutedNote,
			Status: 201, Body: map[string]any{"username": "alice", "password": "correct horse"}, Response: map[string]any{"id": 1, "username": "alice"},
			Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/applications/{id}/basic-auth/{uid}", Tag: "Access", Summary: "Remove a basic-auth user",
			Status: 200, Response: map[string]any{"deleted": 1}, Errors: notFound},
		{Method: "GET", Path: "/api/v1/applications/{id}/redirects", Tag: "Access", Summary: "List the app's regex redirects",
			Status: 200, Response: map[string]any{"items": []any{exampleRedirect()}}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/applications/{id}/redirects", Tag: "Access", Summary: "Add a regex redirect (e.g. www to apex)",
			Notes:  notRoutedNote,
			Status: 201, Body: map[string]any{"regex": "^https?://www\\.example\\.com/(.*)", "replacement": "https://example.com/${1}", "permanent": true},
			Response: exampleRedirect(), Errors: []int{400, 401, 404, 422}},
		{Method: "DELETE", Path: "/api/v1/applications/{id}/redirects/{rid}", Tag: "Access", Summary: "Remove a redirect",
			Status: 200, Response: map[string]any{"deleted": 1}, Errors: notFound},
		{Method: "GET", Path: "/api/v1/applications/{id}/headers", Tag: "Access", Summary: "Extra response headers and headers sent to the app",
			Status: 200, Response: exampleHeaders(), Errors: notFound},
		{Method: "PUT", Path: "/api/v1/applications/{id}/headers", Tag: "Access", Summary: "Replace the extra headers; an empty value removes that header",
			Notes: notRoutedNote, Status: 200, Body: exampleHeaders(), Response: exampleHeaders(), Errors: []int{400, 401, 404, 422}},
		{Method: "POST", Path: "/api/v1/applications/{id}/deploy-key", Tag: "Applications", Summary: "Generate a new SSH deploy key; add the public key to the repository",
			Notes:  "The private key is stored encrypted and never shown; the old key stops working.",
			Status: 200, Response: map[string]any{"public_key": "ssh-ed25519 AAAAC3Nz… dokploy"}, Errors: notFound},

		{Method: "POST", Path: "/api/v1/account/password", Tag: "Account", Summary: "Change your own password",
			Notes: "current_password must be your password now; new_password needs at least 10 characters (at most 256). " +
				"Every other session of yours ends (called with a browser session, that one stays signed in); API tokens keep working.",
			Status: 200, Body: map[string]any{"current_password": "old password", "new_password": "a new long password"},
			Response: map[string]any{"changed": true}, Errors: []int{400, 401, 422}},

		{Method: "GET", Path: "/api/v1/tokens", Tag: "Tokens", Summary: "List your API tokens", Paginated: true, Status: 200,
			Notes:    "?all=true lists every user's tokens, each with user_email: owners and admins only (403 otherwise).",
			Response: examplePage(exampleToken()), Errors: []int{401, 403}},
		{Method: "POST", Path: "/api/v1/tokens", Tag: "Tokens", Summary: "Create an API token; the answer is the only time it is shown", Status: 201,
			Notes: "scope: read (GET only), deploy (read, plus deploy, start, stop, restart, roll back, run backups) or manage (default: all you can do). " +
				"A token acts with the lesser of its scope and your role. project_ids limits it to those projects (and takes server settings away); " +
				"expires_in_days (1–3650; 0 or absent: never). Created with a token, the new one gets no wider scope, no other projects and no later expiry (403).",
			Body: map[string]any{"name": "ci", "scope": "deploy", "project_ids": []any{1}, "expires_in_days": 90}, Response: created, Errors: []int{400, 401, 403, 422}},
		{Method: "DELETE", Path: "/api/v1/tokens/{id}", Tag: "Tokens", Summary: "Revoke an API token", Status: 204,
			Notes: "Your own; owners and admins may revoke anyone's.", Errors: notFound},
	}, append(append(append(append(composeOperations(), logsOperations()...), metricsOperations()...), terminalOperations()...), append(append(notificationOperations(), alertOperations()...), append(append(append(twoFactorOperations(), userOperations()...), nodeOperations()...), auditOperations()...)...)...)...)
}

var pathParamRe = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPISpec builds the OpenAPI 3 document from apiOperations.
func (h *Handler) Spec() map[string]any {
	paths := map[string]map[string]any{}
	for _, op := range Operations() {
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = op.openAPI()
	}
	errSchema := map[string]any{"type": "object", "required": []any{"error"}, "properties": map[string]any{
		"error": map[string]any{"type": "string", "description": "What went wrong, for people"},
		"field": map[string]any{"type": "string", "description": "The request field at fault, when there is one"},
	}}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "dokploy API", "version": h.Version,
			"description": "Automation API of this dokploy instance. Authenticate with `Authorization: Bearer <token>` or `x-api-key: <token>` " +
				"(create tokens under Settings or POST /api/v1/tokens). Errors are JSON {\"error\", \"field\"} with a 4xx status; " +
				"list endpoints take limit (1-100, default 50) and offset."},
		"servers":  []any{map[string]any{"url": strings.TrimSuffix(h.PublicURL, "/")}},
		"security": []any{map[string]any{"bearerAuth": []any{}}, map[string]any{"apiKey": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{"type": "http", "scheme": "bearer"},
				"apiKey":     map[string]any{"type": "apiKey", "in": "header", "name": "x-api-key"},
			},
			"schemas": map[string]any{"Error": errSchema},
		},
		"paths": paths,
	}
}

func (op Operation) openAPI() map[string]any {
	out := map[string]any{
		"operationId": op.operationID(),
		"summary":     op.Summary,
		"tags":        []any{op.Tag},
	}
	if op.Notes != "" {
		out["description"] = op.Notes
	}
	if op.Public {
		out["security"] = []any{}
	}
	var params []any
	for _, m := range pathParamRe.FindAllStringSubmatch(op.Path, -1) {
		schema := map[string]any{"type": "integer", "format": "int64"}
		if m[1] == "token" || op.StringParams {
			schema = map[string]any{"type": "string"}
		}
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema})
	}
	if op.Paginated {
		params = append(params,
			map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
			map[string]any{"name": "offset", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 0, "default": 0}})
	}
	if params != nil {
		out["parameters"] = params
	}
	if op.Body != nil {
		out["requestBody"] = map[string]any{"required": op.Method != "POST" || !op.Public, "content": map[string]any{
			"application/json": map[string]any{"schema": schemaOf(op.Body), "example": op.Body}}}
	}
	ok := map[string]any{"description": http.StatusText(op.Status)}
	switch {
	case op.Text:
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case op.Response != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(op.Response), "example": op.Response}}
	}
	responses := map[string]any{strconv.Itoa(op.Status): ok}
	for _, code := range op.Errors {
		responses[strconv.Itoa(code)] = map[string]any{"description": http.StatusText(code), "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	out["responses"] = responses
	return out
}

// operationID turns "POST /api/v1/applications/{id}/deploy" into
// "postApplicationsIdDeploy".
func (op Operation) operationID() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	p := strings.TrimPrefix(strings.TrimPrefix(op.Path, "/api/v1"), "/api")
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '_' || r == '.' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemaOf derives a JSON schema from an example value.
func schemaOf(v any) map[string]any {
	switch x := v.(type) {
	case nil:
		return map[string]any{"nullable": true}
	case bool:
		return map[string]any{"type": "boolean"}
	case int, int64:
		return map[string]any{"type": "integer"}
	case float64:
		return map[string]any{"type": "number"}
	case string:
		return map[string]any{"type": "string"}
	case []any:
		items := map[string]any{}
		if len(x) > 0 {
			items = schemaOf(x[0])
		}
		return map[string]any{"type": "array", "items": items}
	case map[string]any:
		props := map[string]any{}
		for k, val := range x {
			props[k] = schemaOf(val)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func (h *Handler) OpenAPIDocument(c echo.Context) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*") // readable by API tools in the browser
	return c.JSON(http.StatusOK, h.Spec())
}

// apiPageGroup is one tag's operations on the API page.
type apiPageGroup struct {
	Tag string
	Ops []apiPageOp
}

type apiPageOp struct {
	Operation
	BodyJSON     string
	ResponseJSON string
	Anchor       string
}

func prettyJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

func (h *Handler) ShowAPIPage(c echo.Context) error {
	order := []string{"Projects", "Environments", "Applications", "Databases", "Backups", "Deployments", "Domains", "Webhooks", "Account", "Tokens", "System"}
	byTag := map[string][]apiPageOp{}
	for _, op := range Operations() {
		byTag[op.Tag] = append(byTag[op.Tag], apiPageOp{Operation: op, BodyJSON: prettyJSON(op.Body),
			ResponseJSON: prettyJSON(op.Response), Anchor: op.operationID()})
	}
	for tag := range byTag {
		if !slices.Contains(order, tag) {
			order = append(order, tag) // a new tag still shows, last
		}
	}
	var groups []apiPageGroup
	for _, tag := range order {
		ops := byTag[tag]
		if len(ops) == 0 {
			continue
		}
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
		groups = append(groups, apiPageGroup{Tag: tag, Ops: ops})
	}
	data := map[string]any{"Groups": groups, "BaseURL": strings.TrimSuffix(h.PublicURL, "/")}
	return h.Page(c, http.StatusOK, "api", &views.Page{Title: "API", Active: "api", Data: data})
}
