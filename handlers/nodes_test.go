package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// The Nodes tests run on the machine's single-node swarm, which other test
// packages use at the same time: they never drain, pause or remove the
// local node (the refusals they check are refused before Docker is asked,
// and carry a stale version so that Docker would refuse too), and every
// label they add has a key of their own, removed when the test ends.

// dockerCLI runs the docker CLI (against host when not empty) and returns
// its output: the engine's own word on what the code under test did, and
// the command a user would type. Only jobs/docker imports the SDK.
func dockerCLI(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := dockerCLIErr(host, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func dockerCLIErr(host string, args ...string) (string, error) {
	if host != "" {
		args = append([]string{"--host", host}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// inspectedNode is what the tests read of docker node inspect.
type inspectedNode struct {
	ID      string
	Version struct{ Index uint64 }
	Spec    struct {
		Labels       map[string]string
		Role         string
		Availability string
	}
	Description struct {
		Hostname string
		Engine   struct{ EngineVersion string }
	}
	ManagerStatus *struct{ Leader bool }
}

// inspectNode is docker node inspect of id (self: the engine's own node).
func inspectNode(t *testing.T, host, id string) inspectedNode {
	t.Helper()
	var n inspectedNode
	if err := json.Unmarshal([]byte(dockerCLI(t, host, "node", "inspect", "--format", "{{json .}}", id)), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func localNode(t *testing.T) inspectedNode { return inspectNode(t, "", "self") }

// nodeLabelKey is a label key of this test alone, removed from the local
// node at the end (docker node update retries on a version race).
func nodeLabelKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	key := "test.handlers." + hex.EncodeToString(b)
	t.Cleanup(func() {
		for try := 0; try < 5; try++ {
			if _, ok := localNode(t).Spec.Labels[key]; !ok {
				return
			}
			_, _ = dockerCLIErr("", "node", "update", "--label-rm", key, "self")
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("cleanup: label %s stays on the local node", key)
	})
	return key
}

func TestNodes_ListTheLocalManagerInPageAndAPI(t *testing.T) {
	a := newTestApp(t)
	b, token := parityClients(a)
	self := localNode(t)

	res := b.get("/nodes")
	wantStatus(t, res, http.StatusOK)
	card := res.doc(t).Find("#node-" + self.ID)
	if card.Length() != 1 {
		t.Fatalf("no card for the local node %s in the page", self.ID)
	}
	text := strings.Join(strings.Fields(card.Text()), " ")
	for _, want := range []string{self.Description.Hostname, self.Description.Engine.EngineVersion, "manager · leader", "ready", "active", "this control plane"} {
		if !strings.Contains(text, want) {
			t.Errorf("the local node's card lacks %q: %s", want, text)
		}
	}
	if res.doc(t).Find(`header nav a[href="/nodes"].active`).Length() != 1 {
		t.Error("the navigation has no active Nodes entry")
	}

	res, body := a.apiJSON(http.MethodGet, "/api/v1/nodes", token, nil)
	wantStatus(t, res, http.StatusOK)
	items, _ := body["items"].([]any)
	var got map[string]any
	for _, it := range items {
		if m, _ := it.(map[string]any); m["id"] == self.ID {
			got = m
		}
	}
	if got == nil {
		t.Fatalf("GET /api/v1/nodes lacks the local node %s: %s", self.ID, res.Body)
	}
	if got["role"] != "manager" || got["leader"] != (self.ManagerStatus != nil && self.ManagerStatus.Leader) || got["engine_version"] != self.Description.Engine.EngineVersion ||
		got["self"] != true || got["state"] != "ready" || got["cpus"].(float64) <= 0 || got["memory_bytes"].(float64) <= 0 {
		t.Errorf("local node in the API: %v", got)
	}
	res, one := a.apiJSON(http.MethodGet, "/api/v1/nodes/"+self.ID, token, nil)
	wantStatus(t, res, http.StatusOK)
	if one["hostname"] != self.Description.Hostname {
		t.Errorf("GET /nodes/{id}: hostname %v, want %s", one["hostname"], self.Description.Hostname)
	}
	res, _ = a.apiJSON(http.MethodGet, "/api/v1/nodes/no-such-node", token, nil)
	wantStatus(t, res, http.StatusNotFound)
}

func TestNodes_LabelsThroughUIAndAPI(t *testing.T) {
	a := newTestApp(t)
	b, token := parityClients(a)
	key := nodeLabelKey(t)
	self := localNode(t)
	path := "/nodes/" + self.ID

	res := b.postHTMX(path+"/labels", url.Values{"key": {key}, "value": {"from-ui"}})
	wantStatus(t, res, http.StatusOK)
	if strings.Contains(res.Body, "<html") || !strings.Contains(uiText(t, res), key+"=from-ui") {
		t.Fatalf("the card after adding a label: %s", uiText(t, res))
	}
	if v := localNode(t).Spec.Labels[key]; v != "from-ui" {
		t.Fatalf("docker node inspect: %s=%q after the UI set it", key, v)
	}
	wantStatus(t, b.postHTMX(path+"/labels/remove", url.Values{"key": {key}}), http.StatusOK)
	if _, ok := localNode(t).Spec.Labels[key]; ok {
		t.Fatal("docker node inspect still shows the label the UI removed")
	}

	res, body := a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"labels": map[string]string{key: "from-api"}})
	wantStatus(t, res, http.StatusOK)
	if labels, _ := body["labels"].(map[string]any); labels[key] != "from-api" {
		t.Errorf("PATCH answer labels: %v", body["labels"])
	}
	if v := localNode(t).Spec.Labels[key]; v != "from-api" {
		t.Fatalf("docker node inspect: %s=%q after the API set it", key, v)
	}
	if got := localNode(t).Spec.Availability; got != self.Spec.Availability {
		t.Errorf("a label change moved availability from %s to %s", self.Spec.Availability, got)
	}
	res, _ = a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"remove_labels": []string{key}})
	wantStatus(t, res, http.StatusOK)
	if _, ok := localNode(t).Spec.Labels[key]; ok {
		t.Fatal("docker node inspect still shows the label the API removed")
	}
}

func TestNodes_BadInputIsRefusedAndChangesNothing(t *testing.T) {
	a := newTestApp(t)
	b, token := parityClients(a)
	key := nodeLabelKey(t)
	self := localNode(t)
	cases := []struct {
		name, key, value, want string
	}{
		{"empty key", "", "x", "a label key is required"},
		{"uppercase and space", "Bad Key", "x", "use lowercase letters, digits, dots and dashes"},
		{"control character", key + "\x01", "x", "contains control characters"},
		{"too long key", key + strings.Repeat("a", 130), "x", "longer than 128 characters"},
		{"reserved", "com.docker.thing", "x", "reserved for Docker"},
		{"double dot", "a..b", "x", "no two dots or dashes in a row"},
		{"empty value", key, "", "needs a value"},
		{"too long value", key, strings.Repeat("v", 300), "longer than 256 characters"},
		{"control in value", key, "a\nb", "contains control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"labels": map[string]string{tc.key: tc.value}})
			wantStatus(t, res, http.StatusUnprocessableEntity)
			if msg, _ := body["error"].(string); !strings.Contains(msg, tc.want) || body["field"] != "labels" {
				t.Errorf("API: error %q field %v, want %q on labels", msg, body["field"], tc.want)
			}
			ui := b.postHTMX("/nodes/"+self.ID+"/labels", url.Values{"key": {tc.key}, "value": {tc.value}})
			wantStatus(t, ui, http.StatusUnprocessableEntity)
			if !strings.Contains(uiText(t, ui), tc.want) {
				t.Errorf("UI does not say %q: %s", tc.want, uiText(t, ui))
			}
			if ui.doc(t).Find("#node-"+self.ID).Length() != 1 {
				t.Error("the UI's refusal is not the node's card")
			}
		})
	}
	res, body := a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"availability": "sideways"})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if body["field"] != "availability" {
		t.Errorf("bad availability: %v", body)
	}
	res, body = a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"remove_labels": []string{key}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "has no label") {
		t.Errorf("removing a missing label: %v", body)
	}
	if after := localNode(t); !reflect.DeepEqual(after.Spec, self.Spec) {
		t.Errorf("refused input changed the node: %+v, was %+v", after.Spec, self.Spec)
	}

	// A stale version (the page was open while someone changed the node)
	// is refused by name, whatever the change.
	ui := b.postHTMX("/nodes/"+self.ID+"/labels", url.Values{"key": {key}, "value": {"x"}, "version": {"1"}})
	wantStatus(t, ui, http.StatusConflict)
	if !strings.Contains(uiText(t, ui), "changed meanwhile") {
		t.Errorf("stale version in the UI: %s", uiText(t, ui))
	}
	res, body = a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"labels": map[string]string{key: "x"}, "version": 1})
	wantStatus(t, res, http.StatusConflict)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "changed meanwhile") {
		t.Errorf("stale version in the API: %v", body)
	}
	if _, ok := localNode(t).Spec.Labels[key]; ok {
		t.Error("a stale update set the label")
	}
}

