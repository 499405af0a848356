package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Deployment actions of backups: a backup run, a restore of an artifact
// into the service, and a restore drill into a throwaway container.
const (
	ActionBackup  = "backup"
	ActionRestore = "restore"
	ActionDrill   = "drill"
)

// Why a backup run happened.
const (
	BackupManual   = "manual"
	BackupSchedule = "schedule"
	BackupSafety   = "safety" // taken by a restore before it changed anything
	BackupImport   = "import" // an object found by listing a destination
)

// Destination is an S3-compatible bucket (and prefix) backups go to.
type Destination struct {
	ID           int64     `db:"id" json:"id"`
	Name         string    `db:"name" json:"name"`
	Endpoint     string    `db:"endpoint" json:"endpoint"`
	Region       string    `db:"region" json:"region"`
	Bucket       string    `db:"bucket" json:"bucket"`
	Prefix       string    `db:"prefix" json:"prefix"`
	AccessKey    string    `db:"access_key" json:"access_key"`
	SecretKeyEnc []byte    `db:"secret_key_enc" json:"-"`
	PathStyle    bool      `db:"path_style" json:"path_style"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time `db:"updated_at" json:"updated_at"`
	// Plans is how many backup plans use it (joined for display).
	Plans int `db:"plans" json:"backup_plans"`
}

const destinationSelect = `SELECT d.*, (SELECT count(*) FROM backups b WHERE b.destination_id = d.id) AS plans FROM destinations d`

// CreateDestination inserts a validated destination with its secret key.
func (s *Store) CreateDestination(ctx context.Context, d *Destination, secretKey string) error {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO destinations (name, endpoint, region, bucket, prefix, access_key, secret_key_enc, path_style)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		d.Name, d.Endpoint, d.Region, d.Bucket, d.Prefix, d.AccessKey, s.cipher.Seal(secretKey), d.PathStyle)
	if isUniqueViolation(err) {
		return conflictf("a destination named %q already exists", d.Name)
	}
	if err != nil {
		return fmt.Errorf("create destination: %w", err)
	}
	fresh, err := s.Destination(ctx, id)
	if err == nil {
		*d = *fresh
	}
	return err
}

// UpdateDestination saves a destination's settings; an empty secretKey
// keeps the stored one.
func (s *Store) UpdateDestination(ctx context.Context, d *Destination, secretKey string) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE destinations SET name = $2, endpoint = $3, region = $4, bucket = $5, prefix = $6, access_key = $7,
			path_style = $8, secret_key_enc = coalesce($9, secret_key_enc), updated_at = now()
		WHERE id = $1`,
		d.ID, d.Name, d.Endpoint, d.Region, d.Bucket, d.Prefix, d.AccessKey, d.PathStyle, s.cipher.sealOptional(secretKey))
	if isUniqueViolation(err) {
		return conflictf("a destination named %q already exists", d.Name)
	}
	return rowsOrNotFound(res, err)
}

// Destination loads one destination.
func (s *Store) Destination(ctx context.Context, id int64) (*Destination, error) {
	var d Destination
	err := s.db.GetContext(ctx, &d, destinationSelect+` WHERE d.id = $1`, id)
	return &d, notFound("destination", err)
}

// Destinations lists every destination by name.
func (s *Store) Destinations(ctx context.Context) ([]Destination, error) {
	out := []Destination{}
	err := s.db.SelectContext(ctx, &out, destinationSelect+` ORDER BY lower(d.name)`)
	return out, opError("destinations", err)
}

// DestinationSecret decrypts a destination's secret key.
func (s *Store) DestinationSecret(d *Destination) (string, error) {
	v, err := s.cipher.Open(d.SecretKeyEnc)
	return v, opError("destination secret", err)
}

