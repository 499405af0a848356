package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"dokploy/e2e/testkit"

	"github.com/docker/docker/api/types/swarm"
)

// A service's placement reaches Swarm: a constraint the local node meets
// and a cap of one task per node are in the created spec and the task runs.
func TestDockerPlacement_SatisfiedConstraintAndMaxReplicas(t *testing.T) {
	d := testDocker(t)
	// Not parallel: a concurrent image prune of this package's other tests
	// can remove the build's layers mid-build ("unable to find image").
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := testName(t)
	cleanupService(t, d, name)
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nCMD [\"/app\"]\n"), Tags: []string{name + ":v1"}}, nil); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogRecorder{}
	spec := ServiceSpec{Name: name, Image: name + ":v1", Replicas: 1, MonitorPeriod: time.Second,
		StopGracePeriod: time.Second, Constraints: []string{"node.role==manager"}, MaxPerNode: 1}
	if err := d.DeployService(ctx, spec, logs.Log); err != nil {
		t.Fatalf("deploy: %v\n%s", err, logs.All())
	}
	svc, _, err := d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := svc.Spec.TaskTemplate.Placement
	if p == nil || len(p.Constraints) != 1 || p.Constraints[0] != "node.role==manager" || p.MaxReplicas != 1 {
		t.Fatalf("placement = %+v, want [node.role==manager] and MaxReplicas 1", p)
	}
}

// A constraint no node meets leaves the task pending: the deploy does not
// converge and says why, bounded by its context.
func TestDockerPlacement_UnsatisfiableConstraintStaysPending(t *testing.T) {
	d := testDocker(t)
	// Not parallel: a concurrent image prune of this package's other tests
	// can remove the build's layers mid-build ("unable to find image").
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := testName(t)
	cleanupService(t, d, name)
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nCMD [\"/app\"]\n"), Tags: []string{name + ":v1"}}, nil); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogRecorder{}
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	start := time.Now()
	err := d.DeployService(dctx, ServiceSpec{Name: name, Image: name + ":v1", Replicas: 1, StopGracePeriod: time.Second,
		Constraints: []string{"node.labels.dokploy-test-nowhere==1"}}, logs.Log)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("deploy returned after %s, its context ended at 15s", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "0/1 tasks running") ||
		!strings.Contains(err.Error(), "pending") || !strings.Contains(err.Error(), "no suitable node") {
		t.Fatalf("err = %v, want a deadline naming the pending task and no suitable node\n%s", err, logs.All())
	}
	if !logs.Contains("no suitable node") {
		t.Errorf("the pending reason was not logged while waiting:\n%s", logs.All())
	}
	t.Logf("unsatisfiable placement: %v", err)
}

// A stack service's placement from its compose file survives the labels
// and defaults the stack deploy adds.
func TestStackServiceSpec_KeepsPlacement(t *testing.T) {
	in := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "demo_web"}, TaskTemplate: swarm.TaskSpec{
		ContainerSpec: &swarm.ContainerSpec{Image: "nginx:1.27"},
		Placement:     &swarm.Placement{Constraints: []string{"node.labels.region==eu"}, MaxReplicas: 2}}}
	out, err := stackServiceSpec("demo", nil, in, EndpointModeVIP)
	if err != nil {
		t.Fatal(err)
	}
	if p := out.TaskTemplate.Placement; p == nil || len(p.Constraints) != 1 || p.Constraints[0] != "node.labels.region==eu" || p.MaxReplicas != 2 {
		t.Fatalf("placement = %+v", p)
	}
}

// The app spec sets Placement only when there is something to place.
func TestSwarmServiceSpec_Placement(t *testing.T) {
	if p := swarmServiceSpec(ServiceSpec{Name: "a", Image: "x"}, nil, false).TaskTemplate.Placement; p != nil {
		t.Errorf("no constraints: placement = %+v, want nil", p)
	}
	p := swarmServiceSpec(ServiceSpec{Name: "a", Image: "x", MaxPerNode: 3}, nil, false).TaskTemplate.Placement
	if p == nil || p.MaxReplicas != 3 || len(p.Constraints) != 0 {
		t.Errorf("max only: placement = %+v", p)
	}
}
