package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// Statuses of a control-plane backup run.
const (
	CPRunQueued  = "queued"
	CPRunRunning = "running"
	CPRunDone    = "done"
	CPRunError   = "error"
)

// ControlPlaneBackupSettings is how the control plane backs itself up.
type ControlPlaneBackupSettings struct {
	DestinationID *int64     `db:"destination_id" json:"destination_id"`
	Cron          string     `db:"cron" json:"schedule"`
	Timezone      string     `db:"timezone" json:"timezone"`
	Enabled       bool       `db:"enabled" json:"enabled"`
	KeepLast      int        `db:"keep_last" json:"keep_last"`
	PassphraseEnc []byte     `db:"passphrase_enc" json:"-"`
	NextRunAt     *time.Time `db:"next_run_at" json:"next_run_at"`
	UpdatedAt     time.Time  `db:"updated_at" json:"updated_at"`
}

// PassphraseSet reports whether a passphrase is stored (the secret key is
// then included in the archives).
func (s *ControlPlaneBackupSettings) PassphraseSet() bool { return len(s.PassphraseEnc) > 0 }

// ControlPlaneBackupSettings loads the settings; never saved ones are the
// defaults (no destination, not scheduled, keep 7).
func (s *Store) ControlPlaneBackupSettings(ctx context.Context) (*ControlPlaneBackupSettings, error) {
	cfg := ControlPlaneBackupSettings{Timezone: "UTC", KeepLast: 7}
	err := s.db.GetContext(ctx, &cfg, `SELECT destination_id, cron, timezone, enabled, keep_last, passphrase_enc, next_run_at, updated_at
		FROM control_plane_backup_settings WHERE id = 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return &cfg, nil
	}
	return &cfg, opError("control-plane backup settings", err)
}

// SaveControlPlaneBackupSettings stores validated settings. passphrase
// nil keeps the stored one, "" removes it, anything else replaces it.
func (s *Store) SaveControlPlaneBackupSettings(ctx context.Context, c *ControlPlaneBackupSettings, passphrase *string) error {
	var enc []byte
	keep := passphrase == nil
	if passphrase != nil {
		enc = s.cipher.sealOptional(*passphrase)
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO control_plane_backup_settings (id, destination_id, cron, timezone, enabled, keep_last, passphrase_enc, next_run_at, updated_at)
		VALUES (1, $1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (id) DO UPDATE SET destination_id = $1, cron = $2, timezone = $3, enabled = $4, keep_last = $5,
			passphrase_enc = CASE WHEN $8 THEN control_plane_backup_settings.passphrase_enc ELSE $6 END,
			next_run_at = $7, updated_at = now()`,
		c.DestinationID, c.Cron, c.Timezone, c.Enabled, c.KeepLast, enc, c.NextRunAt, keep)
	return opError("save control-plane backup settings", err)
}

// ControlPlaneBackupPassphrase decrypts the stored passphrase ("" when none).
func (s *Store) ControlPlaneBackupPassphrase(c *ControlPlaneBackupSettings) (string, error) {
	v, err := s.cipher.Open(c.PassphraseEnc)
	return v, opError("control-plane backup passphrase", err)
}

// AdvanceControlPlaneSchedule moves the next scheduled backup from due to
// next and reports whether this caller did it, so exactly one process
// starts each due run.
func (s *Store) AdvanceControlPlaneSchedule(ctx context.Context, due time.Time, next *time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_settings SET next_run_at = $2 WHERE id = 1 AND next_run_at = $1`, due, next)
	if err != nil {
		return false, fmt.Errorf("advance control-plane backup schedule: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ControlPlaneBackupRun is one backup of the control plane.
type ControlPlaneBackupRun struct {
	ID                int64      `db:"id" json:"id"`
	Status            string     `db:"status" json:"status"`
	Reason            string     `db:"reason" json:"reason"`
	TriggeredBy       string     `db:"triggered_by" json:"triggered_by"`
	DestinationID     *int64     `db:"destination_id" json:"destination_id"`
	ObjectKey         string     `db:"object_key" json:"object_key"`
	SizeBytes         int64      `db:"size_bytes" json:"size_bytes"`
	SHA256            string     `db:"sha256" json:"sha256"`
	SecretKeyIncluded bool       `db:"secret_key_included" json:"secret_key_included"`
	Tables            int        `db:"tables" json:"tables"`
	Rows              int64      `db:"rows" json:"rows"`
	Files             int        `db:"files" json:"files"`
	Error             string     `db:"error" json:"error"`
	WorkerID          string     `db:"worker_id" json:"-"`
	HeartbeatAt       time.Time  `db:"heartbeat_at" json:"-"`
	CreatedAt         time.Time  `db:"created_at" json:"created_at"`
	StartedAt         *time.Time `db:"started_at" json:"started_at"`
	FinishedAt        *time.Time `db:"finished_at" json:"finished_at"`
	DeletedAt         *time.Time `db:"deleted_at" json:"deleted_at"`

	DestinationName string `db:"destination_name" json:"destination"`
}

const cpRunSelect = `SELECT r.*, coalesce(d.name, '') AS destination_name
	FROM control_plane_backup_runs r LEFT JOIN destinations d ON d.id = r.destination_id`

// QueueControlPlaneBackup records a queued run. Only one may be queued or
// running at a time: a second gets ErrConflict.
func (s *Store) QueueControlPlaneBackup(ctx context.Context, destinationID int64, reason, triggeredBy, workerID string) (*ControlPlaneBackupRun, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO control_plane_backup_runs (destination_id, reason, triggered_by, worker_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		destinationID, reason, triggeredBy, workerID)
	if isUniqueViolation(err) {
		return nil, conflictf("a control-plane backup is already running")
	}
	if err != nil {
		return nil, fmt.Errorf("queue control-plane backup: %w", err)
	}
	return s.ControlPlaneBackupRun(ctx, id)
}

// ControlPlaneBackupRun loads one run.
func (s *Store) ControlPlaneBackupRun(ctx context.Context, id int64) (*ControlPlaneBackupRun, error) {
	var r ControlPlaneBackupRun
	err := s.db.GetContext(ctx, &r, cpRunSelect+` WHERE r.id = $1`, id)
	return &r, notFound("control-plane backup run", err)
}

// ControlPlaneBackupRuns lists runs, newest first.
func (s *Store) ControlPlaneBackupRuns(ctx context.Context, limit, offset int) ([]ControlPlaneBackupRun, error) {
	out := []ControlPlaneBackupRun{}
	err := s.db.SelectContext(ctx, &out, cpRunSelect+` ORDER BY r.id DESC LIMIT $1 OFFSET $2`, limit, offset)
	return out, opError("control-plane backup runs", err)
}

// StartControlPlaneBackup marks a run running under its object key.
func (s *Store) StartControlPlaneBackup(ctx context.Context, id int64, objectKey string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_runs SET status = 'running', object_key = $2,
		started_at = now(), heartbeat_at = now() WHERE id = $1 AND status = 'queued'`, id, objectKey)
	return rowsOrNotFound(res, err)
}

