package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"
)

// SettingNotificationCooldown is how many minutes a notification's dedupe
// key keeps a second one with the same key from being queued.
const SettingNotificationCooldown = "notification_cooldown_minutes"

// DefaultNotificationCooldown is the cooldown when none is set.
const DefaultNotificationCooldown = 30 * time.Minute

// NotificationKeepDays is how long sent and failed notifications stay
// listed before history retention removes them.
const NotificationKeepDays = 30

// Notification delivery statuses.
const (
	NotifyPending = "pending"
	NotifySent    = "sent"
	NotifyFailed  = "failed"
)

// NotificationChannel is a place notifications go (a Slack webhook, an
// SMTP server, …). Its configuration, with its URLs, tokens and
// passwords, is sealed JSON; NotificationConfig opens it.
type NotificationChannel struct {
	ID        int64          `db:"id" json:"id"`
	Name      string         `db:"name" json:"name"`
	Kind      string         `db:"kind" json:"kind"`
	ConfigEnc []byte         `db:"config_enc" json:"-"`
	Events    pq.StringArray `db:"events" json:"events"`
	// ProjectIDs are the projects the channel hears about; empty: all.
	// Events about no project reach it whatever they are.
	ProjectIDs pq.Int64Array `db:"project_ids" json:"projects"`
	Enabled    bool          `db:"enabled" json:"enabled"`
	CreatedAt  time.Time     `db:"created_at" json:"created_at"`
	UpdatedAt  time.Time     `db:"updated_at" json:"updated_at"`
	// The channel's latest delivery: status "" when there was none.
	LastStatus string     `db:"last_status" json:"last_status"`
	LastError  string     `db:"last_error" json:"last_error"`
	LastAt     *time.Time `db:"last_at" json:"last_at"`
}

const channelSelect = `
	SELECT c.id, c.name, c.kind, c.config_enc, c.events, c.project_ids, c.enabled, c.created_at, c.updated_at,
	       coalesce(l.status, '') AS last_status, coalesce(l.last_error, '') AS last_error, l.created_at AS last_at
	FROM notification_channels c
	LEFT JOIN LATERAL (
		SELECT status, last_error, created_at FROM notification_outbox o
		WHERE o.channel_id = c.id ORDER BY o.id DESC LIMIT 1) l ON true`

// CreateNotificationChannel stores a channel with its configuration
// (JSON) sealed.
func (s *Store) CreateNotificationChannel(ctx context.Context, ch *NotificationChannel, config string) error {
	err := s.db.QueryRowxContext(ctx, `
		INSERT INTO notification_channels (name, kind, config_enc, events, enabled, project_ids)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at, updated_at`,
		ch.Name, ch.Kind, s.cipher.Seal(config), pqStringArray(append([]string{}, ch.Events...)), ch.Enabled,
		pqInt64Array(append([]int64{}, ch.ProjectIDs...))).
		Scan(&ch.ID, &ch.CreatedAt, &ch.UpdatedAt)
	if isUniqueViolation(err) {
		return conflictf("a notification channel named %q already exists", ch.Name)
	}
	return opError("create notification channel", err)
}

// UpdateNotificationChannel saves a channel's name, events, projects,
// enabled flag and whole configuration.
func (s *Store) UpdateNotificationChannel(ctx context.Context, ch *NotificationChannel, config string) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE notification_channels SET name = $2, config_enc = $3, events = $4, enabled = $5, project_ids = $6, updated_at = now()
		WHERE id = $1`, ch.ID, ch.Name, s.cipher.Seal(config), pqStringArray(append([]string{}, ch.Events...)), ch.Enabled,
		pqInt64Array(append([]int64{}, ch.ProjectIDs...)))
	if isUniqueViolation(err) {
		return conflictf("a notification channel named %q already exists", ch.Name)
	}
	if err != nil {
		return opError("update notification channel", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("update notification channel", sql.ErrNoRows)
	}
	return nil
}

// NotificationChannel returns one channel.
func (s *Store) NotificationChannel(ctx context.Context, id int64) (*NotificationChannel, error) {
	var ch NotificationChannel
	err := s.db.GetContext(ctx, &ch, channelSelect+` WHERE c.id = $1`, id)
	return &ch, notFound("notification channel", err)
}

// NotificationChannels lists every channel by name.
func (s *Store) NotificationChannels(ctx context.Context) ([]NotificationChannel, error) {
	out := []NotificationChannel{}
	err := s.db.SelectContext(ctx, &out, channelSelect+` ORDER BY lower(c.name), c.id`)
	return out, opError("notification channels", err)
}

// NotificationConfig decrypts a channel's configuration (JSON).
func (s *Store) NotificationConfig(ch *NotificationChannel) (string, error) {
	v, err := s.cipher.Open(ch.ConfigEnc)
	return v, opError("notification channel config", err)
}

// DeleteNotificationChannel removes a channel and its deliveries.
func (s *Store) DeleteNotificationChannel(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notification_channels WHERE id = $1`, id)
	if err != nil {
		return opError("delete notification channel", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("delete notification channel", sql.ErrNoRows)
	}
	return nil
}

