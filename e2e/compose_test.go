package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
)

// TestCompose runs a two-service stack through the product against the
// real Swarm and a real Traefik: web, built from a Dockerfile in a git
// repository, counts requests in a Redis store (a locally built image)
// with a named volume, reached by service name. A domain routes to web; a
// push redeploys through the webhook and the count survives; stop leaves
// nothing answering and start brings back the same replica counts; delete
// removes every service, network, route and (when asked) the volume.
func TestCompose(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	redisImage := testkit.DBImage(t, "redis")
	dataDir := t.TempDir()
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve", "DOKPLOY_DATA_DIR="+dataDir)
	c.login(t)
	project := c.newProject(t)
	traefikPort := composeTraefik(t, filepath.Join(dataDir, "traefik"))

	stack := "cst" + srvRandomHex(3)
	t.Cleanup(func() { composeCleanup(stack) })
	repo := testkit.NewGitRepo(t)
	composeBuildCounter(t, filepath.Join(repo.Work, "counter"))
	file := fmt.Sprintf(`services:
  web:
    build: .
    environment:
      STORE_ADDR: store:6379
      VERSION: ${VERSION}
    deploy:
      replicas: 2
  store:
    image: %s
    command: ["redis-server", "--appendonly", "yes"]
    volumes:
      - data:/data
volumes:
  data:
`, redisImage)
	repo.Commit("stack v1", map[string]string{
		"Dockerfile":         "FROM scratch\nCOPY counter /counter\nENV PORT=8080\nENTRYPOINT [\"/counter\"]\n",
		"docker-compose.yml": file,
	})

	var created struct {
		ID         int64         `json:"id"`
		Deployment resDeployment `json:"deployment"`
		Warnings   []string      `json:"warnings"`
	}
	c.mustAPI(t, "POST", "/api/v1/compose", map[string]any{
		"project_id": project, "name": stack,
		"source": map[string]any{"type": "git", "url": repo.URL, "branch": "main"},
		"env":    map[string]any{"VERSION": "v1"},
	}, http.StatusCreated, &created)
	c.composeWaitDone(t, created.Deployment.ID, "first deploy")
	c.composeWaitServices(t, created.ID, map[string]int{"web": 2, "store": 1})

	// A domain applies without a redeploy: Traefik routes to web at once.
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/compose/%d/domains", created.ID),
		map[string]any{"host": stack + ".test", "service": "web", "port": 8080, "https": false}, http.StatusCreated, nil)
	first := composeGet(t, traefikPort, stack+".test", "version=v1", time.Minute)
	second := composeGet(t, traefikPort, stack+".test", "version=v1", time.Minute)
	if first == second || !strings.HasPrefix(first, "hits=") {
		t.Fatalf("two requests through Traefik answered %q and %q; the count should go up", first, second)
	}
	hitsBefore := composeHits(t, second)

	// A push redeploys through the webhook; the count lives in the volume.
	repo.Commit("v2", map[string]string{"docker-compose.yml": strings.Replace(file, "${VERSION}", "v2-${VERSION}", 1)})
	dep := c.composeWebhook(t, created.ID)
	c.composeWaitDone(t, dep, "webhook redeploy")
	after := composeGet(t, traefikPort, stack+".test", "version=v2-v1", 2*time.Minute)
	if got := composeHits(t, after); got <= hitsBefore {
		t.Fatalf("after the redeploy the count is %d, was %d: the store's volume did not survive", got, hitsBefore)
	}

	// The page's file view shows the deployed file and its diff.
	var view struct {
		Rendered string `json:"rendered"`
		Diff     []struct{ Op, Text string }
	}
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/compose/%d/file", created.ID), nil, http.StatusOK, &view)
	if !strings.Contains(view.Rendered, "v2-") || len(view.Diff) == 0 {
		t.Errorf("file view after the redeploy: rendered %q, diff %v", view.Rendered, view.Diff)
	}

	// Rollback puts the first deploy's file and images back, without a build.
	var rb resDeployment
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/deployments/%d/rollback", created.Deployment.ID), nil, http.StatusAccepted, &rb)
	c.composeWaitDone(t, rb.ID, "rollback")
	if log := c.logs(t, rb.ID); strings.Contains(log, "Building service") {
		t.Errorf("the rollback built again:\n%s", log)
	}
	back := composeGet(t, traefikPort, stack+".test", "version=v1", 2*time.Minute)
	if got := composeHits(t, back); got <= hitsBefore {
		t.Fatalf("after the rollback the count is %d, was %d", got, hitsBefore)
	}

	// Stop: nothing answers. Start: the same replica counts serve again.
	c.composeOp(t, created.ID, "stop")
	c.composeWaitServices(t, created.ID, map[string]int{"web": 0, "store": 0})
	if body, code := composeTry(traefikPort, stack+".test"); code == http.StatusOK {
		t.Fatalf("a stopped stack still answered: %d %q", code, body)
	}
	c.composeOp(t, created.ID, "start")
	c.composeWaitServices(t, created.ID, map[string]int{"web": 2, "store": 1})
	composeGet(t, traefikPort, stack+".test", "version=v1", 2*time.Minute)

	// Delete with the volumes: every service, network, route and the volume goes.
	c.mustAPI(t, "DELETE", fmt.Sprintf("/api/v1/compose/%d?volumes=remove", created.ID), nil, http.StatusNoContent, nil)
	for _, kind := range []string{"service", "network", "volume", "secret", "config"} {
		if out, _ := exec.Command("docker", kind, "ls", "-q", "--filter", "label=com.docker.stack.namespace="+stack).Output(); strings.TrimSpace(string(out)) != "" {
			t.Errorf("after delete, %s objects of the stack remain: %s", kind, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "traefik", "dynamic", stack+".yml")); !os.IsNotExist(err) {
		t.Errorf("the stack's Traefik file is still there after delete (stat: %v)", err)
	}
}

