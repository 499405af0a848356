package api

func exampleCompose() map[string]any {
	return map[string]any{
		"id": 12, "environment_id": 1, "project_id": 1, "environment": "production", "name": "blog", "display_name": "Blog",
		"source_type": "git", "inject_env": false, "status": "running", "created_at": exampleTime, "updated_at": exampleTime,
		"source": map[string]any{"type": "git", "url": "https://github.com/acme/blog.git", "branch": "main",
			"compose_path": "docker-compose.yml", "token_set": true},
		"allow":    map[string]any{"bind_mounts": false, "docker_socket": false, "privileged": false, "host_namespaces": false, "capabilities": false},
		"env_keys": []any{"DB_PASSWORD"}, "services": []any{"store", "web"},
	}
}

func exampleComposeInput() map[string]any {
	return map[string]any{"project_id": 1, "environment": "production", "name": "blog",
		"source": map[string]any{"type": "git", "url": "https://github.com/acme/blog.git", "branch": "main", "compose_path": "docker-compose.yml", "token": "…"},
		"env":    map[string]any{"DB_PASSWORD": "…"}, "inject_env": false}
}

func exampleComposeCreated() map[string]any {
	out := exampleCompose()
	out["deployment"] = exampleOperation("deploy")
	out["warnings"] = []any{`service "web": container_name is ignored by Swarm (Setting the container name is not supported.)`}
	return out
}

func exampleStackService() map[string]any {
	return map[string]any{"Name": "blog_web", "Service": "web", "Image": "blog_web:42", "Mode": "replicated", "Desired": 2, "Running": 2,
		"Health": "healthy", "Ports": []any{}, "LastError": "", "UpdatedAt": exampleTime}
}