// DeleteDestination removes a destination no backup plan uses. Recorded
// runs keep their rows (and their objects stay in the bucket).
func (s *Store) DeleteDestination(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM destinations WHERE id = $1`, id)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23503" {
		return conflictf("backup plans still use this destination: move or delete them first")
	}
	return rowsOrNotFound(res, err)
}

// Backup is a backup plan of one service.
type Backup struct {
	ID            int64  `db:"id" json:"id"`
	ServiceID     int64  `db:"service_id" json:"database_id"`
	DestinationID int64  `db:"destination_id" json:"destination_id"`
	Cron          string `db:"cron" json:"schedule"`
	Timezone      string `db:"timezone" json:"timezone"`
	Enabled       bool   `db:"enabled" json:"enabled"`
	Prefix        string `db:"prefix" json:"prefix"`
	KeepLast      int    `db:"keep_last" json:"keep_last"`
	KeepDaily     int    `db:"keep_daily" json:"keep_daily"`
	KeepWeekly    int    `db:"keep_weekly" json:"keep_weekly"`
	KeepMonthly   int    `db:"keep_monthly" json:"keep_monthly"`
	DrillCron     string `db:"drill_cron" json:"drill_schedule"`
	// Volume is the app volume a plan of an app copies; nil for a
	// database's plan.
	Volume           *string    `db:"volume" json:"volume,omitempty"`
	StopDuringBackup bool       `db:"stop_during_backup" json:"stop_during_backup"`
	NextRunAt        *time.Time `db:"next_run_at" json:"next_run_at"`
	NextDrillAt      *time.Time `db:"next_drill_at" json:"next_drill_at"`
	MissedAt         *time.Time `db:"missed_at" json:"-"`
	CreatedAt        time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at" json:"updated_at"`

	// Joined for display.
	DestinationName string     `db:"destination_name" json:"destination"`
	ServiceName     string     `db:"service_name" json:"-"`
	LastSuccessAt   *time.Time `db:"last_success_at" json:"last_success_at"`
}

const backupSelect = `
	SELECT b.*, dst.name AS destination_name, s.name AS service_name,
		(SELECT max(r.completed_at) FROM backup_runs r WHERE r.backup_id = b.id AND r.sha256 <> '') AS last_success_at
	FROM backups b JOIN destinations dst ON dst.id = b.destination_id JOIN services s ON s.id = b.service_id`

// CreateBackup inserts a validated plan; NextRunAt and NextDrillAt are
// computed by the caller from the schedules.
func (s *Store) CreateBackup(ctx context.Context, b *Backup) error {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO backups (service_id, destination_id, cron, timezone, enabled, prefix,
			keep_last, keep_daily, keep_weekly, keep_monthly, drill_cron, next_run_at, next_drill_at, volume, stop_during_backup)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		b.ServiceID, b.DestinationID, b.Cron, b.Timezone, b.Enabled, b.Prefix,
		b.KeepLast, b.KeepDaily, b.KeepWeekly, b.KeepMonthly, b.DrillCron, b.NextRunAt, b.NextDrillAt, b.Volume, b.StopDuringBackup)
	if err != nil {
		return fmt.Errorf("create backup plan: %w", err)
	}
	fresh, err := s.Backup(ctx, id)
	if err == nil {
		*b = *fresh
	}
	return err
}

