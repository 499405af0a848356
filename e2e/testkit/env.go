package testkit

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// integrationEnv is the variable that turns integration tests on (make
// test sets it). Without it they skip; with it a missing dependency fails.
const integrationEnv = "DOKPLOY_INTEGRATION"

// integration reports whether integration tests are on.
func integration() bool { return os.Getenv(integrationEnv) == "1" }

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RepoRoot returns the directory whose go.mod declares module dokploy,
// searching upwards from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(data)), "module dokploy\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod declaring module dokploy above the working directory")
		}
		dir = parent
	}
}

// RequireDocker skips the test unless DOKPLOY_INTEGRATION=1; with it set,
// a missing docker CLI or an unreachable engine fails the test.
func RequireDocker(t testing.TB) {
	t.Helper()
	if !integration() {
		t.Skip("integration test: set DOKPLOY_INTEGRATION=1 (make test does)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("DOKPLOY_INTEGRATION=1 but the docker CLI is missing: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("DOKPLOY_INTEGRATION=1 but the Docker engine is unreachable: %v\n%s", err, out)
	}
}

// RequireSwarm is RequireDocker that also fails unless the engine is an
// active swarm node.
func RequireSwarm(t testing.TB) {
	t.Helper()
	if !integration() {
		t.Skip("integration test: set DOKPLOY_INTEGRATION=1 (make test does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "active" {
		t.Fatalf("DOKPLOY_INTEGRATION=1 needs Docker in swarm mode (run scripts/provision.sh): %v %s", err, out)
	}
}

// RequireIntegration skips the test unless DOKPLOY_INTEGRATION=1, for
// integration tests that check their dependency themselves.
func RequireIntegration(t testing.TB) {
	t.Helper()
	if !integration() {
		t.Skip("integration test: set DOKPLOY_INTEGRATION=1 (make test does)")
	}
}

// RequireBinary returns the path of the program name. A missing program
// skips the test, or fails it under DOKPLOY_INTEGRATION=1.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if integration() {
			t.Fatalf("%s binary needed (DOKPLOY_INTEGRATION=1): %v", name, err)
		}
		t.Skipf("%s binary not installed", name)
	}
	return p
}
