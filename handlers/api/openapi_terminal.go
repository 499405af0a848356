package api

// terminalOperations document the web terminal and its session records.
func terminalOperations() []Operation {
	return []Operation{
		{Method: "GET", Path: "/api/v1/services/{kind}/{id}/terminal", Tag: "Terminal",
			Summary: "Open a terminal in a running container of a service (WebSocket)",
			Notes: "A WebSocket upgrade (send Connection: Upgrade, Upgrade: websocket), authenticated by the API token; " +
				"a browser session works only from the dashboard's own origin. kind is app, database or compose. " +
				"Query: replica (task slot; default the first running one on this node), service (the compose service, required for compose), " +
				"cols and rows (the initial size, default 80×24). The shell is bash, or sh when the image has no bash. " +
				"Binary frames carry the terminal's bytes both ways. Text frames are JSON: send {\"type\":\"resize\",\"cols\":100,\"rows\":30} to resize; " +
				"the server sends {\"type\":\"ready\",\"shell\":\"sh\",\"replica\":1,\"container_id\":\"…\",\"node\":\"…\",\"session_id\":7} once the shell runs, " +
				"or {\"type\":\"error\",\"message\":\"…\"} (also written into the terminal) when none can: the image has no shell, the service has no running " +
				"container, or the replica runs on another node (terminals reach only containers on the control plane's node for now). " +
				"A message is at most 64 KiB. The session ends, and its shell is killed, when the socket closes or after 30 minutes without input. " +
				"Every session is recorded: see /api/v1/terminal-sessions.",
			Status: 101, Errors: []int{401, 403, 404, 422}},
		{Method: "GET", Path: "/api/v1/terminal-sessions", Tag: "Terminal", Summary: "List the recorded terminal sessions, newest first",
			Notes: "Who opened a terminal (user, API token), into which container, from which address, when it started and ended, and the bytes " +
				"typed (bytes_in) and shown (bytes_out); never what was typed or shown. Query: kind and id (one service), limit (1 to 500, default 100). " +
				"ended_at is null while the session is open.",
			Status: 200, Response: map[string]any{"sessions": []any{map[string]any{
				"id": 7, "user_id": 1, "user_email": "admin@example.com", "token_id": nil, "service_kind": "app", "service_id": 3,
				"service_name": "shop-web", "container_id": "4f1c…", "replica": 1, "node": "node-1", "shell": "bash",
				"remote_addr": "203.0.113.7", "started_at": exampleTime, "ended_at": exampleTime, "bytes_in": 42, "bytes_out": 1337,
				"end_reason": "closed by the client"}}},
			Errors: []int{401, 422}},
	}
}
