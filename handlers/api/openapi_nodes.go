package api

func exampleNode() map[string]any {
	return map[string]any{"id": "x5yz2fxod1oryvmn8hqt0cddi", "hostname": "node-1", "role": "manager", "leader": true,
		"manager_reachability": "reachable", "availability": "active", "state": "ready", "address": "10.0.0.5",
		"engine_version": "28.5.2", "os": "linux", "architecture": "x86_64", "cpus": 4.0, "memory_bytes": 8229117952,
		"labels": map[string]any{"region": "eu"}, "version": 42, "self": true,
		"tasks": []any{map[string]any{"service": "shop-web", "replica": 1, "state": "running", "service_kind": "app", "service_id": 3},
			map[string]any{"service": "blog_db", "stack": "blog", "replica": 1, "state": "running", "service_kind": "compose", "service_id": 7}}}
}

// nodeOperations document /nodes: the swarm's nodes and joining new ones.
// Node ids are Docker's (a string); a hostname works in their place.
func nodeOperations() []Operation {
	return []Operation{
		{Method: "GET", Path: "/api/v1/nodes", Tag: "Nodes", Summary: "List the swarm's nodes with the platform's tasks on each", Paginated: true,
			Notes: "Managers first, then by hostname. role is manager or worker (leader: the raft leader); availability active, pause or drain; " +
				"state ready, down, unknown or disconnected; cpus and memory_bytes are the node's resources; tasks are the running (or starting) " +
				"tasks of the platform's apps, databases and compose services there, each with the service_kind and service_id of the product's service it is of " +
				"(a compose stack for its services, named by stack). self is the engine the control plane talks to.",
			Status: 200, Response: examplePage(exampleNode()), Errors: []int{401, 502}, StringParams: true},
		{Method: "GET", Path: "/api/v1/nodes/{id}", Tag: "Nodes", Summary: "Get a node (id or hostname)",
			Status: 200, Response: exampleNode(), Errors: []int{401, 404, 502}, StringParams: true},
		{Method: "PATCH", Path: "/api/v1/nodes/{id}", Tag: "Nodes", Summary: "Change a node's availability and labels",
			Notes: "availability: active, pause (no new tasks) or drain (its tasks move to other nodes). labels: labels to set (key → value); " +
				"remove_labels: keys to remove. Keys follow Docker's format (lowercase letters, digits, dots and dashes, starting with a letter, " +
				"at most 128 characters, not under com.docker, io.docker or org.dockerproject); values are 1 to 256 characters without control " +
				"characters. version (optional) is the node's version you read: if the node changed since, the answer is 409 and nothing changes. " +
				"Draining or pausing the only active node is refused (409). Bad input is 422 and changes nothing.",
			Body:   map[string]any{"availability": "drain", "labels": map[string]any{"region": "eu"}, "remove_labels": []any{"disk"}, "version": 42},
			Status: 200, Response: exampleNode(), Errors: []int{400, 401, 404, 409, 422, 502}, StringParams: true},
		{Method: "DELETE", Path: "/api/v1/nodes/{id}", Tag: "Nodes", Summary: "Remove a node from the swarm",
			Notes: "Refused (409, with what to do) for the swarm's last manager, for any manager not yet demoted, and for a node that is still ready " +
				"unless it is drained. A drained node that is still up is removed by force: run docker swarm leave on that machine afterwards.",
			Status: 204, Errors: []int{401, 404, 409, 502}, StringParams: true},
		{Method: "GET", Path: "/api/v1/nodes/join", Tag: "Nodes", Summary: "The docker swarm join commands for a new worker or manager",
			Notes: "The commands carry the swarm's join tokens, which are secrets: whoever has one can add a node. address is where this manager " +
				"advertises itself (port 2377); address_problem says when other machines could not reach it (a loopback address).",
			Status: 200, Response: map[string]any{"address": "10.0.0.5:2377", "address_problem": "",
				"worker_command":  "docker swarm join --token SWMTKN-1-…-worker 10.0.0.5:2377",
				"manager_command": "docker swarm join --token SWMTKN-1-…-manager 10.0.0.5:2377",
				"worker_token":    "SWMTKN-1-…-worker", "manager_token": "SWMTKN-1-…-manager"},
			Errors: []int{401, 502}},
	}
}
