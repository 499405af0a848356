// Package notify sends notifications (deploy failed, backup succeeded, …)
// to the channels users configure: a signed webhook, Slack, Discord,
// Telegram, ntfy, Gotify and email over SMTP. Notify only writes outbox
// rows, one per subscribed channel, so an event never waits on a provider;
// a sender loop delivers due rows, retrying failures with backoff, and
// claims each row with FOR UPDATE SKIP LOCKED so several control-plane
// processes never send one twice. Every connection dials through the
// network guard.
package notify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/netguard"
)

// Event names. Channels subscribe to some of them.
const (
	EventDeploySucceeded = "deploy.succeeded"
	EventDeployFailed    = "deploy.failed"
	EventBackupSucceeded = "backup.succeeded"
	EventBackupFailed    = "backup.failed"
	EventBackupMissed    = "backup.missed"
	// A service's containers keep exiting (crash loop), the kernel killed
	// one for memory (OOM), or its health check keeps failing.
	EventServiceCrashLoop = "service.crashloop"
	EventServiceOOM       = "service.oom"
	EventServiceUnhealthy = "service.unhealthy"
	// A Let's Encrypt order failed, or a certificate (issued or uploaded)
	// expires within 14 days.
	EventCertFailed   = "certificate.failed"
	EventCertExpiring = "certificate.expiring"
	// An alert rule's condition held for its duration, or cleared. The
	// built-in "disk almost full" rule is one of them.
	EventAlertFiring   = "alert.firing"
	EventAlertResolved = "alert.resolved"
	EventTest          = "test"
)

// Events lists the events a channel can subscribe to, with a label each.
var Events = []struct{ Name, Label string }{
	{EventDeployFailed, "Deploy failed"},
	{EventDeploySucceeded, "Deploy succeeded"},
	{EventBackupFailed, "Backup failed"},
	{EventBackupSucceeded, "Backup succeeded"},
	{EventBackupMissed, "Backup missed its schedule"},
	{EventServiceCrashLoop, "Service crash loop"},
	{EventServiceOOM, "Service killed for memory (OOM)"},
	{EventServiceUnhealthy, "Health check failing"},
	{EventCertFailed, "Certificate issuance failed"},
	{EventCertExpiring, "Certificate expires within 14 days"},
	{EventAlertFiring, "Alert rule fired (disk almost full, CPU, memory, …)"},
	{EventAlertResolved, "Alert rule resolved"},
}

// EventNames lists the names of Events.
func EventNames() []string {
	out := make([]string, 0, len(Events))
	for _, e := range Events {
		out = append(out, e.Name)
	}
	return out
}

// ValidEvent reports whether name is an event a channel can subscribe to.
func ValidEvent(name string) bool {
	for _, e := range Events {
		if e.Name == name {
			return true
		}
	}
	return false
}

// Severities.
const (
	SeverityInfo    = "info"
	SeveritySuccess = "success"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Event is something to tell the channels subscribed to Name.
type Event struct {
	Name     string
	Title    string
	Body     string
	URL      string // a link to the page about it, if any
	Severity string
	// DedupeKey, when set, keeps a second event with the same key from
	// being queued within the cooldown (a crash loop notifies once).
	DedupeKey string
	// Subject says what it is about (project, service, deployment): the
	// webhook envelope carries it, and channels that chose projects
	// filter on it. Zero for events about no project.
	Subject db.NotificationSubject
	// Data holds details for machines (the webhook's "data"): the rule
	// and value of an alert, a certificate's expiry, … Never a secret.
	Data map[string]any
}

// DefaultBackoff are the waits after the first, second, … failed attempt;
// once they are used up the delivery is marked failed.
var DefaultBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour}

// lease is how long a claimed row is left to its sender before another
// may take it (the sender died): longer than any one delivery.
const lease = 2 * time.Minute

// Notifier queues and sends notifications.
type Notifier struct {
	store     *db.Store
	send      *sender
	log       *slog.Logger
	publicURL string
	backoff   []time.Duration
	poll      time.Duration
	wake      chan struct{}
}

// Option configures a Notifier.
type Option func(*Notifier)

// WithPublicURL is the dashboard's address, the base of links.
func WithPublicURL(u string) Option {
	return func(n *Notifier) { n.publicURL = strings.TrimRight(u, "/") }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(n *Notifier) { n.log = l } }

// WithBackoff replaces DefaultBackoff (tests use short waits).
func WithBackoff(waits ...time.Duration) Option { return func(n *Notifier) { n.backoff = waits } }

// WithPollInterval sets how often the sender looks for due rows when not
// woken by Notify (default 5 s).
func WithPollInterval(d time.Duration) Option { return func(n *Notifier) { n.poll = d } }

// withTelegramAPI points Telegram at another server (tests only).
func withTelegramAPI(base string) Option { return func(n *Notifier) { n.send.telegramAPI = base } }

// withRootCAs makes SMTP trust pool's certificates (tests only).
func withRootCAs(pool *x509.CertPool) Option { return func(n *Notifier) { n.send.rootCAs = pool } }

