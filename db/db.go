// Package db is the PostgreSQL store: models, queries (next to their store
// method), embedded goose migrations and encryption of secrets at rest.
// It imports no other package of this project.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNotFound is returned when a row asked for by id or key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a unique constraint rejects a write.
var ErrConflict = errors.New("already exists")

// conflictError is a conflict with its own whole-sentence message; it
// matches ErrConflict with errors.Is.
type conflictError struct{ msg string }

func (e conflictError) Error() string        { return e.msg }
func (e conflictError) Is(target error) bool { return target == ErrConflict }

func conflictf(format string, args ...any) error { return conflictError{fmt.Sprintf(format, args...)} }

// Store gives typed access to every table. Secrets pass through cipher.
// A Store made by InTx runs every method inside that one transaction.
type Store struct {
	db     queryer  // conn, or tx inside InTx
	conn   *sqlx.DB // the pool
	tx     *sqlx.Tx // set inside InTx
	cipher *Cipher
	stmts  *stmtCache // shared with the Stores of InTx
}

// queryer is what *sqlx.DB and *sqlx.Tx both offer.
type queryer interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// NewStore wraps an open database.
func NewStore(db *sqlx.DB, cipher *Cipher) *Store {
	return &Store{db: db, conn: db, cipher: cipher, stmts: &stmtCache{}}
}

// DB exposes the pool for tests.
func (s *Store) DB() *sqlx.DB { return s.conn }

// InTx runs fn with a Store whose every method runs in one transaction,
// committed when fn returns nil and rolled back otherwise, so an operation
// of several writes happens entirely or not at all. Inside a transaction
// it simply calls fn.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&Store{db: tx, conn: s.conn, tx: tx, cipher: s.cipher, stmts: s.stmts}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// txn is a method's own transaction, or its share of the caller's InTx
// (then Commit and Rollback are left to InTx).
type txn struct {
	*sqlx.Tx
	shared bool
}

func (t txn) Commit() error {
	if t.shared {
		return nil
	}
	return t.Tx.Commit()
}

func (t txn) Rollback() error {
	if t.shared {
		return nil
	}
	return t.Tx.Rollback()
}

// begin starts a method's transaction (see txn).
func (s *Store) begin(ctx context.Context) (txn, error) {
	if s.tx != nil {
		return txn{Tx: s.tx, shared: true}, nil
	}
	tx, err := s.conn.BeginTxx(ctx, nil)
	return txn{Tx: tx}, err
}

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Open connects to PostgreSQL and checks the connection, turning driver
// errors into a message that names the address and what to check.
func Open(ctx context.Context, dsn string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %w", err)
	}
	// Keep every open connection idle for reuse: with fewer idle slots a
	// burst of requests (50 webhook pushes at once) closes the extra
	// connections after each statement and pays PostgreSQL's connection
	// setup again on the next, which dominated its latency. The idle
	// timeout still gives them back after a quiet spell.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %v (check that PostgreSQL is running and DOKPLOY_DATABASE_URL is right)", RedactURL(dsn), err)
	}
	return db, nil
}

// SecretMask stands for a secret's value wherever one is shown unrevealed.
const SecretMask = "********"

// RedactURL hides the secret in a URL's userinfo so the URL can be logged
// or shown: user:password@ becomes user:xxxxx@, and a bare token in an
// http(s) URL (https://<token>@host) becomes xxxxx. It is the one redactor
// of the project (database, Redis and git URLs). Text that is not a URL,
// such as git's scp form git@host:owner/repo, has no password and is kept.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "://") {
			return "(unparseable URL)"
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else if u.Scheme == "http" || u.Scheme == "https" {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

func migrationProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// A session advisory lock makes two instances starting together take turns.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
}

// Migrate applies every pending migration under an advisory lock.
func Migrate(ctx context.Context, db *sqlx.DB) error {
	p, err := migrationProvider(db.DB)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// MigrateDown rolls back the most recent migration.
func MigrateDown(ctx context.Context, db *sqlx.DB) error {
	p, err := migrationProvider(db.DB)
	if err != nil {
		return err
	}
	_, err = p.Down(ctx)
	return err
}

// MigrationStatus lists each migration and whether it is applied.
func MigrationStatus(ctx context.Context, db *sqlx.DB) ([]string, error) {
	p, err := migrationProvider(db.DB)
	if err != nil {
		return nil, err
	}
	results, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	lines := make([]string, 0, len(results))
	for _, r := range results {
		applied := "pending"
		if r.State == goose.StateApplied {
			applied = "applied " + r.AppliedAt.Format(time.RFC3339)
		}
		lines = append(lines, fmt.Sprintf("%05d  %-40s %s", r.Source.Version, r.Source.Path, applied))
	}
	return lines, nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pqErr interface{ SQLState() string }
	return errors.As(err, &pqErr) && pqErr.SQLState() == "23505"
}

// notFound maps sql.ErrNoRows to ErrNotFound.
// It names the store operation op, so a log line says what failed.
func notFound(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return opError(op, err)
}

// opError names the store operation that failed, keeping err for errors.Is.
func opError(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
