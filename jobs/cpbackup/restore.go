package cpbackup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"dokploy/db"
)

// restoreStagingPrefix names the directory data files are extracted into
// before they are moved in place, once the database is committed.
const restoreStagingPrefix = ".restore-"

// batchRows and batchBytes bound one INSERT of the restore.
const (
	batchRows  = 500
	batchBytes = 4 << 20
)

// ErrNotEmpty is returned when the target database already holds data.
var ErrNotEmpty = errors.New("the target database is not empty")

// Target is where Restore puts an archive.
type Target struct {
	DB      *sqlx.DB
	DataDir string
	// Passphrase opens the secret key when the archive carries it.
	Passphrase string
	// CheckKey, when set, is called before anything is written with the
	// archive's secret key ("" when it carries none) and its manifest; an
	// error stops the restore.
	CheckKey func(secretKey string, m Manifest) error
	// Artifact, when set, is recorded on the run that made the archive,
	// which the export caught as running.
	Artifact *Artifact
}

// Artifact is where the archive was stored.
type Artifact struct {
	ObjectKey string
	SizeBytes int64
	SHA256    string
}

// Result is what Restore brought back.
type Result struct {
	Manifest  Manifest
	SecretKey string // "" when the archive carries none
	Tables    int
	Rows      int64
	Files     int
}

// Restore loads an archive into an empty database and the data directory.
// In order: the manifest is checked (format, schema version this binary
// knows), the secret key decrypted (a wrong passphrase stops here, before
// anything is written), the database checked empty and migrated to the
// backup's schema version, every row inserted in one transaction with the
// foreign keys checked at its end, the sequences set, and the data files
// staged and moved in place once the transaction committed.
func Restore(ctx context.Context, r io.Reader, dst Target) (Result, error) {
	var res Result
	gz, err := gzip.NewReader(r)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrNotArchive, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	m, err := readManifest(tr)
	if err != nil {
		return res, err
	}
	res.Manifest = m
	latest, err := db.LatestMigration()
	if err != nil {
		return res, err
	}
	if m.MigrationVersion > latest {
		return res, fmt.Errorf("this backup was made by a newer dokploy (%s, schema version %d); this binary knows schema versions up to %d: restore with dokploy %s or newer",
			m.Version, m.MigrationVersion, latest, m.Version)
	}
	hdr, nextErr := tr.Next()
	if m.SecretKeyIncluded {
		if nextErr != nil || hdr.Name != secretKeyEntry {
			return res, fmt.Errorf("%w: the manifest says the secret key is included but %s is missing", ErrNotArchive, secretKeyEntry)
		}
		if dst.Passphrase == "" {
			return res, ErrPassphraseRequired
		}
		sealed, err := io.ReadAll(io.LimitReader(tr, 1<<16))
		if err != nil {
			return res, err
		}
		if res.SecretKey, err = openSecretKey(sealed, dst.Passphrase); err != nil {
			return res, err
		}
		hdr, nextErr = tr.Next()
	}
	if dst.CheckKey != nil {
		if err := dst.CheckKey(res.SecretKey, m); err != nil {
			return res, err
		}
	}
	if err := checkEmpty(ctx, dst.DB); err != nil {
		return res, err
	}
	if err := db.MigrateTo(ctx, dst.DB, m.MigrationVersion); err != nil {
		return res, err
	}
	staging, err := newStaging(dst.DataDir)
	if err != nil {
		return res, err
	}
	defer staging.cleanup()
	tx, err := dst.DB.BeginTxx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin restore: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	deferred, err := deferForeignKeys(ctx, tx)
	if err != nil {
		return res, err
	}
	// Migrations seed defaults (the built-in alert rule): the archive's
	// rows replace them. checkEmpty made sure nothing else is there.
	for _, t := range m.Tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+pq.QuoteIdentifier(t.Name)); err != nil {
			return res, fmt.Errorf("clear the defaults of %s: %w", t.Name, err)
		}
	}
	want := map[string]int64{}
	for _, t := range m.Tables {
		want[t.Name] = t.Rows
	}
	got := map[string]int64{}
	for ; nextErr == nil; hdr, nextErr = tr.Next() {
		if err := checkEntryName(hdr); err != nil {
			return res, err
		}
		switch {
		case strings.HasPrefix(hdr.Name, dataPrefix):
			if err := staging.add(strings.TrimPrefix(hdr.Name, dataPrefix), hdr, tr); err != nil {
				return res, err
			}
			res.Files++
		case strings.HasPrefix(hdr.Name, dbPrefix):
			table, ok := tableOfPart(hdr.Name)
			if _, known := want[table]; !ok || !known {
				return res, fmt.Errorf("%w: entry %s names no table of the manifest", ErrNotArchive, hdr.Name)
			}
			n, err := insertRows(ctx, tx, table, tr)
			if err != nil {
				return res, err
			}
			got[table] += n
		default:
			return res, fmt.Errorf("%w: unexpected entry %s", ErrNotArchive, hdr.Name)
		}
	}
	if !errors.Is(nextErr, io.EOF) {
		return res, fmt.Errorf("read the archive (is it complete?): %w", nextErr)
	}
	for _, t := range m.Tables {
		if got[t.Name] != t.Rows {
			return res, fmt.Errorf("the archive is incomplete: table %s has %d rows, the manifest says %d", t.Name, got[t.Name], t.Rows)
		}
		res.Rows += t.Rows
	}
	res.Tables = len(m.Tables)
	if err := restoreForeignKeys(ctx, tx, deferred); err != nil {
		return res, err
	}
	if err := restoreSequences(ctx, tx, m.Sequences); err != nil {
		return res, err
	}
	if dst.Artifact != nil && m.RunID != 0 {
		if err := completeOwnRun(ctx, tx, m.RunID, *dst.Artifact, m); err != nil {
			return res, err
		}
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit the restore: %w", err)
	}
	if err := staging.install(); err != nil {
		return res, fmt.Errorf("the database is restored but the data files could not be put in place: %w", err)
	}
	return res, nil
}