// NotificationCooldown is the configured dedupe window.
func (s *Store) NotificationCooldown(ctx context.Context) (time.Duration, error) {
	n, err := s.intSetting(ctx, SettingNotificationCooldown, int(DefaultNotificationCooldown/time.Minute))
	return time.Duration(n) * time.Minute, err
}

// NotificationMessage is what is queued for each channel.
type NotificationMessage struct {
	Event     string
	Title     string
	Body      string
	URL       string
	Severity  string
	DedupeKey string
	NotificationSubject
	// Data is a JSON object of event details ("" for none).
	Data string
}

// NotificationSubject is what a notification is about; every part is
// optional (a node's disk has no project).
type NotificationSubject struct {
	ProjectID    *int64 `db:"project_id" json:"project_id"`
	Project      string `db:"project" json:"project"`
	ServiceID    *int64 `db:"service_id" json:"service_id"`
	Service      string `db:"service" json:"service"`
	ServiceKind  string `db:"service_kind" json:"service_kind"`
	DeploymentID *int64 `db:"deployment_id" json:"deployment_id"`
}

// ServiceSubject names a service and its project for a notification.
func (s *Store) ServiceSubject(ctx context.Context, serviceID int64) (NotificationSubject, error) {
	var out NotificationSubject
	err := s.db.GetContext(ctx, &out, `
		SELECT p.id AS project_id, p.name AS project, sv.id AS service_id, sv.name AS service, sv.kind AS service_kind,
		       NULL::bigint AS deployment_id
		FROM services sv JOIN environments e ON e.id = sv.environment_id JOIN projects p ON p.id = e.project_id
		WHERE sv.id = $1`, serviceID)
	return out, notFound("service", err)
}

// Notification is one outbox row: a message to one channel and how its
// delivery went.
type Notification struct {
	ID            int64      `db:"id" json:"id"`
	ChannelID     int64      `db:"channel_id" json:"channel_id"`
	ChannelName   string     `db:"channel_name" json:"channel_name"`
	ChannelKind   string     `db:"channel_kind" json:"channel_kind"`
	Event         string     `db:"event" json:"event"`
	Title         string     `db:"title" json:"title"`
	Body          string     `db:"body" json:"body"`
	URL           string     `db:"url" json:"url"`
	Severity      string     `db:"severity" json:"severity"`
	DedupeKey     string     `db:"dedupe_key" json:"dedupe_key"`
	Status        string     `db:"status" json:"status"`
	Attempts      int        `db:"attempts" json:"attempts"`
	NextAttemptAt time.Time  `db:"next_attempt_at" json:"next_attempt_at"`
	LastError     string     `db:"last_error" json:"last_error"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	SentAt        *time.Time `db:"sent_at" json:"sent_at"`
	NotificationSubject
	Data []byte `db:"data" json:"-"` // a JSON object
}

const notificationSelect = `
	SELECT o.id, o.channel_id, c.name AS channel_name, c.kind AS channel_kind, o.event, o.title, o.body, o.url,
	       o.severity, o.dedupe_key, o.status, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.sent_at,
	       o.project_id, o.project, o.service_id, o.service, o.service_kind, o.deployment_id, o.data
	FROM notification_outbox o JOIN notification_channels c ON c.id = o.channel_id`

// QueueNotification queues m once for every enabled channel subscribed to
// its event (and to its project, when the channel chose projects and m
// has one), and returns the new rows' ids. A channel that got a message
// with the same non-empty dedupe key (pending or sent) within cooldown is
// skipped, so a crash-looping service cannot flood it. Concurrent callers
// with the same key take turns, so the check cannot race.
func (s *Store) QueueNotification(ctx context.Context, m NotificationMessage, cooldown time.Duration) ([]int64, error) {
	var ids []int64
	err := s.InTx(ctx, func(tx *Store) error {
		if m.DedupeKey != "" {
			if _, err := tx.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('notify:' || $1))`, m.DedupeKey); err != nil {
				return err
			}
		}
		return tx.db.SelectContext(ctx, &ids, `
			INSERT INTO notification_outbox (channel_id, event, title, body, url, severity, dedupe_key,
				project_id, project, service_id, service, service_kind, deployment_id, data)
			SELECT c.id, $1, $2, $3, $4, $5, $6, $8, $9, $10, $11, $12, $13, $14::jsonb FROM notification_channels c
			WHERE c.enabled AND $1 = ANY(c.events)
			  AND ($8::bigint IS NULL OR cardinality(c.project_ids) = 0 OR $8 = ANY(c.project_ids))
			  AND ($6 = '' OR NOT EXISTS (
				SELECT 1 FROM notification_outbox o
				WHERE o.channel_id = c.id AND o.dedupe_key = $6 AND o.status IN ('pending', 'sent')
				  AND o.created_at > now() - make_interval(secs => $7)))
			ORDER BY c.id
			RETURNING id`, m.Event, m.Title, m.Body, m.URL, m.Severity, m.DedupeKey, cooldown.Seconds(),
			m.ProjectID, m.Project, m.ServiceID, m.Service, m.ServiceKind, m.DeploymentID, jsonObject(m.Data))
	})
	return ids, opError("queue notification", err)
}