// TestCompose_Refused checks that bad files get a clear error and change
// nothing: a YAML error (with its line), a missing build context, a host
// bind mount of / and a service name that is not a DNS label.
func TestCompose_Refused(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	project := c.newProject(t)
	create := func(name string, body map[string]any) (int, string) {
		body["project_id"], body["name"] = project, name
		code, b, err := c.api("POST", "/api/v1/compose", body)
		if err != nil {
			t.Fatal(err)
		}
		return code, string(b)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"syntax", "services:\n  web:\n    image: [nginx\n", "line"},
		{"bind", "services:\n  web:\n    image: nginx:1\n    volumes:\n      - /:/host\n", "bind mount"},
		{"dnslabel", "services:\n  My_Web:\n    image: nginx:1\n", "DNS label"},
	} {
		code, body := create("bad-"+tc.name, map[string]any{"compose_file": tc.file})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 422 mentioning %q", tc.name, code, body, tc.want)
		}
	}
	var list struct{ Items []any }
	c.mustAPI(t, "GET", "/api/v1/compose", nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Fatalf("refused creates left %d stacks", len(list.Items))
	}

	// A build context missing from the repository fails the deploy with
	// its name; no service is created.
	repo := testkit.NewGitRepo(t)
	repo.Commit("missing context", map[string]string{"docker-compose.yml": "services:\n  web:\n    build: ./missing\n"})
	stack := "cbad" + srvRandomHex(3)
	t.Cleanup(func() { composeCleanup(stack) })
	var created struct {
		Deployment resDeployment `json:"deployment"`
	}
	c.mustAPI(t, "POST", "/api/v1/compose", map[string]any{"project_id": project, "name": stack,
		"source": map[string]any{"type": "git", "url": repo.URL, "branch": "main"}}, http.StatusCreated, &created)
	d := c.waitFinished(t, created.Deployment.ID, 3*time.Minute)
	if d.Status != "error" || !strings.Contains(c.logs(t, d.ID), "missing") {
		t.Fatalf("deploy with a missing build context: %s %q; log:\n%s", d.Status, d.Error, c.logs(t, d.ID))
	}
	if out, _ := exec.Command("docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+stack).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("a refused deploy created services: %s", out)
	}
}

// composeBuildCounter builds jobs/testdata/counter as a static binary.
func composeBuildCounter(t *testing.T, out string) {
	t.Helper()
	routeRun(t, 3*time.Minute, testkit.RepoRoot(t), "go", "build", "-o", out, "./jobs/testdata/counter")
}

