package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"

	_ "github.com/lib/pq" // PostgreSQL driver
)

// imgRandHex returns n random bytes as hex.
func imgRandHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// imgDocker runs the docker CLI with an argument list (no shell) and returns
// its combined output.
func imgDocker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// imgDockerSocket is the engine's unix socket on the host, for bind-mounting.
func imgDockerSocket() string {
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		return strings.TrimPrefix(h, "unix://")
	}
	return "/var/run/docker.sock"
}

// imgNewDatabase creates an empty database dokploy_img_<random> on the test
// PostgreSQL server, drops it when the test ends, and returns its URL.
func imgNewDatabase(t *testing.T) string {
	t.Helper()
	base := dbtest.DatabaseURL()
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL is not reachable (run scripts/provision.sh): %v", err)
	}
	name := "dokploy_img_" + imgRandHex(t, 6) // [a-f0-9]: safe as an identifier
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The container is removed before this runs (cleanups run last-first),
		// but end any straggling session so the drop cannot fail on it.
		_, _ = admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	u.Path = "/" + name
	return u.String()
}

// imgRedisURL is the test Redis: DOKPLOY_TEST_REDIS_URL, default the local one.
func imgRedisURL() string {
	if v := os.Getenv("DOKPLOY_TEST_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// imgMB formats a byte count in (decimal) megabytes.
func imgMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
