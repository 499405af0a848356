package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Deployment statuses.
const (
	DeployQueued    = "queued"
	DeployRunning   = "running"
	DeployDone      = "done"
	DeployError     = "error"
	DeployCancelled = "cancelled"
)

// Deployment is one attempt to put a version of an app into service.
// PostgreSQL is the record of the queue: Redis only carries ids.
type Deployment struct {
	ID              int64      `db:"id" json:"id"`
	ServiceID       int64      `db:"service_id" json:"application_id"`
	Status          string     `db:"status" json:"status"`
	Trigger         string     `db:"trigger" json:"trigger"`
	TriggeredBy     string     `db:"triggered_by" json:"triggered_by"`
	Error           string     `db:"error" json:"error"`
	CommitSHA       string     `db:"commit_sha" json:"commit"`
	CommitMessage   string     `db:"commit_message" json:"commit_message"`
	Image           string     `db:"image" json:"image"`
	CancelRequested bool       `db:"cancel_requested" json:"-"`
	WorkerID        string     `db:"worker_id" json:"-"`
	CreatedAt       time.Time  `db:"created_at" json:"created_at"`
	StartedAt       *time.Time `db:"started_at" json:"started_at"`
	FinishedAt      *time.Time `db:"finished_at" json:"finished_at"`
	// ServingAt is when the new version started taking traffic, before
	// the deployment settles (FinishedAt); nil until then, and for
	// deployments that start no new version.
	ServingAt   *time.Time `db:"serving_at" json:"serving_at"`
	RollbackOf  *int64     `db:"rollback_of" json:"rollback_of"`
	Action      string     `db:"action" json:"action"`
	SecretEnc   []byte     `db:"secret_enc" json:"-"`
	BackupRunID *int64     `db:"backup_run_id" json:"backup_run_id,omitempty"`
	// LogPruned: history retention removed this deployment's log lines.
	LogPruned   bool   `db:"log_pruned" json:"log_pruned"`
	AppName     string `db:"app_name" json:"app_name"`
	ServiceKind string `db:"service_kind" json:"-"`
}

// Deployment actions: apps only deploy; databases also start, stop,
// restart and change their password through the same queue.
const (
	ActionDeploy   = "deploy"
	ActionStart    = "start"
	ActionStop     = "stop"
	ActionRestart  = "restart"
	ActionPassword = "password"
)

// Finished reports whether the deployment reached a final status.
func (d *Deployment) Finished() bool {
	return d.Status == DeployDone || d.Status == DeployError || d.Status == DeployCancelled
}

// Duration is how long the deployment ran (so far).
func (d *Deployment) Duration() time.Duration {
	if d.StartedAt == nil {
		return 0
	}
	end := time.Now()
	if d.FinishedAt != nil {
		end = *d.FinishedAt
	}
	return end.Sub(*d.StartedAt).Round(100 * time.Millisecond)
}

// ServingAfter is how long after the request the new version started
// taking traffic; 0 when it has not (yet).
func (d *Deployment) ServingAfter() time.Duration {
	if d.ServingAt == nil {
		return 0
	}
	return d.ServingAt.Sub(d.CreatedAt).Round(100 * time.Millisecond)
}

const deploymentSelect = `SELECT d.*, s.name AS app_name, s.kind AS service_kind FROM deployments d JOIN services s ON s.id = d.service_id`

// CreateDeployment queues a deployment. Older queued deployments of the same
// app collapse into this one: they are cancelled as superseded.
func (s *Store) CreateDeployment(ctx context.Context, appID int64, trigger, triggeredBy string) (*Deployment, error) {
	return s.queueDeployment(ctx, &Deployment{ServiceID: appID, Trigger: trigger, TriggeredBy: triggeredBy})
}

// CreateOperation queues an action other than a deploy on a service (a
// database's start, stop, restart or password change); secret, sealed, is
// what the worker needs and nobody else sees (the new password).
func (s *Store) CreateOperation(ctx context.Context, serviceID int64, action, triggeredBy, secret string) (*Deployment, error) {
	return s.queueDeployment(ctx, &Deployment{
		ServiceID: serviceID, Action: action, Trigger: "user", TriggeredBy: triggeredBy,
		SecretEnc: s.cipher.sealOptional(secret),
	})
}

// DeploymentSecret decrypts what CreateOperation sealed.
func (s *Store) DeploymentSecret(d *Deployment) (string, error) {
	v, err := s.cipher.Open(d.SecretEnc)
	return v, opError("deployment secret", err)
}