// composeOperations document /compose: stacks from a compose file.
func composeOperations() []Operation {
	notFound := []int{401, 404}
	queued := []int{401, 404, 409}
	return []Operation{
		{Method: "GET", Path: "/api/v1/compose", Tag: "Compose", Summary: "List compose stacks", Paginated: true, Status: 200,
			Response: examplePage(exampleCompose()), Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/compose", Tag: "Compose", Summary: "Create a compose stack and queue its first deploy", Status: 201,
			Notes: "name is a DNS label unique across apps, databases and stacks: the Swarm stack name, so services are <name>_<service>. " +
				"Give environment_id, or project_id with environment (default production). Give either source ({\"type\": \"git\", url, branch, " +
				"compose_path (default: docker-compose.yml, docker-compose.yaml, compose.yml or compose.yaml), token or ssh_key}) or compose_file (the YAML text). " +
				"env values are always used for ${VAR} interpolation in the file; inject_env also adds them to every service's environment. " +
				"A pasted file is loaded and checked when saved: errors name the line. Host bind mounts, the Docker socket, privileged, host network/PID/IPC " +
				"and cap_add are refused unless allow names them. \"deploy\": false skips the first deploy.",
			Body: exampleComposeInput(), Response: exampleComposeCreated(), Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/compose/{id}", Tag: "Compose", Summary: "Get a compose stack (secrets only as token_set/ssh_key_set)", Status: 200,
			Response: exampleCompose(), Errors: notFound},
		{Method: "PATCH", Path: "/api/v1/compose/{id}", Tag: "Compose", Summary: "Change a stack's source, file, env, inject_env or allow; only sent fields change",
			Notes: "Applies on the next deploy; \"deploy\": true queues one. The name cannot change.",
			Body:  map[string]any{"compose_file": "services:\n  web:\n    image: nginx:1.27\n", "deploy": true}, Status: 200,
			Response: exampleComposeCreated(), Errors: []int{400, 401, 404, 422}},
		{Method: "DELETE", Path: "/api/v1/compose/{id}", Tag: "Compose", Summary: "Delete a stack; ?volumes=keep or ?volumes=remove is required",
			Notes:  "Removes the stack's services, networks, configs, secrets, built images and routes; its named volumes only with ?volumes=remove.",
			Status: 204, Errors: []int{401, 404, 409, 422}},
		{Method: "POST", Path: "/api/v1/compose/{id}/deploy", Tag: "Compose", Summary: "Queue a deploy: clone (git), load and check the file, build, pull, roll out",
			Status: 202, Response: exampleOperation("deploy"), Errors: queued},
		{Method: "POST", Path: "/api/v1/compose/{id}/stop", Tag: "Compose", Summary: "Queue a stop: record each service's replicas, scale all to 0",
			Status: 202, Response: exampleOperation("stop"), Errors: queued},
		{Method: "POST", Path: "/api/v1/compose/{id}/start", Tag: "Compose", Summary: "Queue a start: scale each service back to the replicas the stop recorded",
			Status: 202, Response: exampleOperation("start"), Errors: queued},
		{Method: "POST", Path: "/api/v1/compose/{id}/restart", Tag: "Compose", Summary: "Queue a restart of every service (new tasks, same spec)",
			Status: 202, Response: exampleOperation("restart"), Errors: queued},
		{Method: "GET", Path: "/api/v1/compose/{id}/services", Tag: "Compose", Summary: "Live state of each service: image, replicas running/desired, health, ports, last task error",
			Status: 200, Response: map[string]any{"items": []any{exampleStackService()}}, Errors: []int{401, 404, 503}},
		{Method: "GET", Path: "/api/v1/compose/{id}/file", Tag: "Compose", Summary: "The rendered file the running deploy used (secrets masked) and its diff against the deploy before",
			Status: 200, Response: map[string]any{"deployment_id": 42, "rendered": "services:\n  web:\n    image: blog_web:42\n", "previous_deployment_id": 40,
				"diff":     []any{map[string]any{"op": "-", "text": "    image: blog_web:40"}, map[string]any{"op": "+", "text": "    image: blog_web:42"}},
				"warnings": []any{}, "images": map[string]any{"web": "blog_web:42", "store": "redis:7"}}, Errors: notFound},
		{Method: "GET", Path: "/api/v1/compose/{id}/deployments", Tag: "Compose", Summary: "List the stack's deploys and operations, newest first",
			Notes:     "Roll back with POST /deployments/{id}/rollback: it deploys that deploy's file and images again, without a build.",
			Paginated: true, Status: 200, Response: examplePage(exampleOperation("deploy")), Errors: notFound},
		{Method: "GET", Path: "/api/v1/compose/{id}/env", Tag: "Compose", Summary: "Get the stack's env (values masked unless ?reveal=true)", Status: 200,
			Notes:    "Values are shown as ******** (empty ones stay empty) unless the query has reveal=true; a reveal is recorded with who asked.",
			Response: map[string]any{"env": map[string]any{"DB_PASSWORD": "********"}}, Errors: notFound},
		{Method: "PUT", Path: "/api/v1/compose/{id}/env", Tag: "Compose", Summary: "Replace the stack's env (a pasted file must still load with it)", Status: 200,
			Body: map[string]any{"env": map[string]any{"DB_PASSWORD": "…"}}, Response: map[string]any{"env": map[string]any{"DB_PASSWORD": "********"}}, Errors: []int{400, 401, 404, 422}},
		{Method: "GET", Path: "/api/v1/compose/{id}/domains", Tag: "Compose", Summary: "List the stack's domains with their routing status", Status: 200,
			Response: map[string]any{"items": []any{exampleComposeDomain()}}, Errors: notFound},
		{Method: "POST", Path: "/api/v1/compose/{id}/domains", Tag: "Compose", Summary: "Add a domain routing to one of the stack's services; applies without a redeploy",
			Notes:  "service names a service of the compose file; port is its container port. Change or remove it with PATCH/DELETE /domains/{id}. " + notRoutedNote,
			Body:   map[string]any{"host": "blog.example.com", "service": "web", "port": 8080, "https": true, "certificate": "letsencrypt"},
			Status: 201, Response: exampleComposeDomain(), Errors: []int{400, 401, 404, 409, 422}},
		{Method: "GET", Path: "/api/v1/compose/{id}/webhook", Tag: "Compose", Summary: "The stack's deploy webhook URL and secret (same providers and rules as apps)",
			Status: 200, Response: exampleWebhook(), Errors: notFound},
		{Method: "POST", Path: "/api/v1/compose/{id}/deploy-key", Tag: "Compose", Summary: "Generate a new SSH deploy key for a git stack; answers its public half",
			Notes:  "Add the public key to the repository as a read-only deploy key and use an ssh:// or git@ URL. The private key is stored encrypted and never shown.",
			Status: 200, Response: map[string]any{"public_key": "ssh-ed25519 AAAA… dokploy"}, Errors: notFound},
	}
}

func exampleComposeDomain() map[string]any {
	d := exampleDomain()
	d["service"], d["port"], d["app_id"] = "web", 8080, 12
	return d
}
