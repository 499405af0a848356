package jobs

import (
	"context"
	"strings"
	"testing"

	"dokploy/db"
)

// An app's saved placement is what its next deploy hands to the engine.
func TestFakeRunner_DeployCarriesPlacement(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(1)
	a := r.newGitApp("placed")
	a.PlacementConstraints = []string{"node.labels.region==eu", "node.role==worker"}
	a.MaxReplicasPerNode = 1
	if err := r.store.UpdateApp(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	d := r.wait(r.deploy(a).ID)
	if d.Status != db.DeployDone {
		t.Fatalf("status %s %q\n%s", d.Status, d.Error, r.logs(d.ID))
	}
	r.engine.mu.Lock()
	spec := r.engine.services[a.AppName]
	r.engine.mu.Unlock()
	if strings.Join(spec.Constraints, "|") != "node.labels.region==eu|node.role==worker" || spec.MaxPerNode != 1 {
		t.Errorf("deployed constraints %q max per node %d", spec.Constraints, spec.MaxPerNode)
	}
}
