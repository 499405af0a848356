package api

// metricsOperations document the metrics of services and nodes and the
// collector's settings.
func metricsOperations() []Operation {
	sample := map[string]any{"ts": exampleTime, "service": "shop-web", "container_id": "3f2a…", "replica": 1, "node": "kq3…",
		"cpu": 12.5, "mem": 73400320, "mem_limit": 536870912, "net_rx": 2048.0, "net_tx": 1024.0, "blk_read": 0.0, "blk_write": 4096.0,
		"restarts": 0, "oom": 0}
	node := map[string]any{"ts": exampleTime, "node": "kq3…", "hostname": "vps-1", "cpu": 23.4, "cpus": 2, "mem_used": 1610612736,
		"mem_total": 4294967296, "disk_used": 21474836480, "disk_total": 85899345920, "load1": 0.42, "load5": 0.35, "load15": 0.3}
	settings := map[string]any{"interval_seconds": 10, "raw_hours": 48, "rollup_days": 30}
	pushed := map[string]any{"target": "shop-web"}
	for k, v := range sample {
		pushed[k] = v
	}
	return []Operation{
		{Method: "GET", Path: "/api/v1/services/{kind}/{id}/metrics", Tag: "Metrics", Summary: "Read a service's metrics, one series per replica",
			Notes: "kind is app, database or compose; for compose, service keeps one service of the stack (default: all). " +
				"range is 1h (default), 6h, 24h or 7d: up to 24h from raw samples, 7d from 5-minute averages, averaged into step_seconds buckets " +
				"(at most 300 points a series). cpu is percent of one CPU (200 = two CPUs busy), mem the working set in bytes " +
				"(usage minus inactive page cache, as docker stats shows), net_* and blk_* bytes per second, restarts and oom the " +
				"task slot's counts. current is the replica's newest sample, null when it stopped reporting.",
			Status: 200, Response: map[string]any{"range": "1h", "from": exampleTime, "to": exampleTime, "step_seconds": 12, "interval_seconds": 10,
				"series": []any{map[string]any{"service": "shop-web", "replica": 1, "node": "kq3…", "label": "replica 1", "mem_limit": 536870912,
					"ts": []any{1767366245}, "cpu": []any{12.5}, "mem": []any{73400320}, "net_rx": []any{2048.0}, "net_tx": []any{1024.0},
					"blk_read": []any{0.0}, "blk_write": []any{4096.0}, "restarts": []any{0}, "oom": []any{0}, "current": sample}}},
			Errors: []int{401, 404, 422}},
		{Method: "GET", Path: "/api/v1/server/metrics", Tag: "Metrics", Summary: "Read every node's CPU, memory, disk and load",
			Notes: "range as for service metrics. cpu is percent of all the node's CPUs, mem_used is MemTotal minus MemAvailable, " +
				"disk_* are of Docker's data root, load* the load averages.",
			Status: 200, Response: map[string]any{"range": "1h", "from": exampleTime, "to": exampleTime, "step_seconds": 12, "interval_seconds": 10,
				"nodes": []any{map[string]any{"node": "kq3…", "hostname": "vps-1", "cpus": 2, "mem_total": 4294967296, "disk_total": 85899345920,
					"ts": []any{1767366245}, "cpu": []any{23.4}, "mem_used": []any{1610612736}, "disk_used": []any{21474836480},
					"load1": []any{0.42}, "load5": []any{0.35}, "load15": []any{0.3}, "current": node}}},
			Errors: []int{401, 422}},
		{Method: "GET", Path: "/api/v1/settings/metrics", Tag: "Settings", Summary: "Get the metrics collector's interval and retention",
			Status: 200, Response: settings, Errors: []int{401}},
		{Method: "PATCH", Path: "/api/v1/settings/metrics", Tag: "Settings", Summary: "Change the metrics interval and retention",
			Notes: "interval_seconds 5 to 300; raw_hours (raw samples kept) 24 to 720; rollup_days (5-minute averages kept) 7 to 3650. " +
				"Fields left out keep their value; the collector applies them at its next round.",
			Body: map[string]any{"interval_seconds": 15}, Status: 200, Response: settings, Errors: []int{400, 401, 422}},
		{Method: "POST", Path: "/api/v1/agent/metrics", Tag: "Metrics", Summary: "Push a round of samples from `dokploy agent` on another node",
			Notes: "Sent by the agent every interval with an API token. target names the service the container belongs to (the app's or " +
				"database's name, or the compose stack); samples of no service are dropped. Timestamps must be within 10 minutes of the " +
				"control plane's clock; at most 5000 container and 4 node samples a push.",
			Body: map[string]any{"containers": []any{pushed}, "nodes": []any{node}}, Status: 204, Errors: []int{400, 401, 422}},
	}
}
