package cpbackup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"dokploy/db"
)

// Limits of the export.
const (
	// defaultPartBytes bounds one db/ part, buffered in memory before it
	// is written (a tar entry needs its size up front).
	defaultPartBytes = 8 << 20
	// maxDataFile leaves out data files that are not configuration.
	maxDataFile  = 64 << 20
	keyCheckText = "dokploy-key-check"
	// gooseTable is goose's own bookkeeping; the restore recreates it by
	// migrating, so it is not exported.
	gooseTable = "goose_db_version"
)

// partBytes is defaultPartBytes; tests lower it to exercise parts.
var partBytes = defaultPartBytes

// skippedDirs are data-directory entries that are not state: the probe
// binary copy (rewritten at every start) and restores in progress.
var skippedDirs = map[string]bool{"probe": true}

// Source is what Write backs up.
type Source struct {
	DB      *sqlx.DB
	DataDir string // "" for none
	// SecretKey is the control plane's key ring as its key file holds it:
	// the current key first, then any previous keys, one per line. It goes
	// into the archive only sealed with Passphrase, and only when
	// Passphrase is set.
	SecretKey string
	// SecretKeyFile, when set, is the key file, read once the export's
	// snapshot is taken (a rotation may have changed the ring since the
	// process started); it replaces SecretKey.
	SecretKeyFile string
	Passphrase    string
	Version       string // the product version, for the manifest
	RunID         int64  // the control-plane backup run, when there is one
}