// New builds a notifier whose every connection passes guard.
func New(store *db.Store, guard *netguard.Guard, opts ...Option) *Notifier {
	n := &Notifier{store: store, send: newSender(guard), log: slog.Default(), backoff: DefaultBackoff,
		poll: 5 * time.Second, wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Link is the dashboard URL of path ("/deployments/7"), or "" when the
// public URL is unknown.
func (n *Notifier) Link(path string) string {
	if n.publicURL == "" {
		return ""
	}
	return n.publicURL + path
}

// Notify queues e for every enabled channel subscribed to it and wakes
// the sender. It returns how many rows were queued (0 when no channel
// wants it or the dedupe key is cooling down).
func (n *Notifier) Notify(ctx context.Context, e Event) (int, error) {
	if e.Severity == "" {
		e.Severity = SeverityInfo
	}
	cooldown, err := n.store.NotificationCooldown(ctx)
	if err != nil {
		return 0, err
	}
	data := ""
	if len(e.Data) > 0 {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return 0, fmt.Errorf("encode event data: %w", err)
		}
		data = string(b)
	}
	ids, err := n.store.QueueNotification(ctx, db.NotificationMessage{Event: e.Name, Title: cut(e.Title, 250), Body: cut(e.Body, 3000),
		URL: e.URL, Severity: e.Severity, DedupeKey: e.DedupeKey, NotificationSubject: e.Subject, Data: data}, cooldown)
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	return len(ids), nil
}

// Run sends due notifications until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		for ctx.Err() == nil {
			sent, err := n.SendDue(ctx)
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("notification sender", "err", err)
				}
				break
			}
			if !sent {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-time.After(n.poll):
		}
	}
}

// SendDue claims and delivers one due row; it reports whether there was one.
func (n *Notifier) SendDue(ctx context.Context) (bool, error) {
	row, err := n.store.ClaimNotification(ctx, lease)
	if err != nil || row == nil {
		return false, err
	}
	n.deliver(ctx, row, false)
	return true, nil
}

// SendTest queues a test message for channel id and sends it at once,
// without retries, returning the delivery as recorded.
func (n *Notifier) SendTest(ctx context.Context, channelID int64) (*db.Notification, error) {
	ch, err := n.store.NotificationChannel(ctx, channelID)
	if err != nil {
		return nil, err
	}
	row, err := n.store.QueueClaimedNotification(ctx, ch.ID, db.NotificationMessage{
		Event: EventTest, Title: "Test notification from Dokploy",
		Body: fmt.Sprintf("This is a test of the channel %q. If you read this, it works.", ch.Name),
		URL:  n.Link("/settings"), Severity: SeverityInfo,
	}, lease)
	if err != nil {
		return nil, err
	}
	n.deliver(ctx, row, true)
	return n.store.Notification(ctx, row.ID)
}

// deliver sends a claimed row and records the result; final means no
// retry.
func (n *Notifier) deliver(ctx context.Context, row *db.Notification, final bool) {
	err := n.sendRow(ctx, row)
	// Record even when ctx is ending: a sent message must be marked sent.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var recErr error
	switch {
	case err == nil:
		recErr = n.store.MarkNotificationSent(rctx, row.ID)
	case final || row.Attempts > len(n.backoff):
		recErr = n.store.FailNotification(rctx, row.ID, err.Error())
		n.log.Warn("notification failed", "id", row.ID, "channel", row.ChannelName, "event", row.Event, "attempts", row.Attempts, "err", err)
	default:
		wait := n.backoff[row.Attempts-1]
		recErr = n.store.RetryNotification(rctx, row.ID, err.Error(), time.Now().Add(wait))
		n.log.Info("notification not delivered; will retry", "id", row.ID, "channel", row.ChannelName, "in", wait, "err", err)
	}
	if recErr != nil {
		n.log.Error("record notification result", "id", row.ID, "err", recErr)
	}
}

func (n *Notifier) sendRow(ctx context.Context, row *db.Notification) error {
	ch, err := n.store.NotificationChannel(ctx, row.ChannelID)
	if err != nil {
		return errors.New("the channel could not be loaded")
	}
	cfg, err := n.ChannelConfig(ch)
	if err != nil {
		return errors.New("the channel's settings could not be decrypted (was the secret key changed?)")
	}
	return n.send.send(ctx, ch.Kind, cfg, Message{ID: row.ID, Event: row.Event, Title: row.Title, Body: row.Body,
		URL: row.URL, Severity: row.Severity, OccurredAt: row.CreatedAt, Subject: row.NotificationSubject, Data: row.Data})
}

// ChannelConfig opens a channel's configuration.
func (n *Notifier) ChannelConfig(ch *db.NotificationChannel) (*Config, error) {
	return OpenConfig(n.store, ch)
}

// OpenConfig decrypts and decodes a channel's configuration.
func OpenConfig(store *db.Store, ch *db.NotificationChannel) (*Config, error) {
	raw, err := store.NotificationConfig(ch)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("decode channel config: %w", err)
	}
	return &cfg, nil
}

// EncodeConfig is the JSON stored (sealed) for cfg.
func EncodeConfig(cfg *Config) string {
	b, _ := json.Marshal(cfg)
	return string(b)
}

// Scrub removes cfg's secrets from s.
func Scrub(kind string, cfg *Config, s string) string { return scrub(s, cfg.secrets(kind)) }

// MailTo sends one message to an address of the caller's choosing (an
// invitation, say) through the first enabled email channel's SMTP server,
// not to the channel's own recipients. It answers the channel's name, or
// "" without error when no email channel is set up.
func (n *Notifier) MailTo(ctx context.Context, to, title, body, url string) (string, error) {
	channels, err := n.store.NotificationChannels(ctx)
	if err != nil {
		return "", err
	}
	for i := range channels {
		ch := &channels[i]
		if ch.Kind != KindEmail || !ch.Enabled {
			continue
		}
		cfg, err := n.ChannelConfig(ch)
		if err != nil {
			return ch.Name, err
		}
		one := *cfg
		one.To = []string{to}
		m := Message{Event: "invitation", Title: title, Body: body, URL: url, Severity: SeverityInfo, OccurredAt: time.Now()}
		if err := n.send.mail(ctx, &one, m); err != nil {
			return ch.Name, errors.New(Scrub(KindEmail, cfg, err.Error()))
		}
		return ch.Name, nil
	}
	return "", nil
}