// CreateRollback queues a deployment that puts the image of an earlier
// successful deployment back into service, without a build.
func (s *Store) CreateRollback(ctx context.Context, from *Deployment, triggeredBy string) (*Deployment, error) {
	if from.Status != DeployDone || from.Image == "" {
		return nil, conflictf("only a successful deployment can be rolled back to")
	}
	return s.queueDeployment(ctx, &Deployment{
		ServiceID: from.ServiceID, Trigger: "rollback", TriggeredBy: triggeredBy, RollbackOf: &from.ID,
		Image: from.Image, CommitSHA: from.CommitSHA, CommitMessage: from.CommitMessage,
	})
}

// supersedes says which queued actions a new one makes pointless: a
// deploy replaces queued deploys, and the last of start, stop and restart
// is the one the user wants. A password change is never dropped.
var supersedes = map[string][]string{
	ActionDeploy:  {ActionDeploy},
	ActionStart:   {ActionStart, ActionStop, ActionRestart},
	ActionStop:    {ActionStart, ActionStop, ActionRestart},
	ActionRestart: {ActionStart, ActionStop, ActionRestart},
	ActionDrill:   {ActionDrill},
}

func (s *Store) queueDeployment(ctx context.Context, n *Deployment) (*Deployment, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := s.lockServiceQueue(ctx, tx, n.ServiceID); err != nil {
		return nil, err
	}
	id, err := s.insertQueued(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return s.Deployment(ctx, id)
}

// lockServiceQueue serialises concurrent queueing for one service on its
// row, across processes, until tx ends. Take it before any other write of
// the transaction that references the service (a foreign key's share lock
// held first would deadlock against another transaction's). The
// statement is prepared: every queued deployment and webhook push runs it.
func (s *Store) lockServiceQueue(ctx context.Context, tx txn, serviceID int64) error {
	st, err := s.prepared(ctx, tx.Tx, `SELECT id FROM services WHERE id = $1 FOR UPDATE`)
	if err != nil {
		return opError("queue deployment", err)
	}
	var locked int64
	if err := st.GetContext(ctx, &locked, serviceID); err != nil {
		return notFound("queue deployment", err)
	}
	return nil
}

// insertQueued inserts n as queued, with its source fields, and cancels
// the queued deployments of the service it supersedes, in one statement.
// The caller holds lockServiceQueue, so the statement's snapshot (taken
// after the lock) sees every queued deployment another transaction
// committed; the UPDATE does not see the row the INSERT adds.
func (s *Store) insertQueued(ctx context.Context, tx txn, n *Deployment) (int64, error) {
	if n.Action == "" {
		n.Action = ActionDeploy
	}
	st, err := s.prepared(ctx, tx.Tx, insertQueuedSQL)
	if err != nil {
		return 0, err
	}
	var id int64
	err = st.GetContext(ctx, &id,
		n.ServiceID, n.Trigger, n.TriggeredBy, n.RollbackOf, n.Image, n.CommitSHA, n.CommitMessage, n.Action, n.SecretEnc, n.BackupRunID,
		pqStringArray(supersedes[n.Action]))
	return id, err
}

// insertQueuedSQL is insertQueued's statement, prepared: every queued
// deployment runs it.
const insertQueuedSQL = queuedCTEs + `
	SELECT id FROM ins`

// queuedCTEs insert the deployment ($1-$10, as insertQueued passes them)
// as ins and cancel the queued ones of actions $11 it supersedes; a
// statement that also records what the deployment is for (the webhook
// deliveries of QueueWebhookPushes) continues with its own CTEs.
const queuedCTEs = `
	WITH ins AS (
		INSERT INTO deployments (service_id, trigger, triggered_by, rollback_of, image, commit_sha, commit_message, action, secret_enc, backup_run_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id),
	superseded AS (
		UPDATE deployments SET status = 'cancelled', finished_at = now(),
			error = 'superseded by deployment #' || (SELECT id FROM ins), secret_enc = NULL
		WHERE service_id = $1 AND status = 'queued' AND action = ANY($11))`

// Deployment loads one deployment.
func (s *Store) Deployment(ctx context.Context, id int64) (*Deployment, error) {
	var d Deployment
	err := s.db.GetContext(ctx, &d, deploymentSelect+` WHERE d.id = $1`, id)
	return &d, notFound("deployment", err)
}

// Deployments lists an app's newest deployments.
func (s *Store) Deployments(ctx context.Context, appID int64, limit int) ([]Deployment, error) {
	return s.DeploymentsPage(ctx, appID, limit, 0)
}

// DeploymentsPage lists an app's deployments, newest first, one page.
func (s *Store) DeploymentsPage(ctx context.Context, appID int64, limit, offset int) ([]Deployment, error) {
	out := []Deployment{}
	err := s.db.SelectContext(ctx, &out, deploymentSelect+` WHERE d.service_id = $1 ORDER BY d.id DESC LIMIT $2 OFFSET $3`,
		appID, limit, offset)
	return out, opError("deployments page", err)
}

// DeploymentHistory is Deployments for pages: the same rows without the
// sealed operation secret (secret_enc), which only the worker opens.
func (s *Store) DeploymentHistory(ctx context.Context, appID int64, limit int) ([]Deployment, error) {
	out := []Deployment{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT d.id, d.service_id, d.status, d.trigger, d.triggered_by, d.error, d.commit_sha, d.commit_message,
			d.image, d.cancel_requested, d.worker_id, d.created_at, d.started_at, d.serving_at, d.finished_at, d.rollback_of,
			d.action, d.backup_run_id, d.log_pruned, s.name AS app_name, s.kind AS service_kind
		FROM deployments d JOIN services s ON s.id = d.service_id
		WHERE d.service_id = $1 ORDER BY d.id DESC LIMIT $2`, appID, limit)
	return out, opError("deployment history", err)
}

// QueuedDeployments lists queued deployments, oldest first, so lost queue
// entries can be re-enqueued from the database.
func (s *Store) QueuedDeployments(ctx context.Context) ([]Deployment, error) {
	out := []Deployment{}
	err := s.db.SelectContext(ctx, &out, deploymentSelect+` WHERE d.status = 'queued' ORDER BY d.id`)
	return out, opError("queued deployments", err)
}

// ErrAppBusy means another deployment of the same app is running.
var ErrAppBusy = fmt.Errorf("another deployment of this app is running")

// ClaimDeployment moves a queued deployment to running for workerID. It
// returns ErrNotFound when the deployment is no longer queued (cancelled,
// superseded or claimed elsewhere) and ErrAppBusy when the app already has a
// running deployment: one app never runs two deployments at once.
func (s *Store) ClaimDeployment(ctx context.Context, id int64, workerID string) (*Deployment, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var claim struct {
		ServiceID int64  `db:"id"`
		Kind      string `db:"kind"`
		Action    string `db:"action"`
	}
	err = tx.GetContext(ctx, &claim, `
		SELECT s.id, s.kind, d.action FROM services s JOIN deployments d ON d.service_id = s.id
		WHERE d.id = $1 AND d.status = 'queued' FOR UPDATE OF s`, id)
	if err != nil {
		return nil, notFound("claim deployment", err)
	}
	appID := claim.ServiceID
	// Operations of one service run one at a time and in the order they
	// were queued: a restore into a new database waits for its first deploy.
	var running int
	if err := tx.GetContext(ctx, &running, `
		SELECT count(*) FROM deployments
		WHERE service_id = $1 AND (status = 'running' OR (status = 'queued' AND id < $2))`, appID, id); err != nil {
		return nil, err
	}
	if running > 0 {
		return nil, ErrAppBusy
	}
	// clock_timestamp, not now(): now() is when this transaction began,
	// which may be before the previous deployment of the app finished.
	if _, err := tx.ExecContext(ctx, `
		UPDATE deployments SET status = 'running', started_at = clock_timestamp(), worker_id = $2 WHERE id = $1`, id, workerID); err != nil {
		return nil, err
	}
	if claim.Action == ActionDeploy {
		// The table is chosen from the fixed kinds, never from input.
		table := map[string]string{KindApp: "applications", KindDatabase: "databases", KindCompose: "compose_stacks"}[claim.Kind]
		if table != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET status = $2 WHERE id = $1`, appID, AppDeploying); err != nil {
				return nil, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return s.Deployment(ctx, id)
}

// SetDeploymentSource records the commit or image being deployed.
func (s *Store) SetDeploymentSource(ctx context.Context, id int64, commitSHA, commitMessage, image string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE deployments SET commit_sha = $2, commit_message = $3, image = $4 WHERE id = $1`,
		id, commitSHA, truncate(commitMessage, 500), image)
	return err
}

// SetDeploymentServing records when the deployment's new version started
// taking traffic; only the first call counts.
func (s *Store) SetDeploymentServing(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE deployments SET serving_at = $2 WHERE id = $1 AND serving_at IS NULL`, id, at)
	return opError("set deployment serving", err)
}

// FinishDeployment records the final status. errMsg is a one-line reason.
func (s *Store) FinishDeployment(ctx context.Context, id int64, status, errMsg string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE deployments SET status = $2, error = $3, finished_at = now(), secret_enc = NULL
		WHERE id = $1 AND status IN ('queued', 'running')`, id, status, truncate(errMsg, 1000))
	return err
}

// RequestCancel cancels a queued deployment at once, or flags a running one
// so its worker stops it. It reports the resulting status.
func (s *Store) RequestCancel(ctx context.Context, id int64) (string, error) {
	var status string
	err := s.db.GetContext(ctx, &status, `
		UPDATE deployments SET
			status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
			finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
			error = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE error END,
			cancel_requested = (status = 'running'),
			secret_enc = CASE WHEN status = 'queued' THEN NULL ELSE secret_enc END
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING status`, id)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := s.Deployment(ctx, id); err != nil {
				return "", err
			}
			return "", conflictf("deployment already finished")
		}
		return "", err
	}
	return status, nil
}

// CancelRequested tells a worker whether the user asked to stop.
func (s *Store) CancelRequested(ctx context.Context, id int64) (bool, error) {
	var v bool
	err := s.db.GetContext(ctx, &v, `SELECT cancel_requested FROM deployments WHERE id = $1`, id)
	return v, notFound("cancel requested", err)
}

// CancelState is what a worker polls while it runs a deployment: whether
// the user asked to stop and the row's status (anything but running means
// another process took the deployment over).
func (s *Store) CancelState(ctx context.Context, id int64) (cancelRequested bool, status string, err error) {
	var row struct {
		Cancel bool   `db:"cancel_requested"`
		Status string `db:"status"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT cancel_requested, status FROM deployments WHERE id = $1`, id)
	if err != nil {
		return false, "", notFound(fmt.Sprintf("deployment %d cancel state", id), err)
	}
	return row.Cancel, row.Status, nil
}

// RunningDeployments lists the deployments marked running, for recovery.
// Only ID and WorkerID are set.
func (s *Store) RunningDeployments(ctx context.Context) ([]Deployment, error) {
	out := []Deployment{}
	if err := s.db.SelectContext(ctx, &out, `SELECT id, worker_id FROM deployments WHERE status = 'running'`); err != nil {
		return nil, fmt.Errorf("running deployments: %w", err)
	}
	return out, nil
}

// LogLine is one stored line of a deployment log.
type LogLine struct {
	Seq  int    `db:"seq" json:"seq"`
	Line string `db:"line" json:"line"`
}

// AppendLogs stores lines with consecutive sequence numbers starting at first.
func (s *Store) AppendLogs(ctx context.Context, deploymentID int64, first int, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	seqs := make([]int, len(lines))
	for i := range lines {
		seqs[i] = first + i
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO deployment_logs (deployment_id, seq, line)
		SELECT $1, unnest($2::int[]), unnest($3::text[])`,
		deploymentID, pqIntArray(seqs), pqStringArray(lines))
	return err
}

