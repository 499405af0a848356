package docker

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests share the single-node swarm with every other test package:
// they never drain, pause or remove the local node, and each label they
// add has a key unique to the run, removed when the test ends.

// testLabelKey is a label key no other run uses, removed from the local
// node when the test ends (even when it failed half-way).
func testLabelKey(t *testing.T, d *Docker) string {
	t.Helper()
	key := "test.dokploy." + strings.TrimPrefix(testName(t), "dokploy-test-")
	t.Cleanup(func() { removeTestLabel(t, d, key) })
	return key
}

// removeTestLabel removes key from the local node, retrying on a version
// race with another package's test.
func removeTestLabel(t *testing.T, d *Docker, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	self, err := d.LocalNodeID(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for try := 0; try < 5; try++ {
		n, _, err := d.cli.NodeInspectWithRaw(ctx, self)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if _, ok := n.Spec.Labels[key]; !ok {
			return
		}
		delete(n.Spec.Labels, key)
		if err = d.cli.NodeUpdate(ctx, self, n.Version, n.Spec); err == nil {
			return
		}
	}
	t.Errorf("cleanup: label %s stays on the local node", key)
}

func TestDockerNodes_ListsLocalManager(t *testing.T) {
	d := testDocker(t)
	ctx := context.Background()
	nodes, err := d.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	self, err := d.LocalNodeID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := d.cli.NodeInspectWithRaw(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	var got *Node
	for i := range nodes {
		if nodes[i].ID == self {
			got = &nodes[i]
		}
	}
	if got == nil {
		t.Fatalf("local node %s not in %+v", self, nodes)
	}
	if !got.Self || !got.IsManager() || got.Role != "manager" {
		t.Errorf("local node: self=%v role=%q, want self manager", got.Self, got.Role)
	}
	if got.Leader != raw.ManagerStatus.Leader {
		t.Errorf("leader = %v, engine says %v", got.Leader, raw.ManagerStatus.Leader)
	}
	if got.EngineVersion == "" || got.EngineVersion != raw.Description.Engine.EngineVersion {
		t.Errorf("engine version %q, engine says %q", got.EngineVersion, raw.Description.Engine.EngineVersion)
	}
	if got.CPUs <= 0 || got.MemoryBytes <= 0 || got.Hostname == "" || got.State != "ready" || got.Version == 0 {
		t.Errorf("local node facts look wrong: %+v", got)
	}
	one, err := d.Node(ctx, got.Hostname)
	if err != nil || one.ID != self {
		t.Errorf("Node(%s) = %s, %v; want %s", got.Hostname, one.ID, err, self)
	}
	if _, err := d.Node(ctx, "no-such-node-"+strconv.Itoa(int(time.Now().UnixNano()%1e6))); !errors.Is(err, ErrNodeNotFound) {
		t.Errorf("unknown node: err = %v, want ErrNodeNotFound", err)
	}
}

func TestDockerUpdateNode_LabelsAndStaleVersion(t *testing.T) {
	d := testDocker(t)
	ctx := context.Background()
	key := testLabelKey(t, d)
	self, err := d.LocalNodeID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := d.Node(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.UpdateNode(ctx, self, before.Version, NodeChange{SetLabels: map[string]string{key: "one"}}); err != nil {
		t.Fatal(err)
	}
	raw, _, err := d.cli.NodeInspectWithRaw(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Spec.Labels[key] != "one" {
		t.Fatalf("docker node inspect: label %s = %q, want one", key, raw.Spec.Labels[key])
	}
	if string(raw.Spec.Availability) != before.Availability {
		t.Errorf("availability changed from %s to %s by a label update", before.Availability, raw.Spec.Availability)
	}
	// The version read before the first update is stale now: refused,
	// and the label keeps its value.
	err = d.UpdateNode(ctx, self, before.Version, NodeChange{SetLabels: map[string]string{key: "two"}})
	if !errors.Is(err, ErrNodeChanged) {
		t.Fatalf("stale version: err = %v, want ErrNodeChanged", err)
	}
	if raw, _, _ = d.cli.NodeInspectWithRaw(ctx, self); raw.Spec.Labels[key] != "one" {
		t.Errorf("a stale update changed the label to %q", raw.Spec.Labels[key])
	}
	if err := d.UpdateNode(ctx, self, 0, NodeChange{RemoveLabels: []string{key}}); err != nil {
		t.Fatal(err)
	}
	if raw, _, _ = d.cli.NodeInspectWithRaw(ctx, self); raw.Spec.Labels[key] != "" {
		t.Errorf("label %s still set after removal", key)
	}
}

func TestDockerNodeJoinInfo_IsTheSwarmsTokens(t *testing.T) {
	d := testDocker(t)
	ctx := context.Background()
	j, err := d.JoinInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := d.cli.SwarmInspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if j.WorkerToken != sw.JoinTokens.Worker || j.ManagerToken != sw.JoinTokens.Manager || j.WorkerToken == "" {
		t.Errorf("tokens differ from the swarm's")
	}
	if !strings.HasSuffix(j.Addr, ":2377") {
		t.Errorf("join address %q, want <addr>:2377", j.Addr)
	}
	cmd := strings.Join(j.Command(false), " ")
	if cmd != "docker swarm join --token "+sw.JoinTokens.Worker+" "+j.Addr {
		t.Errorf("worker command is not the join command")
	}
}

func TestDockerNodes_ListTheTasksOfPlatformServices(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := testName(t)
	cleanupService(t, d, name)
	df := "FROM scratch\nCOPY app /app\nENV PORT=8080\nCMD [\"/app\"]\n"
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, df), Tags: []string{name + ":v1"}}, nil); err != nil {
		t.Fatal(err)
	}
	spec := ServiceSpec{Name: name, Image: name + ":v1", Replicas: 1, MemoryBytes: 64 << 20, StopGracePeriod: time.Second}
	if err := d.DeployService(ctx, spec, nil); err != nil {
		t.Fatal(err)
	}
	self, err := d.LocalNodeID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Node(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, task := range n.Tasks {
		if task.Service == name {
			found = task.Slot == 1 && task.State == "running"
		}
	}
	if !found {
		t.Errorf("the local node's tasks lack %s.1 running: %+v", name, n.Tasks)
	}
}