// seededRows says, per table, which rows are not the defaults migrations
// seed: a migrated database holding only those is still empty.
var seededRows = map[string]string{
	"alert_rules": "NOT builtin",
}

// checkEmpty refuses a database that holds any row but seeded defaults, or tables that are
// not dokploy's: a restore never merges into or overwrites data.
func checkEmpty(ctx context.Context, conn *sqlx.DB) error {
	var tables []string
	if err := conn.SelectContext(ctx, &tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`); err != nil {
		return fmt.Errorf("inspect the target database: %w", err)
	}
	if len(tables) == 0 {
		return nil
	}
	hasGoose := false
	for _, t := range tables {
		hasGoose = hasGoose || t == gooseTable
	}
	if !hasGoose {
		return fmt.Errorf("%w: it has tables (%s, …) that are not dokploy's: restore into a new, empty database", ErrNotEmpty, tables[0])
	}
	for _, t := range tables {
		if t == gooseTable {
			continue
		}
		where := ""
		if cond, ok := seededRows[t]; ok {
			where = " WHERE " + cond
		}
		var has bool
		if err := conn.GetContext(ctx, &has, `SELECT EXISTS (SELECT 1 FROM `+pq.QuoteIdentifier(t)+where+`)`); err != nil {
			return fmt.Errorf("inspect %s: %w", t, err)
		}
		if has {
			return fmt.Errorf("%w: table %s has rows. A restore never overwrites a panel: create a new, empty database and point DOKPLOY_DATABASE_URL at it", ErrNotEmpty, t)
		}
	}
	return nil
}

// checkEntryName refuses entries that could write outside the data
// directory or that are not regular files.
func checkEntryName(hdr *tar.Header) error {
	name := hdr.Name
	if hdr.Typeflag != tar.TypeReg {
		return fmt.Errorf("%w: entry %s is not a regular file", ErrNotArchive, name)
	}
	if strings.Contains(name, "\\") || path.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(name)) || path.Clean(name) != name {
		return fmt.Errorf("%w: entry %q has an unsafe path (absolute or with ..): refused", ErrNotArchive, name)
	}
	return nil
}

var partRe = regexp.MustCompile(`^db/([a-z_][a-z0-9_]*)(?:\.([0-9]+))?\.jsonl$`)

func tableOfPart(name string) (string, bool) {
	m := partRe.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	if m[2] != "" {
		if n, err := strconv.Atoi(m[2]); err != nil || n < 2 {
			return "", false
		}
	}
	return m[1], true
}

// insertRows inserts a part's JSON lines in batches through
// json_populate_recordset, which turns each JSON value back into its
// column's type (bytea from its hex text, arrays, jsonb, timestamps).
func insertRows(ctx context.Context, tx *sqlx.Tx, table string, r io.Reader) (int64, error) {
	q := `INSERT INTO ` + pq.QuoteIdentifier(table) + ` SELECT * FROM json_populate_recordset(NULL::` + pq.QuoteIdentifier(table) + `, $1::json)`
	br := bufio.NewReaderSize(r, 1<<16)
	var batch bytes.Buffer
	var n, inBatch int64
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		batch.WriteByte(']')
		if _, err := tx.ExecContext(ctx, q, batch.String()); err != nil {
			return fmt.Errorf("restore %s: %w", table, err)
		}
		batch.Reset()
		inBatch = 0
		return nil
	}
	for {
		line, err := br.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			if inBatch == 0 {
				batch.WriteByte('[')
			} else {
				batch.WriteByte(',')
			}
			batch.Write(line)
			inBatch++
			n++
			if inBatch >= batchRows || batch.Len() >= batchBytes {
				if err := flush(); err != nil {
					return n, err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("read rows of %s: %w", table, err)
		}
	}
	return n, flush()
}

type fkey struct{ table, name string }

// deferForeignKeys makes every foreign key of the schema checked at the
// end of the transaction, so rows go in table by table in any order (the
// schema has cycles, such as deployments ↔ backup_runs). Unlike
// session_replication_role it needs only table ownership, not superuser,
// and the keys are still checked.
func deferForeignKeys(ctx context.Context, tx *sqlx.Tx) ([]fkey, error) {
	var keys []fkey
	rows, err := tx.QueryContext(ctx, `
		SELECT c.relname, con.conname FROM pg_constraint con
		JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE con.contype = 'f' AND n.nspname = 'public' AND NOT con.condeferrable ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	for rows.Next() {
		var k fkey
		if err := rows.Scan(&k.table, &k.name); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(k.table)+` ALTER CONSTRAINT `+pq.QuoteIdentifier(k.name)+` DEFERRABLE INITIALLY DEFERRED`); err != nil {
			return nil, fmt.Errorf("defer foreign key %s: %w", k.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `SET CONSTRAINTS ALL DEFERRED`); err != nil {
		return nil, err
	}
	return keys, nil
}

// restoreForeignKeys checks every deferred key now and makes them
// immediate again, as the migrations declared them.
func restoreForeignKeys(ctx context.Context, tx *sqlx.Tx, keys []fkey) error {
	if _, err := tx.ExecContext(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		return fmt.Errorf("the restored rows break a foreign key: %w", err)
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(k.table)+` ALTER CONSTRAINT `+pq.QuoteIdentifier(k.name)+` NOT DEFERRABLE`); err != nil {
			return fmt.Errorf("restore foreign key %s: %w", k.name, err)
		}
	}
	return nil
}

// restoreSequences puts each sequence where it was, and never below the
// largest value of the column it feeds, so new rows get fresh ids.
func restoreSequences(ctx context.Context, tx *sqlx.Tx, seqs []Sequence) error {
	for _, s := range seqs {
		if s.LastValue == nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, `SELECT setval($1::regclass, $2, $3)`, pq.QuoteIdentifier(s.Name), *s.LastValue, s.IsCalled); err != nil {
			return fmt.Errorf("set sequence %s: %w", s.Name, err)
		}
	}
	type owned struct {
		Table  string `db:"tbl"`
		Column string `db:"col"`
		Seq    string `db:"seq"`
	}
	var list []owned
	if err := tx.SelectContext(ctx, &list, `
		SELECT c.relname AS tbl, a.attname AS col, pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS seq
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
			AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL`); err != nil {
		return fmt.Errorf("list sequences: %w", err)
	}
	for _, o := range list {
		if _, err := tx.ExecContext(ctx, `
			SELECT setval($1::regclass, m) FROM (SELECT max(`+pq.QuoteIdentifier(o.Column)+`) AS m FROM `+pq.QuoteIdentifier(o.Table)+`) x,
				LATERAL (SELECT last_value, is_called FROM `+o.Seq+`) s
			WHERE m IS NOT NULL AND (m > s.last_value OR (m = s.last_value AND NOT s.is_called))`, o.Seq); err != nil {
			return fmt.Errorf("advance sequence %s: %w", o.Seq, err)
		}
	}
	return nil
}