// Write streams the archive of src to w and returns its manifest. The
// database is read in one REPEATABLE READ READ ONLY transaction, so the
// tables are exported as of one instant.
func Write(ctx context.Context, w io.Writer, src Source) (Manifest, error) {
	tx, err := src.DB.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return Manifest{}, fmt.Errorf("begin export snapshot: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	m := Manifest{Format: FormatVersion, Product: "dokploy", Version: src.Version, CreatedAt: time.Now().UTC().Truncate(time.Second),
		RunID: src.RunID, SecretKeyIncluded: src.Passphrase != "" && (src.SecretKey != "" || src.SecretKeyFile != "")}
	if err := describeDatabase(ctx, tx, &m); err != nil {
		return m, err
	}
	if src.SecretKeyFile != "" {
		// After the snapshot: every value it holds is under a key of this ring.
		keys, err := db.ReadKeyFile(src.SecretKeyFile)
		if err != nil {
			return m, err
		}
		src.SecretKey = strings.TrimSpace(string(db.FormatKeys(keys)))
	}
	files, err := dataFiles(src.DataDir, src.SecretKeyFile, &m)
	if err != nil {
		return m, err
	}
	if src.SecretKey != "" {
		c, err := db.NewKeyRing(db.ParseKeys([]byte(src.SecretKey)))
		if err != nil {
			return m, err
		}
		m.KeyCheck = c.Seal(keyCheckText)
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	manifest, _ := json.MarshalIndent(m, "", "  ")
	if err := writeEntry(tw, manifestEntry, manifest, 0o600, m.CreatedAt); err != nil {
		return m, err
	}
	if m.SecretKeyIncluded {
		sealed, err := sealSecretKey(src.SecretKey, src.Passphrase)
		if err != nil {
			return m, fmt.Errorf("seal the secret key: %w", err)
		}
		if err := writeEntry(tw, secretKeyEntry, sealed, 0o600, m.CreatedAt); err != nil {
			return m, err
		}
	}
	for _, f := range files {
		if err := writeFile(tw, src.DataDir, f); err != nil {
			return m, err
		}
	}
	for _, t := range m.Tables {
		if err := exportTable(ctx, tx, tw, t, m.CreatedAt); err != nil {
			return m, err
		}
	}
	if err := tw.Close(); err != nil {
		return m, err
	}
	return m, gz.Close()
}

// describeDatabase fills the manifest's schema version, tables with their
// row counts and sequences, all read in the export's snapshot.
func describeDatabase(ctx context.Context, tx *sqlx.Tx, m *Manifest) error {
	if err := tx.GetContext(ctx, &m.MigrationVersion,
		`SELECT coalesce(max(version_id), 0) FROM `+gooseTable+` WHERE is_applied`); err != nil {
		return fmt.Errorf("read the schema version (is this a dokploy database?): %w", err)
	}
	var names []string
	if err := tx.SelectContext(ctx, &names, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> $1 ORDER BY tablename`, gooseTable); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, name := range names {
		t := Table{Name: name}
		if err := tx.GetContext(ctx, &t.Rows, `SELECT count(*) FROM `+pq.QuoteIdentifier(name)); err != nil {
			return fmt.Errorf("count rows of %s: %w", name, err)
		}
		m.Tables = append(m.Tables, t)
	}
	rows, err := tx.QueryContext(ctx, `SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename`)
	if err != nil {
		return fmt.Errorf("list sequences: %w", err)
	}
	var seqs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		seqs = append(seqs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range seqs {
		s := Sequence{Name: name}
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+pq.QuoteIdentifier(name)).Scan(&last, &s.IsCalled); err != nil {
			return fmt.Errorf("read sequence %s: %w", name, err)
		}
		if s.IsCalled {
			s.LastValue = &last
		}
		m.Sequences = append(m.Sequences, s)
	}
	return nil
}

// dataFile is one file of the data directory, relative to it.
type dataFile struct {
	rel  string
	size int64
	mode fs.FileMode
	mod  time.Time
}

// dataFiles lists the data directory's regular files, leaving out the
// secret key (it goes in only sealed), the probe binary and anything large.
// Symbolic links are neither followed nor stored.
func dataFiles(dir, keyFile string, m *Manifest) ([]dataFile, error) {
	if dir == "" {
		return nil, nil
	}
	// A DOKPLOY_SECRET_KEY_FILE kept in the data directory is a key too:
	// it goes into the archive only sealed, never as a plain file.
	keyRel := ""
	if keyFile != "" {
		if rel, err := filepath.Rel(dir, keyFile); err == nil && !strings.HasPrefix(rel, "..") {
			keyRel = filepath.ToSlash(rel)
		}
	}
	var out []dataFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && os.IsNotExist(err) {
				return filepath.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skippedDirs[rel] || strings.HasPrefix(d.Name(), restoreStagingPrefix) {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "secret.key" || rel == keyRel || strings.HasSuffix(rel, ".tmp") {
			return nil
		}
		if !d.Type().IsRegular() {
			m.Skipped = append(m.Skipped, rel+" (not a regular file)")
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxDataFile {
			m.Skipped = append(m.Skipped, fmt.Sprintf("%s (%d bytes, larger than %d)", rel, info.Size(), maxDataFile))
			return nil
		}
		out = append(out, dataFile{rel: rel, size: info.Size(), mode: info.Mode().Perm(), mod: info.ModTime()})
		m.Files++
		m.FileBytes += info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the data directory: %w", err)
	}
	return out, nil
}

func writeEntry(tw *tar.Writer, name string, data []byte, mode int64, mod time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: mode, ModTime: mod}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func writeFile(tw *tar.Writer, dir string, f dataFile) error {
	in, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.rel)))
	if err != nil {
		return fmt.Errorf("read %s: %w", f.rel, err)
	}
	defer in.Close()
	name := dataPrefix + f.rel
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: f.size, Mode: int64(f.mode), ModTime: f.mod}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	// Exactly the listed size: a file that changed meanwhile fails the
	// backup rather than storing a torn copy.
	if _, err := io.CopyN(tw, in, f.size); err != nil {
		return fmt.Errorf("copy %s (did it change during the backup?): %w", f.rel, err)
	}
	return nil
}

// exportTable writes a table as JSON lines, in parts of at most partBytes.
func exportTable(ctx context.Context, tx *sqlx.Tx, tw *tar.Writer, t Table, mod time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT row_to_json(r.*)::text FROM `+pq.QuoteIdentifier(t.Name)+` AS r`)
	if err != nil {
		return fmt.Errorf("export %s: %w", t.Name, err)
	}
	defer rows.Close()
	var buf bytes.Buffer
	part, n := 1, int64(0)
	flush := func(force bool) error {
		if buf.Len() == 0 && !(force && part == 1) {
			return nil
		}
		if err := writeEntry(tw, partName(t.Name, part), buf.Bytes(), 0o600, mod); err != nil {
			return err
		}
		buf.Reset()
		part++
		return nil
	}
	var line []byte
	for rows.Next() {
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("export %s: %w", t.Name, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
		n++
		if buf.Len() >= partBytes {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export %s: %w", t.Name, err)
	}
	if n != t.Rows {
		return fmt.Errorf("export %s: counted %d rows but read %d", t.Name, t.Rows, n)
	}
	return flush(true)
}

// partName is the entry of a table's part: db/<table>.jsonl, then
// db/<table>.2.jsonl, db/<table>.3.jsonl, …
func partName(table string, part int) string {
	if part == 1 {
		return dbPrefix + table + ".jsonl"
	}
	return fmt.Sprintf("%s%s.%d.jsonl", dbPrefix, table, part)
}
