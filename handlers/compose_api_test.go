package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"dokploy/e2e/testkit"
)

const twoServiceFile = `services:
  web:
    image: ${WEB_IMAGE}
    container_name: fixed
    environment:
      STORE_ADDR: store:6379
  store:
    image: redis:7
    volumes:
      - data:/data
volumes:
  data:
`

// TestComposeAPI_CreateReadUpdate covers the stack's life through the API
// up to the queue: create (first deploy queued), read with secrets hidden,
// env reveal, patch, domains per service and the refusal to delete
// without a choice about the volumes.
func TestComposeAPI_CreateReadUpdate(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	p := app.createProject("shop")

	res, out := app.apiJSON("POST", "/api/v1/compose", token, map[string]any{
		"project_id": p.ID, "name": "blog", "compose_file": twoServiceFile,
		"env": map[string]any{"WEB_IMAGE": "nginx:1.27", "SECRET_TOKEN": "s3cr3t-value-1234"},
	})
	wantStatus(t, res, http.StatusCreated)
	testkit.MustNotContain(t, res.Body, "s3cr3t-value-1234")
	if out["deployment"] == nil || out["source_type"] != "inline" {
		t.Fatalf("create answered %s", res.Body)
	}
	if w := fmt.Sprint(out["warnings"]); !strings.Contains(w, "container_name") {
		t.Errorf("warnings %s should say container_name is ignored", w)
	}
	if s := fmt.Sprint(out["services"]); s != "[store web]" {
		t.Errorf("services %s, want [store web]", s)
	}
	id := int64(out["id"].(float64))

	res, out = app.apiJSON("GET", fmt.Sprintf("/api/v1/compose/%d", id), token, nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "s3cr3t-value-1234")
	if keys := fmt.Sprint(out["env_keys"]); !strings.Contains(keys, "SECRET_TOKEN") {
		t.Errorf("env_keys %s", keys)
	}
	res, _ = app.apiJSON("GET", fmt.Sprintf("/api/v1/compose/%d/env", id), token, nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "s3cr3t-value-1234")
	testkit.MustContain(t, res.Body, `"SECRET_TOKEN":"********"`)
	res, _ = app.apiJSON("GET", fmt.Sprintf("/api/v1/compose/%d/env?reveal=true", id), token, nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "s3cr3t-value-1234")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("env reveal Cache-Control %q, want no-store", cc)
	}

	// The name is the Swarm stack's: it cannot change.
	res, _ = app.apiJSON("PATCH", fmt.Sprintf("/api/v1/compose/%d", id), token, map[string]any{"name": "other"})
	wantStatus(t, res, http.StatusUnprocessableEntity)

	// A bad file in a patch is refused with its line and changes nothing.
	res, _ = app.apiJSON("PATCH", fmt.Sprintf("/api/v1/compose/%d", id), token, map[string]any{"compose_file": "services:\n  web:\n    image: [x\n"})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "line")
	stored, err := app.store.Compose(context.Background(), id)
	if err != nil || stored.ComposeFile != twoServiceFile {
		t.Fatalf("a refused patch changed the file: %v %q", err, stored.ComposeFile)
	}

	// Domains route to one of the stack's services.
	res, _ = app.apiJSON("POST", fmt.Sprintf("/api/v1/compose/%d/domains", id), token, map[string]any{"host": "blog.example.com", "service": "nope", "port": 80})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "no service")
	res, out = app.apiJSON("POST", fmt.Sprintf("/api/v1/compose/%d/domains", id), token, map[string]any{"host": "blog.example.com", "service": "web", "port": 80, "https": false})
	wantStatus(t, res, http.StatusCreated)
	if out["service"] != "web" {
		t.Errorf("domain answered %s", res.Body)
	}
	domainID := int64(out["id"].(float64))
	res, out = app.apiJSON("PATCH", fmt.Sprintf("/api/v1/domains/%d", domainID), token, map[string]any{"service": "store", "port": 6379})
	wantStatus(t, res, http.StatusOK)
	if out["service"] != "store" {
		t.Errorf("patched domain answered %s", res.Body)
	}
	// The address is now the stack's: an app cannot claim it.
	a := app.createImageApp(p, "taken")
	res, _ = app.apiJSON("POST", fmt.Sprintf("/api/v1/applications/%d/domains", a.ID), token, map[string]any{"host": "blog.example.com"})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "compose stack")

	res, _ = app.apiJSON("DELETE", fmt.Sprintf("/api/v1/compose/%d", id), token, nil)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "volumes=keep")
	if _, err := app.store.Compose(context.Background(), id); err != nil {
		t.Fatalf("a refused delete removed the stack: %v", err)
	}
}

