package api

import (
	"strings"

	"dokploy/jobs/notify"
)

func exampleChannel() map[string]any {
	return map[string]any{"id": 1, "name": "ops slack", "kind": "slack", "events": []string{"deploy.failed", "backup.failed"}, "projects": []int64{},
		"enabled": true,
		"config":  map[string]any{}, "secrets_set": map[string]bool{"url": true},
		"last_status": "sent", "last_error": "", "last_at": exampleTime, "created_at": exampleTime, "updated_at": exampleTime}
}

func exampleNotificationDelivery() map[string]any {
	return map[string]any{"id": 12, "channel_id": 1, "channel_name": "ops slack", "channel_kind": "slack", "event": "deploy.failed",
		"title": "Deployment of shop failed", "body": "Deployment #7 of shop failed: image shop:v2 not found.",
		"url": "https://dokploy.example.com/deployments/7", "severity": "error", "dedupe_key": "deploy.failed:deployment:7",
		"status": "sent", "attempts": 1, "next_attempt_at": exampleTime, "last_error": "", "created_at": exampleTime, "sent_at": exampleTime,
		"project_id": 3, "project": "shop", "service_id": 9, "service": "shop-web", "service_kind": "app", "deployment_id": 7}
}

// notificationOperations document /notifications: channels and deliveries.
func notificationOperations() []Operation {
	channelNotes := "kind is webhook, slack, discord, telegram, ntfy, gotify or email; config holds that kind's settings: " +
		"webhook {url, secret (16+ characters; each POST carries X-Dokploy-Signature: sha256=<hex HMAC-SHA256 of the body>, " +
		"and its JSON body {id, type, occurred_at, sent_at, severity, title, body, url, project {id, name}, service {id, name, kind}, " +
		"deployment {id}, data {…}}: project, service and deployment are null for events about none, sent_at lets receivers refuse replays)}; " +
		"slack {url}; discord {url}; telegram {token, chat_id}; ntfy {url (server), topic, token (optional)}; gotify {url (server), token}; " +
		"email {host, port, username, password, from, to (list)} (implicit TLS on 465, STARTTLS when offered). " +
		"events lists some of: " + strings.Join(notify.EventNames(), ", ") + ". " +
		"projects (ids) limits the channel to those projects' events; empty means every project. Events about no project " +
		"(a node's disk, the dashboard's certificate) reach every channel subscribed to them. " +
		"Secrets (webhook secret, Slack and Discord URLs, tokens, the SMTP password) are write-only: answers say in secrets_set whether each is set."
	return []Operation{
		{Method: "GET", Path: "/api/v1/notifications", Tag: "Notifications", Summary: "List notification channels (secrets never shown)",
			Status: 200, Response: map[string]any{"items": []any{exampleChannel()}}, Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/notifications", Tag: "Notifications", Summary: "Add a notification channel", Notes: channelNotes,
			Body:   map[string]any{"name": "ops slack", "kind": "slack", "events": []string{"deploy.failed"}, "config": map[string]any{"url": "https://hooks.slack.com/services/T000/B000/XXXX"}},
			Status: 201, Response: exampleChannel(), Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/notifications/{id}", Tag: "Notifications", Summary: "Get a notification channel",
			Status: 200, Response: exampleChannel(), Errors: []int{401, 404}},
		{Method: "PATCH", Path: "/api/v1/notifications/{id}", Tag: "Notifications", Summary: "Change a channel's name, events, projects, enabled flag or settings",
			Notes: "Fields left out keep their value; a secret left out or empty keeps the stored one. The kind cannot change.",
			Body:  map[string]any{"events": []string{"deploy.failed", "backup.failed"}, "enabled": false}, Status: 200, Response: exampleChannel(),
			Errors: []int{400, 401, 404, 409, 422}},
		{Method: "DELETE", Path: "/api/v1/notifications/{id}", Tag: "Notifications", Summary: "Delete a channel and its deliveries",
			Status: 204, Errors: []int{401, 404}},
		{Method: "POST", Path: "/api/v1/notifications/{id}/test", Tag: "Notifications", Summary: "Send a test message now and answer with the delivery",
			Notes:  "status is sent, or failed with last_error (the provider's answer or the connection error, secrets masked). A test is not retried.",
			Status: 200, Response: exampleNotificationDelivery(), Errors: []int{401, 404}},
		{Method: "GET", Path: "/api/v1/notifications/deliveries", Tag: "Notifications", Summary: "List deliveries (the outbox), newest first",
			Notes: "status is pending (queued or waiting for a retry at next_attempt_at), sent or failed. Failures are retried after 30 s, 2 min, " +
				"10 min, 1 h and 6 h, then marked failed. Optional channel_id filters one channel.",
			Paginated: true, Status: 200, Response: map[string]any{"items": []any{exampleNotificationDelivery()}, "limit": 50, "offset": 0}, Errors: []int{401, 422}},
		{Method: "GET", Path: "/api/v1/notifications/settings", Tag: "Notifications", Summary: "Get the notification cooldown",
			Notes:  "An event with the same dedupe key as one queued or sent within cooldown_minutes is not queued again (default 30).",
			Status: 200, Response: map[string]any{"cooldown_minutes": 30}, Errors: []int{401}},
		{Method: "PATCH", Path: "/api/v1/notifications/settings", Tag: "Notifications", Summary: "Change the notification cooldown (1 to 1440 minutes)",
			Body: map[string]any{"cooldown_minutes": 60}, Status: 200, Response: map[string]any{"cooldown_minutes": 60}, Errors: []int{400, 401, 422}},
	}
}