// Logs returns lines after seq afterSeq, in order, at most limit.
func (s *Store) Logs(ctx context.Context, deploymentID int64, afterSeq, limit int) ([]LogLine, error) {
	out := []LogLine{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT seq, line FROM deployment_logs WHERE deployment_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		deploymentID, afterSeq, limit)
	return out, opError("logs", err)
}

// LastLogSeq returns the sequence number of a deployment's last log line,
// 0 when it has none.
func (s *Store) LastLogSeq(ctx context.Context, deploymentID int64) (int, error) {
	var last int
	if err := s.db.GetContext(ctx, &last, `SELECT coalesce(max(seq), 0) FROM deployment_logs WHERE deployment_id = $1`, deploymentID); err != nil {
		return 0, fmt.Errorf("last log line of deployment %d: %w", deploymentID, err)
	}
	return last, nil
}

// LogStats sums up a deployment's stored log.
type LogStats struct {
	LastSeq int `db:"last_seq"` // 0 when there are no lines
	Lines   int `db:"lines"`
	Bytes   int `db:"bytes"` // of line text
}

// LogStats returns the last sequence number, the number of lines and their
// total size of a deployment's log.
func (s *Store) LogStats(ctx context.Context, deploymentID int64) (LogStats, error) {
	var st LogStats
	err := s.db.GetContext(ctx, &st, `
		SELECT coalesce(max(seq), 0) AS last_seq, count(*) AS lines, coalesce(sum(octet_length(line)), 0) AS bytes
		FROM deployment_logs WHERE deployment_id = $1`, deploymentID)
	return st, opError("log stats", err)
}

// ExpiredImages lists images of an app's successful deployments beyond the
// newest keep, which the pruner may remove (never the running one).
func (s *Store) ExpiredImages(ctx context.Context, appID int64, keep int) ([]string, error) {
	out := []string{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT DISTINCT image FROM (
			SELECT d.image FROM deployments d
			WHERE d.service_id = $1 AND d.status = 'done' AND d.image <> ''
			ORDER BY d.id DESC OFFSET $2) old
		WHERE image NOT IN (
			SELECT image FROM deployments WHERE service_id = $1 AND status = 'done' AND image <> '' ORDER BY id DESC LIMIT $2)
		AND image <> (SELECT current_image FROM applications WHERE id = $1)`, appID, keep)
	return out, opError("expired images", err)
}