// HeartbeatControlPlaneBackup says the run's process is alive.
func (s *Store) HeartbeatControlPlaneBackup(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_runs SET heartbeat_at = now() WHERE id = $1 AND status IN ('queued', 'running')`, id)
	return err
}

// ControlPlaneArtifact is what a successful run stored.
type ControlPlaneArtifact struct {
	SizeBytes         int64
	SHA256            string
	SecretKeyIncluded bool
	Tables            int
	Rows              int64
	Files             int
}

// FinishControlPlaneBackup records a run's outcome: the artifact when
// runErr is nil, the error otherwise.
func (s *Store) FinishControlPlaneBackup(ctx context.Context, id int64, a ControlPlaneArtifact, runErr error) error {
	if runErr != nil {
		_, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_runs SET status = 'error', error = $2, finished_at = now()
			WHERE id = $1`, id, runErr.Error())
		return opError("record control-plane backup failure", err)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_runs SET status = 'done', error = '', finished_at = now(),
		size_bytes = $2, sha256 = $3, secret_key_included = $4, tables = $5, rows = $6, files = $7 WHERE id = $1`,
		id, a.SizeBytes, a.SHA256, a.SecretKeyIncluded, a.Tables, a.Rows, a.Files)
	return opError("record control-plane backup", err)
}

// FailStaleControlPlaneBackups marks failed the queued and running runs
// whose process stopped refreshing their heartbeat for longer than after.
func (s *Store) FailStaleControlPlaneBackups(ctx context.Context, after time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_runs
		SET status = 'error', finished_at = now(),
			error = 'interrupted: the process running this backup stopped before it finished; run it again'
		WHERE status IN ('queued', 'running') AND heartbeat_at < now() - make_interval(secs => $1)`, after.Seconds())
	if err != nil {
		return 0, fmt.Errorf("fail stale control-plane backups: %w", err)
	}
	return res.RowsAffected()
}

// ControlPlaneRetentionCandidates lists the successful runs still stored
// in a destination beyond the newest keep.
func (s *Store) ControlPlaneRetentionCandidates(ctx context.Context, destinationID int64, keep int) ([]ControlPlaneBackupRun, error) {
	out := []ControlPlaneBackupRun{}
	err := s.db.SelectContext(ctx, &out, cpRunSelect+` WHERE r.destination_id = $1 AND r.status = 'done' AND r.deleted_at IS NULL
		ORDER BY r.id DESC OFFSET $2`, destinationID, keep)
	return out, opError("control-plane retention", err)
}

// MarkControlPlaneBackupDeleted records that retention removed a run's object.
func (s *Store) MarkControlPlaneBackupDeleted(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE control_plane_backup_runs SET deleted_at = now() WHERE id = $1`, id)
	return err
}

// MigrationVersion is the schema version applied to conn (0 when none).
func MigrationVersion(ctx context.Context, conn *sqlx.DB) (int64, error) {
	p, err := migrationProvider(conn.DB)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

// LatestMigration is the newest schema version this binary knows.
func LatestMigration() (int64, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, name := range names {
		n, err := goose.NumericComponent(path.Base(name))
		if err != nil {
			return 0, err
		}
		latest = max(latest, n)
	}
	return latest, nil
}

// MigrateTo brings the schema to exactly version, up or down, under the
// migration lock.
func MigrateTo(ctx context.Context, conn *sqlx.DB, version int64) error {
	p, err := migrationProvider(conn.DB)
	if err != nil {
		return err
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case cur < version:
		_, err = p.UpTo(ctx, version)
	case cur > version:
		_, err = p.DownTo(ctx, version)
	}
	if err != nil {
		return fmt.Errorf("migrate to version %d: %w", version, err)
	}
	return nil
}