// UpdateBackup saves a plan's settings and its recomputed next times.
func (s *Store) UpdateBackup(ctx context.Context, b *Backup) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE backups SET destination_id = $2, cron = $3, timezone = $4, enabled = $5, prefix = $6,
			keep_last = $7, keep_daily = $8, keep_weekly = $9, keep_monthly = $10, drill_cron = $11,
			next_run_at = $12, next_drill_at = $13, volume = $14, stop_during_backup = $15, missed_at = NULL, updated_at = now()
		WHERE id = $1`,
		b.ID, b.DestinationID, b.Cron, b.Timezone, b.Enabled, b.Prefix,
		b.KeepLast, b.KeepDaily, b.KeepWeekly, b.KeepMonthly, b.DrillCron, b.NextRunAt, b.NextDrillAt, b.Volume, b.StopDuringBackup)
	return rowsOrNotFound(res, err)
}

// Backup loads one plan.
func (s *Store) Backup(ctx context.Context, id int64) (*Backup, error) {
	var b Backup
	err := s.db.GetContext(ctx, &b, backupSelect+` WHERE b.id = $1`, id)
	return &b, notFound("backup plan", err)
}

// BackupsOf lists a service's plans, oldest first.
func (s *Store) BackupsOf(ctx context.Context, serviceID int64) ([]Backup, error) {
	out := []Backup{}
	err := s.db.SelectContext(ctx, &out, backupSelect+` WHERE b.service_id = $1 ORDER BY b.id`, serviceID)
	return out, opError("backup plans", err)
}

// EnabledBackups lists every enabled plan with a schedule, for the
// scheduler's missed-run check.
func (s *Store) EnabledBackups(ctx context.Context) ([]Backup, error) {
	out := []Backup{}
	err := s.db.SelectContext(ctx, &out, backupSelect+` WHERE b.enabled AND (b.cron <> '' OR b.drill_cron <> '') ORDER BY b.id`)
	return out, opError("enabled backup plans", err)
}

// DeleteBackup removes a plan; its runs stay recorded (and restorable).
func (s *Store) DeleteBackup(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM backups WHERE id = $1`, id)
	return rowsOrNotFound(res, err)
}

