package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
)

// What a webhook reacts to.
const (
	DeployOnPush = "push" // pushes to the app's branch
	DeployOnTag  = "tag"  // pushes of tags
)

// Outcomes of a webhook delivery.
const (
	DeliveryDeployed = "deployed"
	DeliveryIgnored  = "ignored"
	DeliveryRejected = "rejected"
)

// Webhook is an app's deploy webhook: the secret URL token, the optional
// signing secret and the filters that decide whether a push deploys.
type Webhook struct {
	ServiceID  int64          `db:"service_id"`
	TokenHash  string         `db:"token_hash"`
	TokenEnc   []byte         `db:"token_enc"`
	SecretEnc  []byte         `db:"secret_enc"`
	DeployOn   string         `db:"deploy_on"`
	WatchPaths pq.StringArray `db:"watch_paths"`
	AutoDeploy bool           `db:"auto_deploy"`
	UpdatedAt  time.Time      `db:"updated_at"`
	// Kind is the service's kind (KindApp, KindCompose, ...), set by
	// WebhookByToken only.
	Kind string `db:"kind"`

	// Token and Secret are the decrypted values, filled on load.
	Token  string `db:"-"`
	Secret string `db:"-"`
}

// HasSecret reports whether deliveries must prove they know the secret.
func (w *Webhook) HasSecret() bool { return len(w.SecretEnc) > 0 }

// WebhookSettings are the user-editable filters of a webhook.
type WebhookSettings struct {
	DeployOn   string
	WatchPaths []string
	AutoDeploy bool
}

func (s *Store) openWebhook(w *Webhook) (*Webhook, error) {
	var err error
	if w.Token, err = s.cipher.Open(w.TokenEnc); err != nil {
		return nil, fmt.Errorf("db: webhook token of app %d: %w", w.ServiceID, err)
	}
	if w.Secret, err = s.cipher.Open(w.SecretEnc); err != nil {
		return nil, fmt.Errorf("db: webhook secret of app %d: %w", w.ServiceID, err)
	}
	if w.WatchPaths == nil {
		w.WatchPaths = pq.StringArray{}
	}
	return w, nil
}

