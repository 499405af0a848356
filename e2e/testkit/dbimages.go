package testkit

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dbImageTags are the local stand-ins for the official one-click database
// images that scripts/build-db-images.sh builds (no registry is reachable
// here). Each keeps its official image's contract: environment variables,
// data path, port, first-start initialisation. The tags are never the
// official names, so a real server's images are never shadowed.
var dbImageTags = map[string]string{
	"postgres": "dokploy-test/postgres:17", // Debian's PostgreSQL 15
	"mysql":    "dokploy-test/mysql:8",     // Debian's MariaDB 10.11, MYSQL_* variables
	"mariadb":  "dokploy-test/mariadb:11",  // the same image, MARIADB_* variables
	"redis":    "dokploy-test/redis:7",     // Debian's Redis 7.0
	"mongo":    "dokploy-test/mongo:8",     // FerretDB on SQLite
}

// dbImageBuildTimeout bounds one run of the script: a cold build
// (debootstrap, FerretDB from source) takes a few minutes, a warm one seconds.
const dbImageBuildTimeout = 20 * time.Minute

type dbImageBuild struct {
	once sync.Once
	out  []byte
	err  error
}

var (
	dbImageMu     sync.Mutex
	dbImageBuilds = map[string]*dbImageBuild{}
)

// DBImage returns the local image tag standing in for the official image of
// engine ("postgres", "mysql", "mariadb", "redis" or "mongo"), building it
// with scripts/build-db-images.sh once per test process (the script caches,
// so a later process only checks). It skips like RequireDocker without
// DOKPLOY_INTEGRATION=1; under it any failure, the mongo stand-in's too,
// fails the test.
func DBImage(t testing.TB, engine string) string {
	t.Helper()
	tag, ok := dbImageTags[engine]
	if !ok {
		t.Fatalf("DBImage: unknown engine %q (want postgres, mysql, mariadb, redis or mongo)", engine)
	}
	RequireDocker(t)
	root := RepoRoot(t)

	dbImageMu.Lock()
	b := dbImageBuilds[engine]
	if b == nil {
		b = &dbImageBuild{}
		dbImageBuilds[engine] = b
	}
	dbImageMu.Unlock()
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbImageBuildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "build-db-images.sh"), engine)
		cmd.Dir = root
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		// An integration run (RequireDocker passed) needs every stand-in,
		// mongo included: a missing one fails rather than skips.
		t.Fatalf("scripts/build-db-images.sh %s: %v\n%s", engine, b.err, tailLines(string(b.out), 40))
	}
	return tag
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