// completeOwnRun records the run that made the archive as done: the
// export saw it running, and the archive cannot contain its own checksum.
func completeOwnRun(ctx context.Context, tx *sqlx.Tx, runID int64, a Artifact, m Manifest) error {
	_, err := tx.ExecContext(ctx, `UPDATE control_plane_backup_runs SET status = 'done', error = '', object_key = $2,
		size_bytes = $3, sha256 = $4, secret_key_included = $5, tables = $6, rows = $7, files = $8,
		finished_at = coalesce(finished_at, now()) WHERE id = $1 AND status IN ('queued', 'running')`,
		runID, a.ObjectKey, a.SizeBytes, a.SHA256, m.SecretKeyIncluded, len(m.Tables), m.Rows(), m.Files)
	if err != nil {
		return fmt.Errorf("record the restored backup's run: %w", err)
	}
	return nil
}

// staging extracts data files beside the data directory's contents and
// moves them in place only after the database is restored.
type staging struct {
	dataDir, dir string
	files        []string
}

func newStaging(dataDir string) (*staging, error) {
	if dataDir == "" {
		return &staging{}, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	dir, err := os.MkdirTemp(dataDir, restoreStagingPrefix)
	if err != nil {
		return nil, fmt.Errorf("prepare the data directory: %w", err)
	}
	return &staging{dataDir: dataDir, dir: dir}, nil
}

func (s *staging) add(rel string, hdr *tar.Header, r io.Reader) error {
	if s.dir == "" {
		return nil
	}
	if rel == "secret.key" {
		return fmt.Errorf("%w: the archive holds secret.key as a plain file: refused", ErrNotArchive)
	}
	dst := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(hdr.Mode).Perm()|0o200)
	if err != nil {
		return fmt.Errorf("extract %s: %w", rel, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("extract %s: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	s.files = append(s.files, rel)
	return nil
}

// install moves the staged files over those of the data directory.
func (s *staging) install() error {
	for _, rel := range s.files {
		final := filepath.Join(s.dataDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(s.dir, filepath.FromSlash(rel)), final); err != nil {
			return err
		}
	}
	return nil
}

func (s *staging) cleanup() {
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
