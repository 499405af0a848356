package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dokploy/e2e/testkit"
)

// A two-machine swarm made of two extra Docker engines on this host, each
// in its own network namespace (with its own data root, exec root, socket
// and hostname), joined by a veth pair: a manager at mnManagerIP, which
// advertises that address, and a worker at mnWorkerIP. The machine's own
// swarm advertises 127.0.0.1, which no other namespace can reach, so the
// test brings its own manager rather than skip; the product under test
// talks to that manager's socket, and the shared swarm is not touched.
const (
	mnManagerIP = "10.231.7.1"
	mnWorkerIP  = "10.231.7.2"
)

// mnRequire skips the test when the host cannot run it, or fails it when
// DOKPLOY_MULTINODE is set (the multi-node run must not pass by skipping).
func mnRequire(t *testing.T) {
	t.Helper()
	testkit.RequireIntegration(t)
	why := ""
	if os.Geteuid() != 0 {
		why = "network namespaces and extra engines need root"
	}
	for _, bin := range []string{"ip", "dockerd", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil && why == "" {
			why = bin + " is not installed"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("DOKPLOY_MULTINODE") != "" {
		t.Fatalf("DOKPLOY_MULTINODE is set but %s", why)
	}
	t.Skipf("two-engine swarm test: %s (set DOKPLOY_MULTINODE=1 to make this a failure)", why)
}

func mnRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// mnNetwork makes the namespaces <prefix>m and <prefix>w with a veth pair
// between them, removed at the end.
func mnNetwork(t *testing.T, prefix string) (manager, worker string) {
	t.Helper()
	manager, worker = mnNamespace(t, prefix+"m"), mnNamespace(t, prefix+"w")
	mnRun(t, "ip", "link", "add", manager, "type", "veth", "peer", "name", worker)
	for _, end := range []struct{ ns, ip string }{{manager, mnManagerIP}, {worker, mnWorkerIP}} {
		mnRun(t, "ip", "link", "set", end.ns, "netns", end.ns)
		mnRun(t, "ip", "-n", end.ns, "addr", "add", end.ip+"/24", "dev", end.ns)
		mnRun(t, "ip", "-n", end.ns, "link", "set", end.ns, "up")
		mnRun(t, "ip", "-n", end.ns, "link", "set", "lo", "up")
	}
	return manager, worker
}

// mnNamespace adds the network namespace name, deleted at the end.
func mnNamespace(t *testing.T, name string) string {
	t.Helper()
	mnRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	mnRun(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// mnEngine starts dockerd in the namespace ns under hostname and returns
// its address for docker --host; the engine is stopped and its directories removed at
// the end. ip netns exec mounts a fresh /sys, so cgroup2 is mounted first.
func mnEngine(t *testing.T, ns, hostname string) string {
	t.Helper()
	dir := filepath.Join("/run", ns) // short: containerd's socket paths have a length limit
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	// The script is fixed; the hostname and dockerd's arguments are data.
	const script = `hostname "$1" && shift && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"`
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c", script, "sh", hostname,
		"dockerd", "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--host", "unix://"+sock,
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		// A containerd of its own: the host's serves the machine's engine.
		"--containerd-namespace", ns, "--containerd-plugins-namespace", ns+"-plugins")
	logFile, err := os.Create(filepath.Join(t.TempDir(), "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
	})
	host := "unix://" + sock
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dockerCLIErr(host, "info", "--format", "{{.ID}}")
		if err == nil {
			return host
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("the engine in %s did not answer within 30 s: %v\n%s", ns, err, testkit.Truncate(string(log)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestNodes_SecondEngineJoinsIsDrainedAndRemoved(t *testing.T) {
	mnRequire(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	mgrNS, wrkNS := mnNetwork(t, "dkn"+suffix)
	mgr := mnEngine(t, mgrNS, "dkn-manager-"+suffix)
	wrk := mnEngine(t, wrkNS, "dkn-worker-"+suffix)
	dockerCLI(t, mgr, "swarm", "init", "--advertise-addr", mnManagerIP, "--listen-addr", mnManagerIP+":2377")

	// The product talks to the namespaced manager.
	t.Setenv("DOCKER_HOST", mgr)
	a := newTestApp(t)
	br, token := parityClients(a)

	res, join := a.apiJSON(http.MethodGet, "/api/v1/nodes/join", token, nil)
	wantStatus(t, res, http.StatusOK)
	if join["address"] != mnManagerIP+":2377" || join["address_problem"] != "" {
		t.Fatalf("join address %v (problem %q), want %s:2377", join["address"], join["address_problem"], mnManagerIP)
	}
	// Run the command the API shows, as the user would on the new machine
	// (its words as arguments, no shell).
	cmd := strings.Fields(join["worker_command"].(string))
	if len(cmd) != 6 || strings.Join(cmd[:4], " ") != "docker swarm join --token" || cmd[5] != mnManagerIP+":2377" {
		t.Fatalf("worker command %q", cmd)
	}
	dockerCLI(t, wrk, cmd[1:]...)
	workerID := dockerCLI(t, wrk, "info", "--format", "{{.Swarm.NodeID}}")

	worker := mnWaitNode(t, a, token, workerID, func(n map[string]any) bool { return n["state"] == "ready" })
	if worker["role"] != "worker" || worker["hostname"] != "dkn-worker-"+suffix || worker["address"] != mnWorkerIP {
		t.Errorf("the joined worker in the API: %v", worker)
	}
	page := br.get("/nodes")
	if card := page.doc(t).Find("#node-" + workerID); card.Length() != 1 || !strings.Contains(card.Text(), "dkn-worker-"+suffix) {
		t.Errorf("the Nodes page has no card for the worker")
	}

	path := "/api/v1/nodes/" + workerID
	res, body := a.apiJSON(http.MethodDelete, path, token, nil)
	wantStatus(t, res, http.StatusConflict)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "Drain it first") {
		t.Errorf("removing a ready worker: %v", body)
	}
	res, body = a.apiJSON(http.MethodDelete, "/api/v1/nodes/dkn-manager-"+suffix, token, nil)
	wantStatus(t, res, http.StatusConflict)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "only manager") {
		t.Errorf("removing the manager of two nodes: %v", body)
	}

	for _, avail := range []string{"drain", "active", "drain"} {
		res, body = a.apiJSON(http.MethodPatch, path, token, map[string]any{"availability": avail, "version": worker["version"]})
		wantStatus(t, res, http.StatusOK)
		n := inspectNode(t, mgr, workerID)
		if n.Spec.Availability != avail || body["availability"] != avail {
			t.Fatalf("after PATCH availability=%s: docker says %s, the answer %v", avail, n.Spec.Availability, body["availability"])
		}
		worker = body
	}
	// The version the drain was made against is stale now.
	res, _ = a.apiJSON(http.MethodPatch, path, token, map[string]any{"availability": "active", "version": 1})
	wantStatus(t, res, http.StatusConflict)

	res, _ = a.apiJSON(http.MethodDelete, path, token, nil)
	wantStatus(t, res, http.StatusNoContent)
	if _, err := dockerCLIErr(mgr, "node", "inspect", workerID); err == nil {
		t.Error("docker node inspect still finds the removed worker")
	}
	res, list := a.apiJSON(http.MethodGet, "/api/v1/nodes", token, nil)
	wantStatus(t, res, http.StatusOK)
	if list["total"] != 1.0 {
		t.Errorf("after removal the API lists %v nodes", list["total"])
	}
	if page := br.get("/nodes"); strings.Contains(page.Body, "dkn-worker-"+suffix) {
		t.Error("the Nodes page still shows the removed worker")
	}
}

// mnWaitNode polls GET /api/v1/nodes/{id} until ok holds (30 s at most).
func mnWaitNode(t *testing.T, a *testApp, token, id string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, n := a.apiJSON(http.MethodGet, "/api/v1/nodes/"+id, token, nil)
		if res.Code == http.StatusOK && ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not get there within 30 s: %d %s", id, res.Code, testkit.Truncate(res.Body))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestNodes_EngineOutsideASwarm: where the control plane's engine is no
// swarm manager the page says so instead of failing, and the API answers
// 502 with Docker's reason. The engine is one of the test's own.
func TestNodes_EngineOutsideASwarm(t *testing.T) {
	mnRequire(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ns := mnNamespace(t, "dkn"+hex.EncodeToString(b)+"s")
	t.Setenv("DOCKER_HOST", mnEngine(t, ns, "dkn-lone"))
	a := newTestApp(t)
	br, token := parityClients(a)

	page := br.get("/nodes")
	wantStatus(t, page, http.StatusOK)
	if text := uiText(t, page); page.doc(t).Find("#nodes-error").Length() != 1 || !strings.Contains(text, "needs the control plane's engine to be a Swarm manager") {
		t.Errorf("the page outside a swarm: %s", text)
	}
	if page.doc(t).Find("#node-join-panel").Length() != 0 {
		t.Error("the page offers a join command without a swarm")
	}
	res, body := a.apiJSON(http.MethodGet, "/api/v1/nodes", token, nil)
	wantStatus(t, res, http.StatusBadGateway)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "swarm") {
		t.Errorf("API outside a swarm: %v", body)
	}
	res, _ = a.apiJSON(http.MethodGet, "/api/v1/nodes/join", token, nil)
	wantStatus(t, res, http.StatusBadGateway)
}
