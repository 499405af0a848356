package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/handlers"
	"dokploy/jobs"
	"dokploy/jobs/docker"
	"dokploy/views"
)

// cliEnv points the binary's configuration at a fresh test database and a
// private data dir, like an operator's environment would.
func cliEnv(t *testing.T) string {
	t.Helper()
	dsn := dbtest.NewDatabaseURL(t)
	t.Setenv("DOKPLOY_DATABASE_URL", dsn)
	t.Setenv("DOKPLOY_REDIS_URL", dbtest.RedisURL())
	t.Setenv("DOKPLOY_DATA_DIR", t.TempDir())
	t.Setenv("DOKPLOY_SECRET_KEY", "")
	t.Setenv("DOKPLOY_SECRET_KEY_FILE", "")
	t.Setenv("DOKPLOY_ADDR", "127.0.0.1:0")
	t.Setenv("DOKPLOY_PUBLIC_URL", "http://localhost:3000")
	t.Setenv("DOKPLOY_TRAEFIK", "off") // these tests never route traffic
	return dsn
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(stdin string, args ...string) cliResult {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return cliResult{code, out.String(), errOut.String()}
}

func openTestStore(t *testing.T, dsn string) *db.Store {
	t.Helper()
	conn, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cipher, err := db.NewCipher([]byte("unused-in-these-tests-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return db.NewStore(conn, cipher)
}

func TestAdminCreate_PasswordFromStdin(t *testing.T) {
	dbtest.Integration(t)
	dsn := cliEnv(t)

	r := runCLI("a-long-admin-password\n", "admin", "create", "--email", "ops@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "created admin ops@example.com") {
		t.Fatalf("admin create: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "a-long-admin-password") {
		t.Error("the password was echoed")
	}
	store := openTestStore(t, dsn)
	u, err := store.UserByEmail(context.Background(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !db.CheckPassword(u.PasswordHash, "a-long-admin-password") {
		t.Fatal("stored hash does not match the password from stdin")
	}

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"short password", "short\n", []string{"admin", "create", "--email", "b@example.com"}, "at least 10 characters"},
		{"bad email", "a-long-admin-password\n", []string{"admin", "create", "--email", "not-an-email"}, "valid email"},
		{"duplicate", "a-long-admin-password\n", []string{"admin", "create", "--email", "ops@example.com"}, "already exists"},
		{"no subcommand", "", []string{"admin"}, "usage"},
	} {
		r := runCLI(tc.stdin, tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want exit 1 with %q, got %d: %s", tc.name, tc.want, r.code, r.stderr)
		}
	}
	if n, _ := store.CountUsers(context.Background()); n != 1 {
		t.Fatalf("refused commands created users: %d", n)
	}
}

func TestAdminResetPassword_EndsSessions(t *testing.T) {
	dbtest.Integration(t)
	dsn := cliEnv(t)
	if r := runCLI("first-password-123\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatalf("admin create: %s", r.stderr)
	}
	store := openTestStore(t, dsn)
	ctx := context.Background()
	u, err := store.UserByEmail(ctx, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	session, err := store.CreateSession(ctx, u.ID, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SessionUser(ctx, session); err != nil {
		t.Fatal(err)
	}

	r := runCLI("second-password-456\n", "admin", "reset-password", "--email", "OPS@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "sessions ended") {
		t.Fatalf("reset-password: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := store.SessionUser(ctx, session); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("session survived a password reset: %v", err)
	}
	u, _ = store.UserByEmail(ctx, "ops@example.com")
	if !db.CheckPassword(u.PasswordHash, "second-password-456") || db.CheckPassword(u.PasswordHash, "first-password-123") {
		t.Fatal("password not replaced")
	}
	if r := runCLI("second-password-456\n", "admin", "reset-password", "--email", "nobody@example.com"); r.code != 1 || !strings.Contains(r.stderr, "no user") {
		t.Errorf("reset of unknown user: %d %s", r.code, r.stderr)
	}
	// Both changes are in the audit log, made at the console.
	evs, err := store.AuditEvents(ctx, db.AuditFilter{Action: "user"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Action != "user.password.reset" || evs[1].Action != "user.create" || evs[0].ActorType != db.ActorCLI ||
		evs[0].ResourceID == nil || *evs[0].ResourceID != u.ID {
		t.Errorf("audit events of the CLI: %+v", evs)
	}
}

func TestTokenCreate_PrintsTokenThatAuthenticates(t *testing.T) {
	dbtest.Integration(t)
	dsn := cliEnv(t)
	if r := runCLI("a-long-admin-password\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatalf("admin create: %s", r.stderr)
	}
	r := runCLI("", "token", "create", "--email", "ops@example.com", "--name", "ci")
	if r.code != 0 {
		t.Fatalf("token create: exit %d: %s", r.code, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(token, db.APITokenPrefix) || strings.ContainsAny(token, " \n") {
		t.Fatalf("stdout should be just the token, got %q", r.stdout)
	}
	if r := runCLI("", "token", "create", "--email", "nobody@example.com", "--name", "ci"); r.code != 1 {
		t.Errorf("token for unknown user: exit %d", r.code)
	}
	if r := runCLI("", "token", "create", "--email", "ops@example.com"); r.code != 1 || !strings.Contains(r.stderr, "--name") {
		t.Errorf("token without name: %d %s", r.code, r.stderr)
	}

	srv := httptest.NewServer(newTestHandler(t, openTestStore(t, dsn)).Router())
	t.Cleanup(srv.Close)
	get := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/projects", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(token); code != http.StatusOK {
		t.Fatalf("printed token: want 200, got %d", code)
	}
	if code := get(token + "x"); code != http.StatusUnauthorized {
		t.Fatalf("altered token: want 401, got %d", code)
	}
}

func newTestHandler(t *testing.T, store *db.Store) *handlers.Handler {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := jobs.OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	dk, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dk.Close() })
	runner := jobs.NewRunner(jobs.Options{Store: store, Redis: pool, Docker: dk, Namespace: "dokploy-test-" + dbtest.RandomSuffix()})
	renderer, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	return handlers.New(handlers.Options{PublicURL: "http://localhost:3000", Version: "test"}, store, renderer, runner)
}

func TestServe_UnreachablePostgresNamesAddress(t *testing.T) {
	dbtest.Integration(t)
	cliEnv(t)
	t.Setenv("DOKPLOY_DATABASE_URL", "postgres://dokploy:pg-secret-pw@127.0.0.1:1/dokploy?sslmode=disable")
	r := runCLI("", "serve")
	if r.code != 1 {
		t.Fatalf("serve with no PostgreSQL: exit %d", r.code)
	}
	for _, want := range []string{"PostgreSQL", "127.0.0.1:1", "check", "DOKPLOY_DATABASE_URL"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not mention %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "pg-secret-pw") {
		t.Errorf("error leaks the database password:\n%s", r.stderr)
	}
}

func TestServe_UnreachableRedisNamesAddress(t *testing.T) {
	dbtest.Integration(t)
	cliEnv(t)
	t.Setenv("DOKPLOY_REDIS_URL", "redis://:redis-secret-pw@127.0.0.1:1/0")
	r := runCLI("", "serve")
	if r.code != 1 {
		t.Fatalf("serve with no Redis: exit %d", r.code)
	}
	for _, want := range []string{"Redis", "127.0.0.1:1", "check", "DOKPLOY_REDIS_URL"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not mention %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "redis-secret-pw") {
		t.Errorf("error leaks the Redis password:\n%s", r.stderr)
	}
}

func TestServe_InvalidConfigListsEveryProblem(t *testing.T) {
	t.Setenv("DOKPLOY_ADDR", "nope")
	t.Setenv("DOKPLOY_ENDPOINT_MODE", "bogus")
	t.Setenv("DOKPLOY_DATA_DIR", "relative")
	r := runCLI("", "serve")
	if r.code != 1 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"invalid configuration", "DOKPLOY_ADDR", "DOKPLOY_ENDPOINT_MODE", "DOKPLOY_DATA_DIR"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, r.stderr)
		}
	}
}

func TestVolumeTar_RoundTripThroughTheSubcommands(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	var tarball, stderr bytes.Buffer
	if code := run([]string{"volume-tar", src}, nil, &tarball, &stderr); code != 0 {
		t.Fatalf("volume-tar exited %d: %s", code, stderr.String())
	}
	if code := run([]string{"volume-untar", dst}, &tarball, io.Discard, &stderr); code != 0 {
		t.Fatalf("volume-untar exited %d: %s", code, stderr.String())
	}
	if got, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(got) != "data" {
		t.Fatalf("f = %q, %v", got, err)
	}
	if code := run([]string{"volume-untar"}, nil, io.Discard, &stderr); code != 2 {
		t.Fatalf("volume-untar without DIR exited %d, want 2", code)
	}
}

// A locked-out owner's two-factor sign-in is turned off at the console:
// the secret and recovery codes go, the password stays.
func TestAdminDisable2FA_TurnsTwoFactorOff(t *testing.T) {
	dbtest.Integration(t)
	dsn := cliEnv(t)
	if r := runCLI("first-password-123\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatalf("admin create: %s", r.stderr)
	}
	store := openTestStore(t, dsn)
	ctx := context.Background()
	u, err := store.UserByEmail(ctx, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.BeginTOTP(ctx, u.ID, "JBSWY3DPEHPK3PXP"); err != nil {
		t.Fatal(err)
	}
	if err := store.EnableTOTP(ctx, u.ID, 1, []string{"abcde-fghjk"}); err != nil {
		t.Fatal(err)
	}
	r := runCLI("", "admin", "disable-2fa", "--email", "OPS@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "two-factor sign-in turned off") {
		t.Fatalf("disable-2fa: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	u, _ = store.UserByEmail(ctx, "ops@example.com")
	if u.TwoFactorOn() || len(u.TOTPSecretEnc) != 0 {
		t.Fatalf("two-factor still on after disable-2fa (enabled_at %v, secret %d bytes)", u.TOTPEnabledAt, len(u.TOTPSecretEnc))
	}
	if n, _ := store.RecoveryCodesLeft(ctx, u.ID); n != 0 {
		t.Errorf("%d recovery codes left after disable-2fa", n)
	}
	if !db.CheckPassword(u.PasswordHash, "first-password-123") {
		t.Error("disable-2fa changed the password")
	}
	if r := runCLI("", "admin", "disable-2fa", "--email", "nobody@example.com"); r.code != 1 || !strings.Contains(r.stderr, "no user") {
		t.Errorf("disable-2fa of unknown user: %d %s", r.code, r.stderr)
	}
}