// AppWebhook returns the app's webhook, creating it on first use with a
// random token and a random secret: verification is on unless the user
// turns it off. Creation is lazy because token and secret are sealed with
// the cipher, which a SQL migration cannot do for existing apps.
func (s *Store) AppWebhook(ctx context.Context, appID int64) (*Webhook, error) {
	var w Webhook
	err := s.db.GetContext(ctx, &w, `SELECT * FROM service_webhooks WHERE service_id = $1`, appID)
	if err == nil {
		return s.openWebhook(&w)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("db: get webhook of app %d: %w", appID, err)
	}
	token := RandomToken()
	// ON CONFLICT: two first requests may race; the loser reads the winner's row.
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO service_webhooks (service_id, token_hash, token_enc, secret_enc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (service_id) DO NOTHING`,
		appID, hashToken(token), s.cipher.Seal(token), s.cipher.Seal(RandomToken()))
	if isForeignKeyViolation(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("db: create webhook of app %d: %w", appID, err)
	}
	if err := s.db.GetContext(ctx, &w, `SELECT * FROM service_webhooks WHERE service_id = $1`, appID); err != nil {
		return nil, notFound("app webhook", err)
	}
	return s.openWebhook(&w)
}

// WebhookTarget is a webhook found by its URL token, with what the
// filters of a delivery look at in the service it deploys: an app's
// source, image and branch, or a compose stack's source and branch.
type WebhookTarget struct {
	Webhook
	SourceType string `db:"target_source_type"` // an app's SourceGit/SourceImage; a stack's SourceGit/ComposeInline
	Image      string `db:"target_image"`       // an app's image; "" for a stack
	GitBranch  string `db:"target_git_branch"`
}

// webhookTargetSQL is one indexed lookup: a push pays a single round trip
// for its webhook and target instead of one for each. Columns are named
// because the statement is prepared (see prepared).
const webhookTargetSQL = `
	SELECT w.service_id, w.token_hash, w.token_enc, w.secret_enc, w.deploy_on, w.watch_paths, w.auto_deploy, w.updated_at,
		s.kind, COALESCE(a.source_type, c.source_type, '') AS target_source_type, COALESCE(a.image, '') AS target_image,
		COALESCE(a.git_branch, c.git_branch, '') AS target_git_branch
	FROM service_webhooks w
	JOIN services s ON s.id = w.service_id
	LEFT JOIN applications a ON a.id = s.id AND s.kind = 'app'
	LEFT JOIN compose_stacks c ON c.id = s.id AND s.kind = 'compose'
	WHERE w.token_hash = $1`

// WebhookByToken finds the webhook a deploy URL names, with the kind of
// its service and the fields of its target (see WebhookTarget).
func (s *Store) WebhookByToken(ctx context.Context, token string) (*WebhookTarget, error) {
	st, err := s.prepared(ctx, nil, webhookTargetSQL)
	if err != nil {
		return nil, opError("webhook by token", err)
	}
	var t WebhookTarget
	if err := st.GetContext(ctx, &t, hashToken(token)); err != nil {
		return nil, notFound("webhook by token", err)
	}
	if _, err := s.openWebhook(&t.Webhook); err != nil {
		return nil, err
	}
	return &t, nil
}

// RotateWebhookToken replaces the URL token; the old URL stops working at once.
func (s *Store) RotateWebhookToken(ctx context.Context, appID int64) (*Webhook, error) {
	if _, err := s.AppWebhook(ctx, appID); err != nil {
		return nil, err
	}
	token := RandomToken()
	res, err := s.db.ExecContext(ctx, `
		UPDATE service_webhooks SET token_hash = $2, token_enc = $3, updated_at = now() WHERE service_id = $1`,
		appID, hashToken(token), s.cipher.Seal(token))
	if err := rowsOrNotFound(res, err); err != nil {
		return nil, err
	}
	return s.AppWebhook(ctx, appID)
}

// SetWebhookSecret stores a new signing secret; "" turns verification off.
func (s *Store) SetWebhookSecret(ctx context.Context, appID int64, secret string) error {
	if _, err := s.AppWebhook(ctx, appID); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `
		UPDATE service_webhooks SET secret_enc = $2, updated_at = now() WHERE service_id = $1`,
		appID, s.cipher.sealOptional(secret))
	return rowsOrNotFound(res, err)
}

// UpdateWebhookSettings saves the filters.
func (s *Store) UpdateWebhookSettings(ctx context.Context, appID int64, in WebhookSettings) error {
	if _, err := s.AppWebhook(ctx, appID); err != nil {
		return err
	}
	paths := in.WatchPaths
	if paths == nil {
		paths = []string{}
	}
	res, err := s.db.ExecContext(ctx, `
		UPDATE service_webhooks SET deploy_on = $2, watch_paths = $3, auto_deploy = $4, updated_at = now()
		WHERE service_id = $1`,
		appID, in.DeployOn, pqStringArray(paths), in.AutoDeploy)
	return rowsOrNotFound(res, err)
}

// Delivery is one recorded call of a deploy webhook.
type Delivery struct {
	ID            int64     `db:"id" json:"id"`
	ServiceID     int64     `db:"service_id" json:"application_id"`
	CreatedAt     time.Time `db:"created_at" json:"created_at"`
	Provider      string    `db:"provider" json:"provider"`
	Event         string    `db:"event" json:"event"`
	Ref           string    `db:"ref" json:"ref"`
	CommitSHA     string    `db:"commit_sha" json:"commit"`
	CommitMessage string    `db:"commit_message" json:"commit_message"`
	Outcome       string    `db:"outcome" json:"outcome"`
	Reason        string    `db:"reason" json:"reason"`
	DeploymentID  *int64    `db:"deployment_id" json:"deployment_id"`
}

// RecordDelivery stores a delivery and fills its id and time.
func (s *Store) RecordDelivery(ctx context.Context, d *Delivery) error {
	err := s.db.QueryRowxContext(ctx, `
		INSERT INTO webhook_deliveries (service_id, provider, event, ref, commit_sha, commit_message, outcome, reason, deployment_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, created_at`,
		d.ServiceID, ClipText(d.Provider, 40), ClipText(d.Event, 100), ClipText(d.Ref, 300), ClipText(d.CommitSHA, 80),
		ClipText(d.CommitMessage, 500), d.Outcome, ClipText(d.Reason, 500), d.DeploymentID,
	).Scan(&d.ID, &d.CreatedAt)
	if err != nil {
		return fmt.Errorf("db: record webhook delivery of app %d: %w", d.ServiceID, err)
	}
	return nil
}

// Deliveries lists an app's webhook deliveries, newest first.
func (s *Store) Deliveries(ctx context.Context, appID int64, limit, offset int) ([]Delivery, error) {
	out := []Delivery{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT * FROM webhook_deliveries WHERE service_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, appID, limit, offset)
	return out, opError("deliveries", err)
}

// ClipText makes untrusted text storable in a TEXT column: valid UTF-8,
// no NUL bytes (PostgreSQL refuses both), at most n bytes, cut on a rune
// boundary.
func ClipText(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isForeignKeyViolation reports whether err is PostgreSQL's foreign_key_violation.
func isForeignKeyViolation(err error) bool {
	var pqErr interface{ SQLState() string }
	return errors.As(err, &pqErr) && pqErr.SQLState() == "23503"
}

// ClaimDeliveryID records a provider's delivery id for a service and reports
// whether it is new; false means the delivery was already received. Ids
// older than 7 days are dropped on the way.
func (s *Store) ClaimDeliveryID(ctx context.Context, serviceID int64, provider, id string) (bool, error) {
	p := &WebhookPush{Delivery: &Delivery{Provider: provider}, DeliveryID: id}
	if err := s.claimPushIDs(ctx, nil, serviceID, []*WebhookPush{p}); err != nil {
		return false, err
	}
	return !p.Duplicate, nil
}