// TestComposeAPI_RefusedFiles: each refused file is a 422 naming the
// problem, and no stack is created.
func TestComposeAPI_RefusedFiles(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	p := app.createProject("shop")
	cases := []struct{ name, file, want string }{
		{"yaml syntax", "services:\n  web:\n    image: nginx\n   bad: [\n", "line"},
		{"no services", "volumes:\n  data:\n", "no services"},
		{"bind mount of /", "services:\n  web:\n    image: nginx\n    volumes:\n      - /:/host\n", "bind mount"},
		{"docker socket", "services:\n  web:\n    image: nginx\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n", "docker.sock"},
		{"privileged", "services:\n  web:\n    image: nginx\n    privileged: true\n", "privileged"},
		{"host network", "services:\n  web:\n    image: nginx\n    network_mode: host\n", "host"},
		{"cap_add", "services:\n  web:\n    image: nginx\n    cap_add: [SYS_ADMIN]\n", "cap_add"},
		{"service name not a DNS label", "services:\n  Web_1:\n    image: nginx\n", "DNS label"},
		{"build without a repository", "services:\n  web:\n    build: .\n", "repository"},
	}
	for _, tc := range cases {
		res, _ := app.apiJSON("POST", "/api/v1/compose", token, map[string]any{"project_id": p.ID, "name": "bad", "compose_file": tc.file})
		if res.Code != http.StatusUnprocessableEntity || !strings.Contains(res.Body, tc.want) {
			t.Errorf("%s: %d %s, want 422 mentioning %q", tc.name, res.Code, res.Body, tc.want)
		}
	}
	res, _ := app.apiJSON("POST", "/api/v1/compose", token, map[string]any{"project_id": p.ID, "name": "Bad_Name", "compose_file": "services:\n  web:\n    image: nginx\n"})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if n := app.count("compose_stacks"); n != 0 {
		t.Fatalf("refused creates left %d stacks", n)
	}

	// What an administrator allows for the stack is no longer refused.
	res, _ = app.apiJSON("POST", "/api/v1/compose", token, map[string]any{"project_id": p.ID, "name": "allowed", "deploy": false,
		"compose_file": "services:\n  web:\n    image: nginx\n    volumes:\n      - /srv/data:/data\n",
		"allow":        map[string]any{"bind_mounts": true}})
	wantStatus(t, res, http.StatusCreated)
	stacks, err := app.store.ComposeStacks(context.Background())
	if err != nil || len(stacks) != 1 || !stacks[0].BindMounts {
		t.Fatalf("stacks %+v %v", stacks, err)
	}
	if deps, _ := app.store.Deployments(context.Background(), stacks[0].ID, 5); len(deps) != 0 {
		t.Errorf(`"deploy": false queued %d deployments`, len(deps))
	}
}

// TestComposeAPI_GitSourceKeepsTokenSecret: a git stack's token is stored
// sealed and shown only as token_set.
func TestComposeAPI_GitSourceKeepsTokenSecret(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	token := app.apiToken()
	p := app.createProject("shop")
	res, out := app.apiJSON("POST", "/api/v1/compose", token, map[string]any{"project_id": p.ID, "name": "fromgit", "deploy": false,
		"source": map[string]any{"type": "git", "url": "https://git.example.com/acme/blog.git", "branch": "main", "compose_path": "deploy/compose.yaml", "token": "ghp_verysecret123"}})
	wantStatus(t, res, http.StatusCreated)
	testkit.MustNotContain(t, res.Body, "ghp_verysecret123")
	src, _ := out["source"].(map[string]any)
	if src["token_set"] != true || src["compose_path"] != "deploy/compose.yaml" {
		t.Errorf("source %v", src)
	}
	var raw []byte
	if err := app.store.DB().GetContext(context.Background(), &raw, `SELECT git_token_enc FROM compose_stacks WHERE id = $1`, int64(out["id"].(float64))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "ghp_verysecret123") {
		t.Fatal("the git token is stored in clear")
	}
	for _, bad := range []map[string]any{
		{"type": "git", "url": "file:///etc", "branch": "main"},
		{"type": "git", "url": "https://x.example.com/a.git", "branch": "main", "compose_path": "../../etc/compose.yml"},
		{"type": "git", "url": "https://x.example.com/a.git", "branch": "main", "compose_path": "deploy/compose.txt"},
	} {
		res, _ := app.apiJSON("POST", "/api/v1/compose", token, map[string]any{"project_id": p.ID, "name": "bad", "source": bad})
		if res.Code != http.StatusUnprocessableEntity {
			t.Errorf("source %v: %d %s, want 422", bad, res.Code, res.Body)
		}
	}
}
