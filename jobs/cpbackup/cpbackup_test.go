package cpbackup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/cpbackup"
)

const testSecretKey = "cp-backup-test-secret-key-0123456789abcdef"

// typesTable has a column of each kind the restore must round-trip.
const typesTable = `CREATE TABLE cp_types (
	id BIGSERIAL PRIMARY KEY, b BYTEA, arr TEXT[], j JSONB, ts TIMESTAMPTZ, tsl TIMESTAMP, n NUMERIC, f DOUBLE PRECISION,
	iv INTERVAL, t TEXT)`

func newDatabase(t *testing.T, migrate bool) (*sqlx.DB, *db.Store) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Open(ctx, dbtest.NewDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if migrate {
		if err := db.Migrate(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	cipher, err := db.NewCipher([]byte(testSecretKey))
	if err != nil {
		t.Fatal(err)
	}
	return conn, db.NewStore(conn, cipher)
}

// seeded is a migrated database with projects, a destination (a sealed
// bytea secret) and rows of every column type, and a data directory.
func seeded(t *testing.T) (*sqlx.DB, *db.Store, string) {
	t.Helper()
	ctx := context.Background()
	conn, store := newDatabase(t, true)
	for _, name := range []string{"shop", "blog"} {
		if _, err := store.CreateProject(ctx, name, "the "+name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.CreateUser(ctx, "admin@example.com", "$argon2id$v=19$m=19456,t=2,p=1$x$y", db.RoleOwner); err != nil {
		t.Fatal(err)
	}
	// The built-in disk rule, seeded by a migration, as the user changed
	// it: the restore must bring this one back, not the target's default.
	mustExec(t, conn, `UPDATE alert_rules SET threshold = 80, enabled = false WHERE builtin`)
	d := &db.Destination{Name: "offsite", Endpoint: "http://127.0.0.1:9", Bucket: "b", AccessKey: "ak", PathStyle: true}
	if err := store.CreateDestination(ctx, d, "s3-secret-value"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, typesTable)
	mustExec(t, conn, `INSERT INTO cp_types (b, arr, j, ts, tsl, n, f, iv, t) VALUES
		('\x00ff10'::bytea, ARRAY['a', NULL, 'q"uote', 'comma,'], '{"k": [1, 2.5, null, {"x": "é"}]}', '2026-01-02 03:04:05.123456+02', '2026-01-02 03:04:05.5',
			12345678901234567890.123456789, 0.1, '1 day 02:03:04', E'line\nbreak \\ backslash ✓'),
		(NULL, '{}', 'null', NULL, NULL, NULL, 'NaN', NULL, '')`)
	// A gap: the sequence is past the largest id.
	mustExec(t, conn, `INSERT INTO cp_types (t) VALUES ('gone')`)
	mustExec(t, conn, `DELETE FROM cp_types WHERE t = 'gone'`)

	dir := t.TempDir()
	writeFile(t, dir, "secret.key", testSecretKey+"\n", 0o600)
	writeFile(t, dir, "traefik/dynamic/shop.yml", "http: {}\n", 0o644)
	writeFile(t, dir, "traefik/acme.json", `{"le": {}}`, 0o600)
	writeFile(t, dir, "probe/dokploy", "binary", 0o755)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "traefik", "link")); err != nil {
		t.Fatal(err)
	}
	return conn, store, dir
}

func mustExec(t *testing.T, conn *sqlx.DB, q string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func writeFile(t *testing.T, dir, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func backup(t *testing.T, conn *sqlx.DB, dir, passphrase string) ([]byte, cpbackup.Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := cpbackup.Write(context.Background(), &buf, cpbackup.Source{DB: conn, DataDir: dir, SecretKey: testSecretKey, Passphrase: passphrase, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// emptyTarget is a fresh database migrated and given the test's extra
// table, as the restore expects it (empty).
func emptyTarget(t *testing.T) (*sqlx.DB, *db.Store) {
	t.Helper()
	conn, store := newDatabase(t, true)
	mustExec(t, conn, typesTable)
	return conn, store
}

// dump is every table's rows as sorted JSON text.
func dump(t *testing.T, conn *sqlx.DB) map[string][]string {
	t.Helper()
	var tables []string
	if err := conn.Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tbl := range tables {
		var rows []string
		if err := conn.Select(&rows, `SELECT row_to_json(r.*)::text FROM `+tbl+` AS r`); err != nil {
			t.Fatal(err)
		}
		slices.Sort(rows)
		out[tbl] = rows
	}
	return out
}

func TestWriteRestore_RoundTrip(t *testing.T) {
	ctx := context.Background()
	src, _, srcDir := seeded(t)
	archive, m := backup(t, src, srcDir, "correct horse battery staple")
	if !m.SecretKeyIncluded || m.Files != 2 || m.Rows() == 0 {
		t.Fatalf("manifest: key %v, files %d, rows %d, skipped %v", m.SecretKeyIncluded, m.Files, m.Rows(), m.Skipped)
	}
	t.Logf("archive %d bytes: %d tables, %d rows, %d files (skipped %v)", len(archive), len(m.Tables), m.Rows(), m.Files, m.Skipped)

	dst, dstStore := emptyTarget(t)
	dstDir := t.TempDir()
	start := time.Now()
	res, err := cpbackup.Restore(ctx, bytes.NewReader(archive), cpbackup.Target{DB: dst, DataDir: dstDir, Passphrase: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restored in %s: %d tables, %d rows, %d files", time.Since(start).Round(time.Millisecond), res.Tables, res.Rows, res.Files)
	if res.SecretKey != testSecretKey {
		t.Fatalf("secret key %q", res.SecretKey)
	}
	want, got := dump(t, src), dump(t, dst)
	for tbl, rows := range want {
		if !slices.Equal(rows, got[tbl]) {
			t.Errorf("table %s differs:\nsource   %v\nrestored %v", tbl, rows, got[tbl])
		}
	}
	// Sequences continue after the largest id (and after the deleted one).
	var id int64
	if err := dst.Get(&id, `INSERT INTO cp_types (t) VALUES ('new') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if id != 4 {
		t.Errorf("next cp_types id %d, want 4", id)
	}
	p, err := dstStore.CreateProject(ctx, "third", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 3 {
		t.Errorf("next project id %d, want 3", p.ID)
	}
	// Sealed secrets open with the restored key.
	dests, err := dstStore.Destinations(ctx)
	if err != nil || len(dests) != 1 {
		t.Fatalf("destinations %v %v", dests, err)
	}
	if s, err := dstStore.DestinationSecret(&dests[0]); err != nil || s != "s3-secret-value" {
		t.Errorf("destination secret %q %v", s, err)
	}
	// Foreign keys are immediate again, as migrated.
	var deferrable int
	if err := dst.Get(&deferrable, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND condeferrable`); err != nil || deferrable != 0 {
		t.Errorf("%d foreign keys left deferrable (%v)", deferrable, err)
	}
	// Data files: config and certificates with their modes; not the key,
	// the probe binary or the symlink.
	for rel, mode := range map[string]os.FileMode{"traefik/dynamic/shop.yml": 0o644, "traefik/acme.json": 0o600} {
		info, err := os.Stat(filepath.Join(dstDir, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		} else if info.Mode().Perm() != mode {
			t.Errorf("%s mode %o, want %o", rel, info.Mode().Perm(), mode)
		}
	}
	for _, rel := range []string{"secret.key", "probe/dokploy", "traefik/link"} {
		if _, err := os.Lstat(filepath.Join(dstDir, rel)); !os.IsNotExist(err) {
			t.Errorf("%s was restored (%v)", rel, err)
		}
	}
	entries, _ := os.ReadDir(dstDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".restore-") {
			t.Errorf("staging directory %s left behind", e.Name())
		}
	}
}

func TestWrite_NoPassphraseLeavesKeyOut(t *testing.T) {
	src, _, dir := seeded(t)
	archive, m := backup(t, src, dir, "")
	if m.SecretKeyIncluded || bytes.Contains(archive, []byte(testSecretKey)) {
		t.Fatal("the secret key is in an archive made without a passphrase")
	}
	names := entryNames(t, archive)
	if slices.Contains(names, "secret-key.enc") || slices.Contains(names, "data/secret.key") {
		t.Fatalf("entries %v", names)
	}
	if names[0] != "manifest.json" || !slices.Contains(names, "db/projects.jsonl") {
		t.Fatalf("entries %v", names)
	}
	dst, _ := emptyTarget(t)
	res, err := cpbackup.Restore(context.Background(), bytes.NewReader(archive), cpbackup.Target{DB: dst, DataDir: t.TempDir()})
	if err != nil || res.SecretKey != "" {
		t.Fatalf("restore: %v, key %q", err, res.SecretKey)
	}
}

func entryNames(t *testing.T, archive []byte) []string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	return names
}

func tableCount(t *testing.T, conn *sqlx.DB) int {
	t.Helper()
	var n int
	if err := conn.Get(&n, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRestore_WrongPassphraseWritesNothing(t *testing.T) {
	src, _, dir := seeded(t)
	archive, _ := backup(t, src, dir, "right passphrase")
	dst, _ := newDatabase(t, false)
	dstDir := filepath.Join(t.TempDir(), "data")
	for _, pass := range []string{"wrong passphrase", ""} {
		_, err := cpbackup.Restore(context.Background(), bytes.NewReader(archive), cpbackup.Target{DB: dst, DataDir: dstDir, Passphrase: pass})
		if !errors.Is(err, cpbackup.ErrWrongPassphrase) && !errors.Is(err, cpbackup.ErrPassphraseRequired) {
			t.Fatalf("passphrase %q: %v", pass, err)
		}
	}
	if n := tableCount(t, dst); n != 0 {
		t.Errorf("the database has %d tables after a refused restore", n)
	}
	if _, err := os.Stat(dstDir); !os.IsNotExist(err) {
		t.Errorf("the data directory was created: %v", err)
	}
}

func TestRestore_RefusesNonEmptyDatabase(t *testing.T) {
	src, _, dir := seeded(t)
	archive, _ := backup(t, src, dir, "")
	before := dump(t, src)
	_, err := cpbackup.Restore(context.Background(), bytes.NewReader(archive), cpbackup.Target{DB: src, DataDir: t.TempDir()})
	if !errors.Is(err, cpbackup.ErrNotEmpty) {
		t.Fatalf("restore into a used database: %v", err)
	}
	t.Log(err)
	if after := dump(t, src); len(after["projects"]) != len(before["projects"]) {
		t.Error("the used database changed")
	}
}

// craft builds an archive with a valid manifest and the given entries.
func craft(t *testing.T, migration int64, entries map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	m, _ := json.Marshal(cpbackup.Manifest{Format: cpbackup.FormatVersion, Product: "dokploy", Version: "v9", MigrationVersion: migration})
	add := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	add("manifest.json", string(m))
	for name, body := range entries {
		add(name, body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestRestore_RefusesUnsafePaths(t *testing.T) {
	latest, err := db.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data/../evil", "data/traefik/../../evil", "/evil", "data//abs"} {
		t.Run(name, func(t *testing.T) {
			dst, _ := newDatabase(t, false)
			parent := t.TempDir()
			dataDir := filepath.Join(parent, "data")
			_, err := cpbackup.Restore(context.Background(), bytes.NewReader(craft(t, latest, map[string]string{name: "pwned"})),
				cpbackup.Target{DB: dst, DataDir: dataDir})
			if err == nil || !strings.Contains(err.Error(), "unsafe path") {
				t.Fatalf("restore of %q: %v", name, err)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); !os.IsNotExist(err) {
				t.Errorf("evil was written: %v", err)
			}
			var projects int
			if err := dst.Get(&projects, `SELECT count(*) FROM projects`); err != nil || projects != 0 {
				t.Errorf("projects %d %v", projects, err)
			}
		})
	}
}

func TestRestore_RefusesNewerSchema(t *testing.T) {
	latest, err := db.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := newDatabase(t, false)
	_, err = cpbackup.Restore(context.Background(), bytes.NewReader(craft(t, latest+1, nil)), cpbackup.Target{DB: dst})
	if err == nil || !strings.Contains(err.Error(), "newer dokploy") {
		t.Fatalf("restore of a newer backup: %v", err)
	}
	if n := tableCount(t, dst); n != 0 {
		t.Errorf("%d tables created", n)
	}
}

func TestWriteRestore_LargeTableInParts(t *testing.T) {
	defer cpbackup.SetPartBytes(64 << 10)()
	src, _, dir := seeded(t)
	mustExec(t, src, `INSERT INTO cp_types (t, b) SELECT repeat('x', 200) || g, decode(md5(g::text), 'hex') FROM generate_series(1, 5000) g`)
	archive, m := backup(t, src, dir, "")
	parts := 0
	for _, n := range entryNames(t, archive) {
		if strings.HasPrefix(n, "db/cp_types.") {
			parts++
		}
	}
	if parts < 5 {
		t.Fatalf("cp_types in %d parts", parts)
	}
	t.Logf("%d rows, cp_types in %d parts, archive %d bytes", m.Rows(), parts, len(archive))
	dst, _ := emptyTarget(t)
	if _, err := cpbackup.Restore(context.Background(), bytes.NewReader(archive), cpbackup.Target{DB: dst, DataDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if want, got := dump(t, src)["cp_types"], dump(t, dst)["cp_types"]; !slices.Equal(want, got) {
		t.Errorf("cp_types: %d rows restored, want %d", len(got), len(want))
	}
}

func TestRestore_TruncatedArchiveRestoresNothing(t *testing.T) {
	defer cpbackup.SetPartBytes(64 << 10)()
	src, _, dir := seeded(t)
	mustExec(t, src, `INSERT INTO cp_types (t) SELECT md5(g::text) FROM generate_series(1, 20000) g`)
	archive, _ := backup(t, src, dir, "")
	dst, _ := emptyTarget(t)
	dstDir := t.TempDir()
	before := dump(t, dst) // empty but for the defaults migrations seed
	_, err := cpbackup.Restore(context.Background(), bytes.NewReader(archive[:len(archive)*2/3]), cpbackup.Target{DB: dst, DataDir: dstDir})
	if err == nil {
		t.Fatal("a truncated archive restored")
	}
	t.Log(err)
	for tbl, rows := range dump(t, dst) {
		if !slices.Equal(rows, before[tbl]) {
			t.Errorf("table %s changed by a failed restore: %d rows, %d before", tbl, len(rows), len(before[tbl]))
		}
	}
	if entries, _ := os.ReadDir(dstDir); len(entries) != 0 {
		t.Errorf("data directory holds %d entries after a failed restore", len(entries))
	}
}