// composeTraefik runs a real Traefik on the product's routing directory
// (the product writes it with DOKPLOY_TRAEFIK=off) and returns its HTTP
// port on 127.0.0.1.
func composeTraefik(t *testing.T, configDir string) int {
	t.Helper()
	routeTraefikImage(t)
	dk := deployDocker(t)
	spec := docker.TraefikSpec{
		Name: "compose-traefik-" + srvRandomHex(3), ConfigDir: configDir, BindIP: "127.0.0.1",
		HTTPPort: testkit.FreePort(t), HTTPSPort: testkit.FreePort(t), APIPort: testkit.FreePort(t),
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "40", spec.Name).CombinedOutput()
			t.Logf("traefik log:\n%s", out)
		}
		_ = dk.RemoveTraefik(context.Background(), spec.Name)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := dk.Traefik(spec, func(l string) { t.Log(l) }).Restart(ctx, "compose-test"); err != nil {
		t.Fatalf("start Traefik: %v", err)
	}
	return spec.HTTPPort
}

// composeTry GETs / on Traefik's port with host as the Host header.
func composeTry(port int, host string) (string, int) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err.Error(), 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(b)), resp.StatusCode
}

// composeGet waits until host answers 200 with a body containing want.
func composeGet(t *testing.T, port int, host, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		body, code := composeTry(port, host)
		if code == http.StatusOK && strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s through Traefik: %d %q after %s, want 200 with %q", host, code, body, within, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func composeHits(t *testing.T, body string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(body, "hits=%d", &n); err != nil {
		t.Fatalf("answer %q has no hits=N", body)
	}
	return n
}

func (c *resCluster) composeWaitDone(t *testing.T, id int64, what string) {
	t.Helper()
	d := c.waitFinished(t, id, 5*time.Minute)
	if d.Status != "done" {
		t.Fatalf("%s: %s %q; log:\n%s", what, d.Status, d.Error, c.logs(t, d.ID))
	}
}

func (c *resCluster) composeOp(t *testing.T, id int64, action string) {
	t.Helper()
	var d resDeployment
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/compose/%d/%s", id, action), nil, http.StatusAccepted, &d)
	c.composeWaitDone(t, d.ID, action)
}

// composeWaitServices waits until each service runs the given number of
// tasks, as GET /services reports it (0 also needs 0 desired).
func (c *resCluster) composeWaitServices(t *testing.T, id int64, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out struct {
			Items []docker.StackServiceState `json:"items"`
		}
		c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/compose/%d/services", id), nil, http.StatusOK, &out)
		got := map[string]int{}
		ok := len(out.Items) == len(want)
		for _, s := range out.Items {
			got[s.Service] = int(s.Running)
			if n, known := want[s.Service]; !known || int(s.Running) != n || int(s.Desired) != n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("services run %v, want %v (%+v)", got, want, out.Items)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// composeWebhook posts a signed GitHub push of main to the stack's deploy
// webhook and returns the queued deployment.
func (c *resCluster) composeWebhook(t *testing.T, id int64) int64 {
	t.Helper()
	var hook struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/compose/%d/webhook", id), nil, http.StatusOK, &hook)
	path := hook.URL[strings.Index(hook.URL, "/api/deploy/"):]
	body := []byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","head_commit":{"id":"0123456789abcdef0123456789abcdef01234567","message":"v2"}}`)
	mac := hmac.New(sha256.New, []byte(hook.Secret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", c.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Outcome      string `json:"outcome"`
		Reason       string `json:"reason"`
		DeploymentID int64  `json:"deployment_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusAccepted || out.DeploymentID == 0 {
		t.Fatalf("webhook: %d %+v", resp.StatusCode, out)
	}
	return out.DeploymentID
}

// composeCleanup removes what a failed test may leave behind.
func composeCleanup(stack string) {
	for _, kind := range []string{"service", "network", "secret", "config"} {
		out, _ := exec.Command("docker", kind, "ls", "-q", "--filter", "label=com.docker.stack.namespace="+stack).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", kind, "rm", id).Run()
		}
	}
	time.Sleep(2 * time.Second)
	out, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+stack).Output()
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "volume", "rm", "-f", id).Run()
	}
}
