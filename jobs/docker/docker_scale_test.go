package docker

import (
	"context"
	"testing"
	"time"
)

// A stop that ScaleServiceWait reports done is one Swarm agrees with: no
// container runs and no task still reports running, so the status read
// right after it says stopped, not stopping (the agent reports a
// container's exit a moment after it happens).
func TestScaleServiceWait_StoppedMeansSwarmAgrees(t *testing.T) {
	d := testDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := testName(t)
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nENV PORT=8080\nCMD [\"/app\"]\n"), Tags: []string{name + ":1"}}, nil); err != nil {
		t.Fatalf("build: %v", err)
	}
	cleanupService(t, d, name)
	if err := d.DeployService(ctx, ServiceSpec{Name: name, Image: name + ":1", Replicas: 1, StopGracePeriod: time.Second, MonitorPeriod: time.Second}, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	for round := 1; round <= 3; round++ {
		if err := d.ScaleServiceWait(ctx, name, 0, nil); err != nil {
			t.Fatalf("round %d: stop: %v", round, err)
		}
		st, err := d.ServiceInfo(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Running != 0 || st.Exiting != 0 {
			t.Fatalf("round %d: right after the stop returned: %d running, %d exiting, want none", round, st.Running, st.Exiting)
		}
		if err := d.ScaleServiceWait(ctx, name, 1, nil); err != nil {
			t.Fatalf("round %d: start: %v", round, err)
		}
		if st, err := d.ServiceInfo(ctx, name); err != nil || st.Running != 1 {
			t.Fatalf("round %d: after start %d running (%v), want 1", round, st.Running, err)
		}
	}
}
