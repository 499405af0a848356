package api

// logsOperations document the runtime logs of every kind of service and
// the log rotation settings.
func logsOperations() []Operation {
	return []Operation{
		{Method: "GET", Path: "/api/v1/services/{kind}/{id}/logs", Tag: "Logs", Summary: "Read a service's runtime logs (app, database or compose service)",
			Notes: "kind is app, database or compose. Query: tail (last lines, default 200, 1 to 10000), since (5m, 1h, 24h or an RFC3339 time), " +
				"q (substring, case-insensitive; with regex=1 a Go regular expression of at most 200 characters), timestamps (1 or 0), " +
				"replica (task slot), service (the compose service, required for compose), download=1 (a text/plain attachment <name>-logs.txt). " +
				"The search applies to the last tail lines. Control characters are removed from the text. " +
				"truncated is true when tail lines were returned, so older ones may exist.",
			Status: 200, Response: map[string]any{"lines": []any{map[string]any{"ts": exampleTime, "replica": 1, "stream": "stdout", "text": "listening on :8080"}},
				"truncated": false}, Errors: []int{401, 404, 422}},
		{Method: "GET", Path: "/api/v1/settings/dashboard-domain", Tag: "Settings", Summary: "Get the domain the dashboard answers on (null when none)",
			Status: 200, Response: map[string]any{"domain": exampleDashboardDomain()}, Errors: []int{401}},
		{Method: "PUT", Path: "/api/v1/settings/dashboard-domain", Tag: "Settings", Summary: "Make host the dashboard's domain (replacing the one it had)",
			Notes: "https defaults to true and certificate to letsencrypt (or custom with certificate_id of an uploaded certificate, or none for " +
				"Traefik's default). The path is always / and the port the dashboard's. A host another service uses is refused (409). " +
				"routing_error is set when the domain was saved but Traefik could not be updated.",
			Body:   map[string]any{"host": "dokploy.example.com", "https": true, "certificate": "letsencrypt"},
			Status: 200, Response: map[string]any{"domain": exampleDashboardDomain()}, Errors: []int{400, 401, 409, 422, 503}},
		{Method: "DELETE", Path: "/api/v1/settings/dashboard-domain", Tag: "Settings", Summary: "Remove the dashboard's domain (it stays reachable on its port)",
			Status: 204, Errors: []int{401, 404}},
		{Method: "GET", Path: "/api/v1/settings/logs", Tag: "Settings", Summary: "Get the log rotation of every service (json-file max-size and max-file)",
			Status: 200, Response: map[string]any{"max_size": "10m", "max_file": 3}, Errors: []int{401}},
		{Method: "PATCH", Path: "/api/v1/settings/logs", Tag: "Settings", Summary: "Change the log rotation; applies to services deployed from now on",
			Notes: "max_size is a number with k, m or g (512k, 10m, 1g); max_file is 1 to 100. Fields left out keep their value.",
			Body:  map[string]any{"max_size": "20m", "max_file": 5}, Status: 200, Response: map[string]any{"max_size": "20m", "max_file": 5},
			Errors: []int{400, 401, 422}},
	}
}

func exampleDashboardDomain() map[string]any {
	return map[string]any{"id": 1, "app_id": nil, "host": "dokploy.example.com", "path": "/", "strip_path": false, "internal_path": "/",
		"port": 3000, "https": true, "certificate": "letsencrypt", "certificate_id": nil, "enabled": true,
		"created_at": exampleTime, "updated_at": exampleTime}
}