func TestNodes_RefusesToRemoveTheLastManagerOrDrainTheOnlyNode(t *testing.T) {
	a := newTestApp(t)
	b, token := parityClients(a)
	self := localNode(t)
	if nodes := strings.Fields(dockerCLI(t, "", "node", "ls", "--quiet")); len(nodes) != 1 {
		t.Skipf("the swarm has %d nodes; these refusals are of a single-node swarm", len(nodes))
	}
	res, body := a.apiJSON(http.MethodDelete, "/api/v1/nodes/"+self.ID, token, nil)
	wantStatus(t, res, http.StatusConflict)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "only manager") || !strings.Contains(msg, "Add another manager first") {
		t.Errorf("API refusal: %v", body)
	}
	ui := b.postHTMX("/nodes/"+self.ID+"/remove", nil)
	wantStatus(t, ui, http.StatusConflict)
	if !strings.Contains(uiText(t, ui), "only manager") {
		t.Errorf("UI refusal: %s", uiText(t, ui))
	}
	// version 1 is long stale: were the guard missing, Docker would refuse
	// the drain too, so the shared node is never drained by this test.
	res, body = a.apiJSON(http.MethodPatch, "/api/v1/nodes/"+self.ID, token, map[string]any{"availability": "drain", "version": 1})
	wantStatus(t, res, http.StatusConflict)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "only active node") {
		t.Errorf("draining the only node: %v", body)
	}
	if after := localNode(t); after.Spec.Availability != "active" || after.Spec.Role != "manager" {
		t.Errorf("the local node is now %s/%s", after.Spec.Role, after.Spec.Availability)
	}
}

