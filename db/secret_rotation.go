package db

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// Settings of the secret key.
const (
	// SettingKeyCheck holds a known text sealed with the secret key (base64),
	// so a start with the wrong key fails at once instead of rendering pages
	// whose secrets cannot be decrypted.
	SettingKeyCheck = "secret_key_check"
	// SettingKeyRotation holds the id of the key a rotation re-encrypts to
	// while it runs, so an interrupted rotation is resumed, not restarted.
	SettingKeyRotation = "secret_key_rotation"

	keyCheckText = "dokploy-key-check"
)

// EncryptedTable is a table with sealed columns.
type EncryptedTable struct {
	Name    string
	Columns []string
}

// EncryptedTables lists every bytea column named *_enc, by table: what
// holds sealed secrets. It reads the schema, so a column added by a later
// migration is covered without a change here.
func (s *Store) EncryptedTables(ctx context.Context) ([]EncryptedTable, error) {
	var rows []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
	}
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'bytea' AND column_name LIKE '%\_enc'
		ORDER BY table_name, ordinal_position`); err != nil {
		return nil, fmt.Errorf("db: list encrypted columns: %w", err)
	}
	var out []EncryptedTable
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Name != r.Table {
			out = append(out, EncryptedTable{Name: r.Table})
		}
		out[len(out)-1].Columns = append(out[len(out)-1].Columns, r.Column)
	}
	return out, nil
}

// KeyMismatchError is returned by CheckSecretKey when the key ring cannot
// open what the database holds.
type KeyMismatchError struct {
	KeyIDs []string // the ring's key ids, current first
	// SealedKeyID is the key id of the value that did not open; "" when it
	// was sealed before key ids existed.
	SealedKeyID string
	What        string // where that value is: "the key check" or e.g. "applications.git_token_enc"
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("the secret key does not match the key that encrypted this database (key id %s, database has values under %s)",
		strings.Join(e.KeyIDs, ", "), e.Sealed())
}

// Sealed describes the key of the value that did not open.
func (e *KeyMismatchError) Sealed() string {
	if e.SealedKeyID == "" {
		return "a key from before key ids (id unknown)"
	}
	return "key id " + e.SealedKeyID
}

// CheckSecretKey fails with a KeyMismatchError when the key ring cannot
// open the database's key check or, before there is one, a sealed value
// of any encrypted column. When it can (or nothing is sealed yet, as in a
// new database), the key check is written under the current key.
func (s *Store) CheckSecretKey(ctx context.Context) error {
	v, err := s.Setting(ctx, SettingKeyCheck, "")
	if err != nil {
		return fmt.Errorf("db: read the key check: %w", err)
	}
	if v != "" {
		sealed, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("db: the key check in settings is not base64: %w", err)
		}
		if plain, err := s.cipher.Open(sealed); err != nil || plain != keyCheckText {
			return &KeyMismatchError{KeyIDs: s.cipher.KeyIDs(), SealedKeyID: SealedKeyID(sealed), What: "the key check"}
		}
		return nil
	}
	tables, err := s.EncryptedTables(ctx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		for _, c := range t.Columns {
			var sample []byte
			err := s.db.GetContext(ctx, &sample, fmt.Sprintf(`SELECT %[1]s FROM %[2]s WHERE length(%[1]s) > 0 LIMIT 1`,
				pq.QuoteIdentifier(c), pq.QuoteIdentifier(t.Name)))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("db: read %s.%s: %w", t.Name, c, err)
			}
			if _, err := s.cipher.Open(sample); err != nil {
				return &KeyMismatchError{KeyIDs: s.cipher.KeyIDs(), SealedKeyID: SealedKeyID(sample), What: t.Name + "." + c}
			}
		}
	}
	// Two first starts may race: the first key check stays.
	_, err = s.db.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		SettingKeyCheck, base64.StdEncoding.EncodeToString(s.cipher.Seal(keyCheckText)))
	if err != nil {
		return fmt.Errorf("db: write the key check: %w", err)
	}
	return nil
}

// ReencryptCount is how many rows and values of a table Reencrypt rewrote.
type ReencryptCount struct {
	Table  string
	Rows   int
	Values int
}

// Reencrypt seals every value of every encrypted column (EncryptedTables)
// and the key check under the ring's current key. Each table is done in
// batches of at most batch rows, each batch one transaction that locks its
// rows (SELECT … FOR UPDATE), opens each value with the ring and seals it
// again. Values already under the current key are skipped, so a run that
// was interrupted is finished by running it again. progress, when set, is
// called after each batch with the table's running count. It returns one
// count per table, also when it fails midway.
func (s *Store) Reencrypt(ctx context.Context, batch int, progress func(ReencryptCount)) ([]ReencryptCount, error) {
	if batch < 1 {
		batch = 100
	}
	k := s.cipher.current() // one key for the whole run, even if the file changes
	tables, err := s.EncryptedTables(ctx)
	if err != nil {
		return nil, err
	}
	var counts []ReencryptCount
	for _, t := range tables {
		n := ReencryptCount{Table: t.Name}
		for {
			rows, values, err := s.reencryptBatch(ctx, k, t, batch)
			n.Rows += rows
			n.Values += values
			if err != nil {
				return append(counts, n), err
			}
			if rows == 0 {
				break
			}
			if progress != nil {
				progress(n)
			}
		}
		counts = append(counts, n)
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
		SettingKeyCheck, base64.StdEncoding.EncodeToString(sealWith(k, keyCheckText)))
	if err != nil {
		return counts, fmt.Errorf("db: write the key check: %w", err)
	}
	return counts, nil
}

// reencryptBatch re-seals up to batch rows of t that hold a value not under k.
func (s *Store) reencryptBatch(ctx context.Context, k sealKey, t EncryptedTable, batch int) (rows, values int, err error) {
	header := append([]byte{sealVersion}, k.id[:]...)
	quoted := make([]string, len(t.Columns))
	stale := make([]string, len(t.Columns))
	set := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		quoted[i] = pq.QuoteIdentifier(c)
		stale[i] = fmt.Sprintf("(length(%[1]s) > 0 AND substring(%[1]s from 1 for %[2]d) <> $1)", quoted[i], headerLen)
		set[i] = fmt.Sprintf("%s = $%d", quoted[i], i+1)
	}
	table := pq.QuoteIdentifier(t.Name)
	tx, err := s.conn.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("db: re-encrypt %s: %w", t.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // rolled back only when not committed
	// ctid addresses the row without knowing the table's key; it cannot
	// change while the row is locked by this transaction.
	res, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT ctid::text, %s FROM %s WHERE %s LIMIT %d FOR UPDATE`,
		strings.Join(quoted, ", "), table, strings.Join(stale, " OR "), batch), header)
	if err != nil {
		return 0, 0, fmt.Errorf("db: re-encrypt %s: %w", t.Name, err)
	}
	type row struct {
		ctid string
		vals [][]byte
	}
	var todo []row
	for res.Next() {
		r := row{vals: make([][]byte, len(t.Columns))}
		dest := []any{&r.ctid}
		for i := range r.vals {
			dest = append(dest, &r.vals[i])
		}
		if err := res.Scan(dest...); err != nil {
			res.Close()
			return 0, 0, fmt.Errorf("db: re-encrypt %s: %w", t.Name, err)
		}
		todo = append(todo, r)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return 0, 0, fmt.Errorf("db: re-encrypt %s: %w", t.Name, err)
	}
	for _, r := range todo {
		args := make([]any, 0, len(r.vals)+1)
		for i, v := range r.vals {
			if len(v) > 0 && !bytes.HasPrefix(v, header) {
				plain, err := s.cipher.Open(v)
				if err != nil {
					return 0, 0, fmt.Errorf("db: re-encrypt %s.%s (row %s): %w", t.Name, t.Columns[i], r.ctid, err)
				}
				v = sealWith(k, plain)
				values++
			}
			args = append(args, v)
		}
		args = append(args, r.ctid)
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s WHERE ctid = $%d::tid`, table, strings.Join(set, ", "), len(args)), args...); err != nil {
			return 0, 0, fmt.Errorf("db: re-encrypt %s (row %s): %w", t.Name, r.ctid, err)
		}
	}
	if len(todo) > 0 && values == 0 {
		return 0, 0, fmt.Errorf("db: re-encrypt %s: rows selected but no value changed", t.Name)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("db: re-encrypt %s: %w", t.Name, err)
	}
	return len(todo), values, nil
}

// SealedValuesByKey counts the non-empty values of every encrypted column
// by the id of the key that sealed them ("" for values sealed before key
// ids existed); the key check is counted too.
func (s *Store) SealedValuesByKey(ctx context.Context) (map[string]int, error) {
	tables, err := s.EncryptedTables(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	add := func(query, what string) error {
		var rows []struct {
			ID string `db:"id"`
			N  int    `db:"n"`
		}
		if err := s.db.SelectContext(ctx, &rows, query); err != nil {
			return fmt.Errorf("db: count sealed values of %s: %w", what, err)
		}
		for _, r := range rows {
			out[r.ID] += r.N
		}
		return nil
	}
	for _, t := range tables {
		for _, c := range t.Columns {
			if err := add(fmt.Sprintf(`SELECT %s AS id, count(*) AS n FROM %s WHERE length(%s) > 0 GROUP BY 1`,
				sqlKeyID(pq.QuoteIdentifier(c)), pq.QuoteIdentifier(t.Name), pq.QuoteIdentifier(c)), t.Name+"."+c); err != nil {
				return nil, err
			}
		}
	}
	if err := add(fmt.Sprintf(`SELECT %s AS id, count(*) AS n FROM (SELECT decode(value, 'base64') AS v FROM settings WHERE key = '%s') k GROUP BY 1`,
		sqlKeyID("v"), SettingKeyCheck), "the key check"); err != nil {
		return nil, err
	}
	return out, nil
}

// sqlKeyID is SealedKeyID in SQL.
func sqlKeyID(col string) string {
	return fmt.Sprintf(`CASE WHEN length(%[1]s) >= %[2]d AND get_byte(%[1]s, 0) = %[3]d THEN encode(substring(%[1]s from 2 for %[4]d), 'hex') ELSE '' END`,
		col, headerLen, sealVersion, keyIDLen)
}

// DeleteSetting removes a setting; it is then read as its default.
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM settings WHERE key = $1`, key)
	return err
}

// KeyRotationLock takes the session lock that lets one key rotation run at
// a time; unlock releases it. It fails at once when another holds it.
func (s *Store) KeyRotationLock(ctx context.Context) (unlock func(), err error) {
	conn, err := s.conn.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	// The lock id is arbitrary but fixed: "dokploy secret-key rotate".
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(7306041902)`).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("db: take the key rotation lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, errors.New("another dokploy secret-key rotate is running on this database")
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(7306041902)`)
		conn.Close()
	}, nil
}

// Cipher is the store's key ring.
func (s *Store) Cipher() *Cipher { return s.cipher }