// AdvanceSchedule moves a plan's next backup (drill when drill is set)
// from due to next, and reports whether this caller did it: when several
// processes schedule, exactly one of them queues each due run.
func (s *Store) AdvanceSchedule(ctx context.Context, id int64, drill bool, due time.Time, next *time.Time) (bool, error) {
	col := "next_run_at"
	if drill {
		col = "next_drill_at"
	}
	// col is one of two fixed names, never input.
	res, err := s.db.ExecContext(ctx, `UPDATE backups SET `+col+` = $3 WHERE id = $1 AND `+col+` = $2`, id, due, next)
	if err != nil {
		return false, fmt.Errorf("advance backup schedule: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetBackupMissed records (or clears, with nil) that a plan missed its
// schedule.
func (s *Store) SetBackupMissed(ctx context.Context, id int64, at *time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE backups SET missed_at = $2 WHERE id = $1`, id, at)
	return err
}

// BackupRun is one backup artifact and the operation that made it.
type BackupRun struct {
	ID            int64      `db:"id" json:"id"`
	BackupID      *int64     `db:"backup_id" json:"backup_id"`
	ServiceID     int64      `db:"service_id" json:"database_id"`
	DestinationID *int64     `db:"destination_id" json:"destination_id"`
	DeploymentID  int64      `db:"deployment_id" json:"operation_id"`
	Reason        string     `db:"reason" json:"reason"`
	ObjectKey     string     `db:"object_key" json:"object_key"`
	SizeBytes     int64      `db:"size_bytes" json:"size_bytes"`
	SHA256        string     `db:"sha256" json:"sha256"`
	Engine        string     `db:"engine" json:"engine"`
	EngineVersion string     `db:"engine_version" json:"engine_version"`
	Format        string     `db:"format" json:"format"`
	DeletedAt     *time.Time `db:"deleted_at" json:"deleted_at"`
	DrilledAt     *time.Time `db:"drilled_at" json:"drilled_at"`
	DrillOK       *bool      `db:"drill_ok" json:"drill_ok"`
	DrillSummary  string     `db:"drill_summary" json:"drill_summary"`
	Volume        *string    `db:"volume" json:"volume,omitempty"` // the app volume copied; nil for a database
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	BeganAt       *time.Time `db:"began_at" json:"-"`
	CompletedAt   *time.Time `db:"completed_at" json:"-"`

	// Of the run, or of its operation while it has none of its own.
	Status     string     `db:"status" json:"status"`
	Error      string     `db:"error" json:"error"`
	StartedAt  *time.Time `db:"started_at" json:"started_at"`
	FinishedAt *time.Time `db:"finished_at" json:"finished_at"`

	// Joined for display.
	ServiceName     string  `db:"service_name" json:"database"`
	DestinationName *string `db:"destination_name" json:"destination"`
}

// Succeeded reports whether the run produced a complete artifact.
func (r *BackupRun) Succeeded() bool { return r.SHA256 != "" }

// Restorable reports whether the artifact can still be read back.
func (r *BackupRun) Restorable() bool {
	return r.Succeeded() && r.DeletedAt == nil && r.DestinationID != nil
}

// runStatus is a run's status: done once its artifact is recorded (which
// happens only after the whole object is stored) and, for a backup
// operation, once the operation ended too: retention runs after the
// artifact is recorded, and a run shown done must have applied it. Else
// its operation's. A restore's safety backup is done as soon as it is
// stored, even if the restore then fails.
const runStatus = `CASE WHEN r.sha256 <> '' AND d.action = 'backup' AND d.status IN ('queued', 'running') THEN 'running'
	WHEN r.sha256 <> '' THEN 'done' WHEN d.status = 'done' THEN 'error' ELSE d.status END`

const backupRunSelect = `
	SELECT r.*, ` + runStatus + ` AS status, d.error,
		coalesce(r.began_at, d.started_at) AS started_at, coalesce(r.completed_at, d.finished_at) AS finished_at, s.name AS service_name, dst.name AS destination_name
	FROM backup_runs r
	JOIN deployments d ON d.id = r.deployment_id
	JOIN services s ON s.id = r.service_id
	LEFT JOIN destinations dst ON dst.id = r.destination_id`

// QueueBackup queues a backup run of plan b. A run already queued for the
// same service (and volume) is returned instead: one backup per database
// or volume at a time, and pressing "Back up now" twice makes one run.
func (s *Store) QueueBackup(ctx context.Context, b *Backup, reason, triggeredBy string) (*BackupRun, error) {
	var run *BackupRun
	err := s.InTx(ctx, func(tx *Store) error {
		var locked int64
		if err := tx.db.GetContext(ctx, &locked, `SELECT id FROM services WHERE id = $1 FOR UPDATE`, b.ServiceID); err != nil {
			return notFound("queue backup", err)
		}
		var queued BackupRun
		err := tx.db.GetContext(ctx, &queued, backupRunSelect+`
			WHERE r.service_id = $1 AND r.volume IS NOT DISTINCT FROM $2 AND d.status = 'queued' AND d.action = 'backup'
			ORDER BY r.id LIMIT 1`, b.ServiceID, b.Volume)
		if err == nil {
			run = &queued
			return nil
		}
		trigger := "user"
		if reason == BackupSchedule {
			trigger = "schedule"
		}
		d, err := tx.queueDeployment(ctx, &Deployment{ServiceID: b.ServiceID, Action: ActionBackup, Trigger: trigger, TriggeredBy: triggeredBy})
		if err != nil {
			return err
		}
		id, err := tx.insertBackupRun(ctx, &BackupRun{BackupID: &b.ID, ServiceID: b.ServiceID, DestinationID: &b.DestinationID,
			DeploymentID: d.ID, Reason: reason, Volume: b.Volume})
		if err != nil {
			return err
		}
		run, err = tx.BackupRun(ctx, id)
		return err
	})
	return run, err
}

// CreateSafetyRun records the backup a restore takes first, as part of the
// restore's own operation.
func (s *Store) CreateSafetyRun(ctx context.Context, from *BackupRun, deploymentID int64) (*BackupRun, error) {
	id, err := s.insertBackupRun(ctx, &BackupRun{
		BackupID: from.BackupID, ServiceID: from.ServiceID, DestinationID: from.DestinationID,
		DeploymentID: deploymentID, Reason: BackupSafety, Volume: from.Volume,
	})
	if err != nil {
		return nil, err
	}
	return s.BackupRun(ctx, id)
}

func (s *Store) insertBackupRun(ctx context.Context, r *BackupRun) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO backup_runs (backup_id, service_id, destination_id, deployment_id, reason, volume)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, r.BackupID, r.ServiceID, r.DestinationID, r.DeploymentID, r.Reason, r.Volume)
	return id, opError("insert backup run", err)
}

// QueueArtifactOperation queues a restore or a drill of run into the
// service serviceID (the run's own database or a new one).
func (s *Store) QueueArtifactOperation(ctx context.Context, serviceID int64, action string, run *BackupRun, triggeredBy string) (*Deployment, error) {
	return s.queueDeployment(ctx, &Deployment{
		ServiceID: serviceID, Action: action, Trigger: "user", TriggeredBy: triggeredBy, BackupRunID: &run.ID,
	})
}

// QueueObjectRestore records an object found in a destination (its facts
// read from its sidecar) as an artifact of the service and queues its
// restore into the service, in one transaction.
func (s *Store) QueueObjectRestore(ctx context.Context, serviceID, destinationID int64, a BackupArtifact, triggeredBy string) (*Deployment, error) {
	var dep *Deployment
	err := s.InTx(ctx, func(tx *Store) error {
		var err error
		dep, err = tx.queueDeployment(ctx, &Deployment{ServiceID: serviceID, Action: ActionRestore, Trigger: "user", TriggeredBy: triggeredBy})
		if err != nil {
			return err
		}
		id, err := tx.insertBackupRun(ctx, &BackupRun{ServiceID: serviceID, DestinationID: &destinationID, DeploymentID: dep.ID, Reason: BackupImport})
		if err != nil {
			return err
		}
		if err := tx.RecordBackupArtifact(ctx, id, a); err != nil {
			return err
		}
		if _, err := tx.db.ExecContext(ctx, `UPDATE deployments SET backup_run_id = $2 WHERE id = $1`, dep.ID, id); err != nil {
			return err
		}
		dep.BackupRunID = &id
		return nil
	})
	return dep, err
}

// BackupRun loads one run.
func (s *Store) BackupRun(ctx context.Context, id int64) (*BackupRun, error) {
	var r BackupRun
	err := s.db.GetContext(ctx, &r, backupRunSelect+` WHERE r.id = $1`, id)
	return &r, notFound("backup run", err)
}

// BackupRunOf loads the run a backup operation produces.
func (s *Store) BackupRunOf(ctx context.Context, deploymentID int64) (*BackupRun, error) {
	var r BackupRun
	err := s.db.GetContext(ctx, &r, backupRunSelect+` WHERE r.deployment_id = $1 AND r.reason IN ('manual', 'schedule') ORDER BY r.id LIMIT 1`,
		deploymentID)
	return &r, notFound("backup run of operation", err)
}

// SafetyRunOf loads the safety backup a restore operation took, if any.
func (s *Store) SafetyRunOf(ctx context.Context, deploymentID int64) (*BackupRun, error) {
	var r BackupRun
	err := s.db.GetContext(ctx, &r, backupRunSelect+` WHERE r.deployment_id = $1 AND r.reason = 'safety' ORDER BY r.id DESC LIMIT 1`,
		deploymentID)
	return &r, notFound("safety backup of operation", err)
}

// BackupRunsOf lists a service's runs, newest first, one page.
func (s *Store) BackupRunsOf(ctx context.Context, serviceID int64, limit, offset int) ([]BackupRun, error) {
	out := []BackupRun{}
	err := s.db.SelectContext(ctx, &out, backupRunSelect+` WHERE r.service_id = $1 ORDER BY r.id DESC LIMIT $2 OFFSET $3`,
		serviceID, limit, offset)
	return out, opError("backup runs", err)
}

// LatestRestorableRun is the newest artifact of a service that can be
// read back, for drills.
func (s *Store) LatestRestorableRun(ctx context.Context, serviceID int64) (*BackupRun, error) {
	var r BackupRun
	err := s.db.GetContext(ctx, &r, backupRunSelect+`
		WHERE r.service_id = $1 AND r.sha256 <> '' AND r.deleted_at IS NULL AND r.destination_id IS NOT NULL
		ORDER BY r.completed_at DESC LIMIT 1`, serviceID)
	return &r, notFound("latest backup", err)
}

// LastDrill is the newest drilled artifact of a service.
func (s *Store) LastDrill(ctx context.Context, serviceID int64) (*BackupRun, error) {
	var r BackupRun
	err := s.db.GetContext(ctx, &r, backupRunSelect+` WHERE r.service_id = $1 AND r.drilled_at IS NOT NULL ORDER BY r.drilled_at DESC LIMIT 1`, serviceID)
	return &r, notFound("last drill", err)
}

// BackupArtifact is what a finished run recorded about its object.
type BackupArtifact struct {
	ObjectKey     string
	SizeBytes     int64
	SHA256        string
	Engine        string
	EngineVersion string
	Format        string
}

// StartBackupRun records when a run began dumping.
func (s *Store) StartBackupRun(ctx context.Context, runID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE backup_runs SET began_at = clock_timestamp() WHERE id = $1`, runID)
	return err
}

// RecordBackupArtifact stores a complete object's facts on its run: from
// then on the run counts as done.
func (s *Store) RecordBackupArtifact(ctx context.Context, runID int64, a BackupArtifact) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE backup_runs SET object_key = $2, size_bytes = $3, sha256 = $4, engine = $5, engine_version = $6, format = $7,
			completed_at = clock_timestamp()
		WHERE id = $1`, runID, a.ObjectKey, a.SizeBytes, a.SHA256, a.Engine, truncate(a.EngineVersion, 200), a.Format)
	return rowsOrNotFound(res, err)
}

// RetentionCandidates lists a plan's successful, still present runs,
// newest first: the set retention chooses from. Failed, cancelled and
// running runs are never in it.
func (s *Store) RetentionCandidates(ctx context.Context, backupID int64) ([]BackupRun, error) {
	out := []BackupRun{}
	err := s.db.SelectContext(ctx, &out, backupRunSelect+`
		WHERE r.backup_id = $1 AND r.sha256 <> '' AND r.deleted_at IS NULL
		ORDER BY r.completed_at DESC, r.id DESC`, backupID)
	return out, opError("retention candidates", err)
}

// MarkBackupRunDeleted records that a run's object was removed.
func (s *Store) MarkBackupRunDeleted(ctx context.Context, runID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE backup_runs SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`, runID)
	return err
}

// RecordDrill stores a drill's outcome on the artifact it restored.
func (s *Store) RecordDrill(ctx context.Context, runID int64, ok bool, summary string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE backup_runs SET drilled_at = now(), drill_ok = $2, drill_summary = $3 WHERE id = $1`,
		runID, ok, truncate(summary, 1000))
	return err
}

// Event is something a user should hear about.
type Event struct {
	ID        int64     `db:"id" json:"id"`
	Kind      string    `db:"kind" json:"kind"`
	ServiceID *int64    `db:"service_id" json:"service_id"`
	Message   string    `db:"message" json:"message"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// AddEvent records an event for the notification channels.
func (s *Store) AddEvent(ctx context.Context, kind string, serviceID *int64, message string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO events (kind, service_id, message) VALUES ($1, $2, $3)`, kind, serviceID, truncate(message, 1000))
	return opError("add event", err)
}

// Events lists the newest events.
func (s *Store) Events(ctx context.Context, limit int) ([]Event, error) {
	out := []Event{}
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM events ORDER BY id DESC LIMIT $1`, limit)
	return out, opError("events", err)
}
