package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// keyStore is a store of dsn whose key ring is the key file at path,
// followed like a running server follows it.
func keyStore(t *testing.T, dsn, path string) *db.Store {
	t.Helper()
	conn, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := db.OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return db.NewStore(conn, c)
}

func readKeys(t *testing.T, path string) []string {
	t.Helper()
	keys, err := db.ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		out = append(out, string(k))
	}
	return out
}

// rotationFixture is a panel set up through the CLI with secrets stored:
// an app with a git token and env values, and a destination's secret key.
type rotationFixture struct {
	dsn, keyPath  string
	appID, destID int64
}

func newRotationFixture(t *testing.T, envVars int) rotationFixture {
	t.Helper()
	dsn := cliEnv(t)
	if r := runCLI("a-long-admin-password\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatalf("admin create: %s", r.stderr)
	}
	f := rotationFixture{dsn: dsn, keyPath: filepath.Join(os.Getenv("DOKPLOY_DATA_DIR"), "secret.key")}
	store := keyStore(t, dsn, f.keyPath)
	ctx := context.Background()
	p, err := store.CreateProject(ctx, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	app := &db.App{EnvironmentID: p.Environments[0].ID, Name: "web", AppName: "web", SourceType: db.SourceGit,
		GitURL: "https://git.example.com/web.git", GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 8080, Replicas: 1}
	if err := store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	token := "ghp_app-git-token"
	if err := store.SetAppSecrets(ctx, app.ID, db.SecretUpdate{GitToken: &token}); err != nil {
		t.Fatal(err)
	}
	vars := []db.Variable{{Key: "DATABASE_URL", Value: "postgres://u:env-secret@db/shop"}}
	for i := 1; i < envVars; i++ {
		vars = append(vars, db.Variable{Key: fmt.Sprintf("V%03d", i), Value: fmt.Sprintf("value-%03d", i)})
	}
	if err := store.SetAppVariables(ctx, app.ID, db.VarEnv, vars); err != nil {
		t.Fatal(err)
	}
	dest := &db.Destination{Name: "offsite", Endpoint: "http://127.0.0.1:9000", Bucket: "b", AccessKey: "ak", PathStyle: true}
	if err := store.CreateDestination(ctx, dest, "destination-secret-key"); err != nil {
		t.Fatal(err)
	}
	f.appID, f.destID = app.ID, dest.ID
	return f
}

// check reads the fixture's secrets through s, as pages and deploys do.
func (f rotationFixture) check(t *testing.T, s *db.Store, who string) {
	t.Helper()
	ctx := context.Background()
	a, err := s.App(ctx, f.appID)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := s.AppSecrets(a)
	if err != nil || sec.GitToken != "ghp_app-git-token" {
		t.Errorf("%s: app git token %q %v", who, sec.GitToken, err)
	}
	vars, err := s.AppVariables(ctx, f.appID, db.VarEnv)
	if err != nil || len(vars) == 0 || vars[0].Value != "postgres://u:env-secret@db/shop" {
		t.Errorf("%s: env values: %v", who, err)
	}
	d, err := s.Destination(ctx, f.destID)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.DestinationSecret(d); err != nil || v != "destination-secret-key" {
		t.Errorf("%s: destination secret key %q %v", who, v, err)
	}
}

// sealedUnder returns the key ids of the stored values, with counts.
func sealedUnder(t *testing.T, s *db.Store) map[string]int {
	t.Helper()
	m, err := s.SealedValuesByKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSecretKeyRotate_ServersKeepWorking(t *testing.T) {
	dbtest.Integration(t)
	f := newRotationFixture(t, 3)
	server := keyStore(t, f.dsn, f.keyPath) // a server running since before the rotation
	first := readKeys(t, f.keyPath)
	if len(first) != 1 {
		t.Fatalf("generated key file: %d keys", len(first))
	}
	r := runCLI("", "secret-key", "id")
	oldID := strings.TrimSpace(r.stdout)
	if r.code != 0 || oldID != db.KeyID([]byte(first[0])) {
		t.Fatalf("secret-key id: %q (exit %d, %s)", r.stdout, r.code, r.stderr)
	}

	r = runCLI("", "secret-key", "rotate", "--wait", "1500ms", "--batch", "2")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("rotate:\n%s", r.stdout)
	keys := readKeys(t, f.keyPath)
	newID := db.KeyID([]byte(keys[0]))
	if len(keys) != 2 || keys[1] != first[0] || newID == oldID {
		t.Fatalf("key file after rotation: %d keys, old key second: %v", len(keys), len(keys) == 2 && keys[1] == first[0])
	}
	if st, _ := os.Stat(f.keyPath); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	for _, want := range []string{"New secret key " + newID, "applications", "service_variables", "destinations", "Done: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rotate output lacks %q", want)
		}
	}
	if strings.Contains(r.stdout+r.stderr, keys[0]) || strings.Contains(r.stdout+r.stderr, first[0]) {
		t.Fatal("rotate printed a key")
	}
	if got := strings.TrimSpace(runCLI("", "secret-key", "id").stdout); got != newID {
		t.Errorf("secret-key id after rotation: %s, want %s", got, newID)
	}
	if m := sealedUnder(t, server); len(m) != 1 || m[newID] == 0 {
		t.Fatalf("values by key after rotation: %v (want all under %s)", m, newID)
	}
	f.check(t, server, "server started before the rotation")
	// The server writes under the new key now.
	if err := server.SetAppVariables(context.Background(), f.appID, db.VarEnv, []db.Variable{{Key: "DATABASE_URL", Value: "postgres://u:env-secret@db/shop"}}); err != nil {
		t.Fatal(err)
	}
	if m := sealedUnder(t, server); len(m) != 1 || m[newID] == 0 {
		t.Fatalf("the server sealed under another key: %v", m)
	}

	// Again: the oldest key is dropped, the server still follows.
	r = runCLI("", "secret-key", "rotate", "--wait", "0")
	if r.code != 0 {
		t.Fatalf("second rotate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	third := readKeys(t, f.keyPath)
	if len(third) != 2 || third[1] != keys[0] || third[0] == keys[0] || !strings.Contains(r.stdout, "Dropped 1 older key") {
		t.Fatalf("key file after the second rotation: %d keys\n%s", len(third), r.stdout)
	}
	f.check(t, server, "server after two rotations")
	store, conn, err := openStore(context.Background(), loadConfig()) // what the next start does
	if err != nil {
		t.Fatalf("start after rotation: %v", err)
	}
	conn.Close()
	_ = store
}

func TestSecretKeyRotate_FinishesAfterACrash(t *testing.T) {
	dbtest.Integration(t)
	f := newRotationFixture(t, 250)
	old := readKeys(t, f.keyPath)
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	var out bytes.Buffer
	err := rotateSecretKey(ctx, loadConfig(), rotateOptions{batch: 100, afterBatch: func() {
		if batches++; batches == 2 {
			cancel() // the process dies after two batches
		}
	}}, &out)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "run dokploy secret-key rotate again") {
		t.Fatalf("interrupted rotation: %v", err)
	}
	keys := readKeys(t, f.keyPath)
	newID := db.KeyID([]byte(keys[0]))
	store := keyStore(t, f.dsn, f.keyPath)
	if m := sealedUnder(t, store); m[newID] == 0 || m[db.KeyID([]byte(old[0]))] == 0 {
		t.Fatalf("after two batches both keys hold values: %v", m)
	}
	if v, _ := store.Setting(context.Background(), db.SettingKeyRotation, ""); v != newID {
		t.Fatalf("rotation marker %q, want %s", v, newID)
	}
	f.check(t, store, "half-rotated database")

	r := runCLI("", "secret-key", "rotate", "--wait", "0")
	if r.code != 0 || !strings.Contains(r.stdout, "Finishing the interrupted rotation to key id "+newID) {
		t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := readKeys(t, f.keyPath); len(after) != 2 || after[0] != keys[0] || after[1] != old[0] {
		t.Fatal("the rerun installed another key instead of finishing")
	}
	if m := sealedUnder(t, store); len(m) != 1 || m[newID] == 0 {
		t.Fatalf("after the rerun: %v", m)
	}
	if v, _ := store.Setting(context.Background(), db.SettingKeyRotation, ""); v != "" {
		t.Fatalf("rotation marker left: %q", v)
	}
	f.check(t, store, "after the rerun")
}

func TestSecretKeyRotate_KeyInTheEnvironment(t *testing.T) {
	dbtest.Integration(t)
	dsn := cliEnv(t)
	envKey := "environment-secret-key-0123456789abcdef"
	t.Setenv("DOKPLOY_SECRET_KEY", envKey)
	if r := runCLI("a-long-admin-password\n", "admin", "create", "--email", "ops@example.com"); r.code != 0 {
		t.Fatalf("admin create: %s", r.stderr)
	}
	c, _ := db.NewCipher([]byte(envKey))
	conn, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	envStore := db.NewStore(conn, c)
	dest := &db.Destination{Name: "offsite", Endpoint: "http://127.0.0.1:9000", Bucket: "b", AccessKey: "ak", PathStyle: true}
	if err := envStore.CreateDestination(context.Background(), dest, "destination-secret-key"); err != nil {
		t.Fatal(err)
	}

	r := runCLI("", "secret-key", "rotate")
	if r.code != 1 || !strings.Contains(r.stderr, "DOKPLOY_SECRET_KEY is set in the environment") ||
		!strings.Contains(r.stderr, "move the key to a file") || !strings.Contains(r.stderr, "--new-key-file") {
		t.Fatalf("rotate with an environment key: exit %d\n%s", r.code, r.stderr)
	}
	ringFile := filepath.Join(t.TempDir(), "dokploy.keys")
	r = runCLI("", "secret-key", "rotate", "--new-key-file", ringFile)
	if r.code != 0 || !strings.Contains(r.stdout, "DOKPLOY_SECRET_KEY_FILE="+ringFile) {
		t.Fatalf("rotate --new-key-file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	keys := readKeys(t, ringFile)
	if len(keys) != 2 || keys[1] != envKey {
		t.Fatalf("new key ring: %d keys", len(keys))
	}
	if m := sealedUnder(t, envStore); m[c.KeyID()] == 0 {
		t.Fatalf("re-encrypted before the servers were moved to the new key file: %v", m)
	}
	// Restarted with the file: rotate again finishes the job.
	t.Setenv("DOKPLOY_SECRET_KEY", "")
	t.Setenv("DOKPLOY_SECRET_KEY_FILE", ringFile)
	r = runCLI("", "secret-key", "rotate", "--wait", "0")
	if r.code != 0 || !strings.Contains(r.stdout, "Finishing the interrupted rotation") {
		t.Fatalf("rotate with the new key file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	store := keyStore(t, dsn, ringFile)
	if m := sealedUnder(t, store); len(m) != 1 || m[db.KeyID([]byte(keys[0]))] == 0 {
		t.Fatalf("values by key: %v", m)
	}
	d, _ := store.Destination(context.Background(), dest.ID)
	if v, err := store.DestinationSecret(d); err != nil || v != "destination-secret-key" {
		t.Fatalf("destination secret: %q %v", v, err)
	}
}

// A start with another key than the one the database was sealed with
// fails at once, naming both key ids and what to do.
func TestServe_WrongSecretKeyFailsAtStart(t *testing.T) {
	dbtest.Integration(t)
	f := newRotationFixture(t, 1)
	rightID := db.KeyID([]byte(readKeys(t, f.keyPath)[0]))
	wrong := "not-the-key-that-sealed-this-database-000"
	t.Setenv("DOKPLOY_SECRET_KEY", wrong)
	done := make(chan cliResult, 1)
	go func() { done <- runCLI("", "serve") }()
	var r cliResult
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve with the wrong key did not stop")
	}
	want := "DOKPLOY_SECRET_KEY does not match the key that encrypted this database (key id " + db.KeyID([]byte(wrong)) +
		", database has values under key id " + rightID
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "restore the old key") {
		t.Fatalf("serve with the wrong key: exit %d\n%s\nwant %q", r.code, r.stderr, want)
	}
	t.Logf("serve with the wrong key:\n%s", r.stderr)
	if strings.Contains(r.stderr, wrong) {
		t.Fatal("the error shows the key")
	}
	// The same from a key file.
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOKPLOY_SECRET_KEY", "")
	t.Setenv("DOKPLOY_SECRET_KEY_FILE", other)
	r = runCLI("", "token", "create", "--email", "ops@example.com", "--name", "ci")
	if r.code != 1 || !strings.Contains(r.stderr, "DOKPLOY_SECRET_KEY_FILE ("+other+") does not match") {
		t.Fatalf("token create with the wrong key file: exit %d\n%s", r.code, r.stderr)
	}
	// The right key still starts.
	t.Setenv("DOKPLOY_SECRET_KEY_FILE", "")
	if r := runCLI("", "token", "create", "--email", "ops@example.com", "--name", "ci"); r.code != 0 {
		t.Fatalf("token create with the right key: %s", r.stderr)
	}
}

// A backup taken mid-rotation carries the whole key ring, and the restored
// panel opens every value, whichever key sealed it.
func TestSecretKeyRotate_BackupMidRotationRestores(t *testing.T) {
	dbtest.Integration(t)
	fresh := dbtest.NewDatabaseURL(t) // the new machine's, made before DOKPLOY_DATA_DIR points elsewhere
	f := newRotationFixture(t, 250)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	err := rotateSecretKey(ctx, loadConfig(), rotateOptions{batch: 100, afterBatch: cancel}, &out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rotation: %v", err)
	}
	ring, err := os.ReadFile(f.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if m := sealedUnder(t, keyStore(t, f.dsn, f.keyPath)); len(m) < 2 {
		t.Fatalf("the database should hold values under both keys: %v", m)
	}
	archive := filepath.Join(t.TempDir(), "cp.tar.gz")
	t.Setenv("DOKPLOY_BACKUP_PASSPHRASE", "a long passphrase for the test")
	if r := runCLI("", "backup", "--to", archive); r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}

	freshDir := t.TempDir()
	t.Setenv("DOKPLOY_DATABASE_URL", fresh)
	t.Setenv("DOKPLOY_DATA_DIR", freshDir)
	t.Setenv("DOKPLOY_RESTORE_PASSPHRASE", "a long passphrase for the test")
	if r := runCLI("", "restore", "--from", archive); r.code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	restored, err := os.ReadFile(filepath.Join(freshDir, "secret.key"))
	if err != nil || string(restored) != string(ring) {
		t.Fatalf("restored key file differs from the ring (%v)", err)
	}
	store, conn, err := openStore(context.Background(), loadConfig())
	if err != nil {
		t.Fatalf("start after restore: %v", err)
	}
	defer conn.Close()
	f.check(t, store, "restored panel")
	vars, err := store.AppVariables(context.Background(), f.appID, db.VarEnv)
	if err != nil || len(vars) != 250 {
		t.Fatalf("restored env values: %d %v", len(vars), err)
	}
	// And the restored panel finishes the rotation.
	if r := runCLI("", "secret-key", "rotate", "--wait", "0"); r.code != 0 || !strings.Contains(r.stdout, "Finishing") {
		t.Fatalf("rotate on the restored panel: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