// QueueClaimedNotification queues m for one channel, whatever its events
// and enabled flag, already claimed by the caller for lease (it sends it
// at once: the test button).
func (s *Store) QueueClaimedNotification(ctx context.Context, channelID int64, m NotificationMessage, lease time.Duration) (*Notification, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO notification_outbox (channel_id, event, title, body, url, severity, dedupe_key, attempts, next_attempt_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, now() + make_interval(secs => $8), $9::jsonb) RETURNING id`,
		channelID, m.Event, m.Title, m.Body, m.URL, m.Severity, m.DedupeKey, lease.Seconds(), jsonObject(m.Data))
	if err != nil {
		return nil, opError("queue notification", err)
	}
	return s.Notification(ctx, id)
}

// ClaimNotification takes the oldest due pending row, if any: it counts
// the attempt and moves next_attempt_at lease ahead, so no other sender
// (in this process or another) takes it meanwhile; a sender that dies
// leaves it to be retried once the lease is over. It returns nil when
// nothing is due.
func (s *Store) ClaimNotification(ctx context.Context, lease time.Duration) (*Notification, error) {
	var id int64
	err := s.InTx(ctx, func(tx *Store) error {
		err := tx.db.GetContext(ctx, &id, `
			SELECT id FROM notification_outbox
			WHERE status = 'pending' AND next_attempt_at <= now()
			ORDER BY next_attempt_at, id LIMIT 1
			FOR UPDATE SKIP LOCKED`)
		if err != nil {
			return err
		}
		_, err = tx.db.ExecContext(ctx, `
			UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
			WHERE id = $1`, id, lease.Seconds())
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, opError("claim notification", err)
	}
	return s.Notification(ctx, id)
}

// Notification returns one outbox row.
func (s *Store) Notification(ctx context.Context, id int64) (*Notification, error) {
	var n Notification
	err := s.db.GetContext(ctx, &n, notificationSelect+` WHERE o.id = $1`, id)
	return &n, notFound("notification", err)
}

// Notifications lists the outbox newest first; channelID 0 means every
// channel.
func (s *Store) Notifications(ctx context.Context, channelID int64, limit, offset int) ([]Notification, error) {
	out := []Notification{}
	err := s.db.SelectContext(ctx, &out, notificationSelect+`
		WHERE $1 = 0 OR o.channel_id = $1 ORDER BY o.id DESC LIMIT $2 OFFSET $3`, channelID, limit, offset)
	return out, opError("notifications", err)
}

// MarkNotificationSent records a delivery.
func (s *Store) MarkNotificationSent(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE notification_outbox SET status = 'sent', sent_at = now(), last_error = '' WHERE id = $1`, id)
	return opError("mark notification sent", err)
}

// RetryNotification records a failed attempt to be retried at next.
func (s *Store) RetryNotification(ctx context.Context, id int64, errMsg string, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE notification_outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1`,
		id, truncate(errMsg, 1000), next)
	return opError("retry notification", err)
}

// FailNotification records the last failed attempt: no more retries.
func (s *Store) FailNotification(ctx context.Context, id int64, errMsg string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE notification_outbox SET status = 'failed', last_error = $2 WHERE id = $1`, id, truncate(errMsg, 1000))
	return opError("fail notification", err)
}

// pruneNotifications removes sent and failed rows older than
// NotificationKeepDays; pending ones stay whatever their age.
func (s *Store) pruneNotifications(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM notification_outbox
		WHERE status IN ('sent', 'failed') AND created_at < now() - make_interval(days => $1)`, NotificationKeepDays)
	if err != nil {
		return 0, opError("prune notifications", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// jsonObject is v, or the empty object when v is "".
func jsonObject(v string) string {
	if v == "" {
		return "{}"
	}
	return v
}
