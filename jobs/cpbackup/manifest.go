// Package cpbackup backs up the control plane itself and brings it back:
// an archive (tar.gz) of its PostgreSQL database, exported from Go under
// one snapshot, and of its data directory (Traefik configuration and
// certificates), with the secret key only when a passphrase encrypts it.
//
// Archive layout, in this order (Restore relies on it):
//
//	manifest.json             format, versions, tables and row counts, sequences
//	secret-key.enc            the secret key sealed with the passphrase (optional)
//	data/<path>               the data directory's regular files
//	db/<table>.jsonl          one JSON object per row (row_to_json)
//	db/<table>.<n>.jsonl      further parts of a large table
package cpbackup

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"dokploy/db"
)

// FormatVersion is the archive format this package writes and reads.
const FormatVersion = 1

// Names of the fixed entries.
const (
	manifestEntry  = "manifest.json"
	secretKeyEntry = "secret-key.enc"
	dataPrefix     = "data/"
	dbPrefix       = "db/"
)

// Manifest describes an archive; it is its first entry and is copied into
// the sidecar next to the object.
type Manifest struct {
	Format            int       `json:"format"`
	Product           string    `json:"product"`
	Version           string    `json:"version"`
	MigrationVersion  int64     `json:"migration_version"`
	CreatedAt         time.Time `json:"created_at"`
	RunID             int64     `json:"run_id,omitempty"`
	SecretKeyIncluded bool      `json:"secret_key_included"`
	// KeyCheck is a short text sealed with the secret key, so a restore
	// can tell whether a key it is given is the one the secrets need.
	KeyCheck  []byte     `json:"key_check,omitempty"`
	Tables    []Table    `json:"tables"`
	Sequences []Sequence `json:"sequences"`
	Files     int        `json:"files"`
	FileBytes int64      `json:"file_bytes"`
	// Skipped lists data files left out (too large or not regular).
	Skipped []string `json:"skipped,omitempty"`
}

// Table is one exported table and its row count.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Sequence is a sequence's position at export time.
type Sequence struct {
	Name      string `json:"name"`
	LastValue *int64 `json:"last_value"` // nil: never used
	IsCalled  bool   `json:"is_called"`
}

// Rows is the total number of rows in the archive.
func (m Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// ErrNotArchive is returned for input that is not a control-plane backup.
var ErrNotArchive = errors.New("this is not a dokploy control-plane backup")

// ReadManifest reads only the manifest of an archive.
func ReadManifest(r io.Reader) (Manifest, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrNotArchive, err)
	}
	defer gz.Close()
	return readManifest(tar.NewReader(gz))
}

func readManifest(tr *tar.Reader) (Manifest, error) {
	var m Manifest
	hdr, err := tr.Next()
	if err != nil {
		return m, fmt.Errorf("%w: %v", ErrNotArchive, err)
	}
	if hdr.Name != manifestEntry {
		return m, fmt.Errorf("%w: the first entry is %q, not %s", ErrNotArchive, hdr.Name, manifestEntry)
	}
	if err := json.NewDecoder(io.LimitReader(tr, 16<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("%w: manifest: %v", ErrNotArchive, err)
	}
	if m.Product != "dokploy" {
		return m, fmt.Errorf("%w: manifest names product %q", ErrNotArchive, m.Product)
	}
	if m.Format != FormatVersion {
		return m, fmt.Errorf("the backup has archive format %d; this dokploy reads format %d: use the dokploy version that made it (%s)", m.Format, FormatVersion, m.Version)
	}
	return m, nil
}

// KeyMatches reports whether secretKey (a key, or a key ring one key per
// line) holds the key the archive's secrets were sealed with; true when the
// archive cannot tell (no key check).
func KeyMatches(m Manifest, secretKey string) bool {
	if len(m.KeyCheck) == 0 {
		return true
	}
	c, err := db.NewKeyRing(db.ParseKeys([]byte(secretKey)))
	if err != nil {
		return false
	}
	v, err := c.Open(m.KeyCheck)
	return err == nil && v == keyCheckText
}
