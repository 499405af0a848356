package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
)

// testDocker returns a client for the integration tests. They run only with
// DOKPLOY_INTEGRATION=1, and then an unreachable engine is a failure.
func testDocker(t *testing.T) *docker.Docker {
	t.Helper()
	testkit.RequireIntegration(t)
	d, err := docker.New(docker.Options{EndpointMode: docker.EndpointModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if active, err := d.Ping(ctx); err != nil || !active {
		t.Fatalf("Docker engine in swarm mode required: active=%v err=%v", active, err)
	}
	return d
}

func buildTestApp(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "app"), "./testdata/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test app: %v\n%s", err, out)
	}
}

// testName returns a unique lowercase name and removes images named after
// it when the test ends.
func testName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "dokploy-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		d, err := docker.New(docker.Options{})
		if err != nil {
			return
		}
		defer d.Close()
		_ = d.RemoveImages(context.Background(), name)
	})
	return name
}