func TestNodes_JoinCommandOnlyWhenAsked(t *testing.T) {
	a := newTestApp(t)
	b, token := parityClients(a)
	worker := dockerCLI(t, "", "swarm", "join-token", "--quiet", "worker")
	manager := dockerCLI(t, "", "swarm", "join-token", "--quiet", "manager")
	if !strings.HasPrefix(worker, "SWMTKN-") {
		t.Fatalf("docker swarm join-token printed %q", worker)
	}

	page := b.get("/nodes")
	wantStatus(t, page, http.StatusOK)
	if strings.Contains(page.Body, worker) || strings.Contains(page.Body, manager) {
		t.Fatal("the Nodes page shows a join token before it was asked for")
	}
	if !strings.Contains(uiText(t, page), "Show the worker join command") || !strings.Contains(uiText(t, page), "Show the manager join command") {
		t.Error("the page offers no join command")
	}

	res, body := a.apiJSON(http.MethodGet, "/api/v1/nodes/join", token, nil)
	wantStatus(t, res, http.StatusOK)
	addr, _ := body["address"].(string)
	if !strings.HasSuffix(addr, ":2377") {
		t.Errorf("join address %q", addr)
	}
	if body["worker_command"] != "docker swarm join --token "+worker+" "+addr || body["manager_command"] != "docker swarm join --token "+manager+" "+addr {
		t.Errorf("join commands: %v / %v", body["worker_command"], body["manager_command"])
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("join answer Cache-Control %q, want no-store", cc)
	}

	ui := b.postHTMX("/nodes/join", url.Values{"role": {"worker"}})
	wantStatus(t, ui, http.StatusOK)
	if got := ui.doc(t).Find("#node-join-command").Text(); got != "docker swarm join --token "+worker+" "+addr || strings.Contains(ui.Body, manager) {
		t.Errorf("worker command in the UI: %q", got)
	}
	ui = b.postHTMX("/nodes/join", url.Values{"role": {"manager"}})
	if got := ui.doc(t).Find("#node-join-command").Text(); got != "docker swarm join --token "+manager+" "+addr {
		t.Errorf("manager command in the UI: %q", got)
	}
	// Outside the API, only a signed-in browser may ask.
	res, _ = a.apiJSON(http.MethodGet, "/api/v1/nodes/join", "", nil)
	wantStatus(t, res, http.StatusUnauthorized)
}

func TestNodes_TasksLinkToTheirService(t *testing.T) {
	a := newTestApp(t)
	b, token := parityClients(a)
	self := localNode(t)
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	name := "nodes-test-" + hex.EncodeToString(buf)
	app := a.createImageApp(a.createProject("nodes"), name)
	// The Traefik image is the one image every test machine has; with no
	// configuration it just runs, which is all a task needs here.
	t.Cleanup(func() { _, _ = dockerCLIErr("", "service", "rm", name) })
	dockerCLI(t, "", "service", "create", "--quiet", "--detach", "--name", name, "--label", "dokploy.app="+name,
		"--constraint", "node.id=="+self.ID, "--stop-grace-period", "1s", "dokploy-traefik:v3.6.12")

	deadline := time.Now().Add(60 * time.Second)
	for {
		res, body := a.apiJSON(http.MethodGet, "/api/v1/nodes/"+self.ID, token, nil)
		wantStatus(t, res, http.StatusOK)
		tasks, _ := body["tasks"].([]any)
		var task map[string]any
		for _, it := range tasks {
			if m, _ := it.(map[string]any); m["service"] == name {
				task = m
			}
		}
		if task != nil && task["state"] == "running" {
			if task["service_kind"] != "app" || task["service_id"] != float64(app.ID) || task["replica"] != 1.0 {
				t.Errorf("the task in the API: %v", task)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running task of %s on the local node within 60 s: %v", name, task)
		}
		time.Sleep(500 * time.Millisecond)
	}
	link := b.get("/nodes").doc(t).Find("#node-" + self.ID + " .node-task-list a")
	found := false
	link.Each(func(_ int, s *goquery.Selection) {
		if href, _ := s.Attr("href"); href == "/apps/"+strconv.FormatInt(app.ID, 10) && s.Text() == name+".1" {
			found = true
		}
	})
	if !found {
		t.Errorf("the node's tasks do not link %s.1 to its app page", name)
	}
}
