// Package dbtest gives integration tests a fresh PostgreSQL database and the
// addresses of the real services. Tests run against real PostgreSQL, Redis
// and Docker when DOKPLOY_INTEGRATION=1 (what `make test` sets); otherwise
// they are skipped, and with it set a missing service fails the test.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver

	"dokploy/db"
)

// DefaultDatabaseURL is the server `make test` provisions, with the role's
// random password from the data directory (db.LocalDatabaseURL).
func DefaultDatabaseURL() string {
	dir := os.Getenv("DOKPLOY_DATA_DIR")
	if dir == "" {
		dir = "/var/lib/dokploy"
	}
	return db.LocalDatabaseURL(dir, "dokploy")
}

// DefaultRedisURL is the Redis `make test` provisions.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Integration skips the test unless DOKPLOY_INTEGRATION=1.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("DOKPLOY_INTEGRATION") != "1" {
		t.Skip("integration test: set DOKPLOY_INTEGRATION=1 (make test does)")
	}
}

// RedisURL returns the Redis to test against.
func RedisURL() string {
	if v := os.Getenv("DOKPLOY_TEST_REDIS_URL"); v != "" {
		return v
	}
	return DefaultRedisURL
}

// RandomSuffix returns a short random hex string for unique names.
func RandomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// DatabaseURL returns the PostgreSQL server to test against.
func DatabaseURL() string {
	if v := os.Getenv("DOKPLOY_TEST_DATABASE_URL"); v != "" {
		return v
	}
	return DefaultDatabaseURL()
}

// Services gates fast tests that need PostgreSQL and Redis but not Docker:
// with DOKPLOY_INTEGRATION=1 they always run (a missing service fails
// them); otherwise they run when both servers accept connections and are
// skipped when either does not.
func Services(t testing.TB) {
	t.Helper()
	if os.Getenv("DOKPLOY_INTEGRATION") == "1" {
		return
	}
	for name, raw := range map[string]string{"PostgreSQL": DatabaseURL(), "Redis": RedisURL()} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Skipf("%s URL %q: %v", name, raw, err)
		}
		conn, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			t.Skipf("%s not reachable at %s (set DOKPLOY_INTEGRATION=1 to make this a failure): %v", name, u.Host, err)
		}
		conn.Close()
	}
}

// NewDatabaseURL creates an empty database for one test and drops it after.
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	Integration(t)
	return newDatabaseURL(t)
}

func newDatabaseURL(t testing.TB) string {
	t.Helper()
	base := DatabaseURL()
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "dokploy_test_" + RandomSuffix()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database (is PostgreSQL running? run make test): %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// NewStore returns a migrated store on a fresh database; the test runs only
// with DOKPLOY_INTEGRATION=1.
func NewStore(t testing.TB) *db.Store {
	t.Helper()
	Integration(t)
	return newStore(t)
}

// NewServicesStore is NewStore for tests gated by Services: they run
// whenever PostgreSQL and Redis answer, without DOKPLOY_INTEGRATION.
func NewServicesStore(t testing.TB) *db.Store {
	t.Helper()
	Services(t)
	return newStore(t)
}

func newStore(t testing.TB) *db.Store {
	t.Helper()
	dsn := newDatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	cipher, err := db.NewCipher([]byte("test-secret-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return db.NewStore(conn, cipher)
}

// MustExec runs SQL in tests.
func MustExec(t testing.TB, s *db.Store, query string, args ...any) {
	t.Helper()
	if _, err := s.DB().Exec(query, args...); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", query, err))
	}
}

// MustGet reads one row of SQL into dst in tests.
func MustGet(t testing.TB, s *db.Store, dst any, query string, args ...any) {
	t.Helper()
	if err := s.DB().Get(dst, query, args...); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", query, err))
	}
}

// RedisNamespace returns a fresh Redis key prefix for one test, so its
// jobs never reach a running server's workers, and deletes the test's keys
// when it ends.
func RedisNamespace(t testing.TB, pool *redis.Pool) string {
	ns := "dokploy-test-" + RandomSuffix()
	t.Cleanup(func() {
		conn := pool.Get()
		defer conn.Close()
		keys, err := redis.Strings(conn.Do("KEYS", ns+":*"))
		if err != nil {
			return
		}
		for _, k := range keys {
			_, _ = conn.Do("DEL", k)
		}
	})
	return ns
}
