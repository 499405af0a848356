package ops

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"dokploy/db"
	"dokploy/jobs/notify"
)

// ChannelInput is a notification channel as typed: config holds the
// kind's fields as text (see notify.Fields); on update a field left out,
// or a secret left empty, keeps its stored value.
type ChannelInput struct {
	Name   *string
	Kind   string
	Events *[]string
	// Projects limits the channel to these projects' events; empty: all.
	Projects *[]int64
	Enabled  *bool
	Config   map[string]string
}

// ChannelView is a channel as pages and the API show it: its settings
// without secrets, and which secrets are set.
type ChannelView struct {
	db.NotificationChannel
	KindLabel  string          `json:"-"`
	Config     map[string]any  `json:"config"`
	SecretsSet map[string]bool `json:"secrets_set"`
}

// NotificationChannels lists the channels, secrets left out.
func (s *Service) NotificationChannels(ctx context.Context) ([]ChannelView, error) {
	list, err := s.store.NotificationChannels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ChannelView, 0, len(list))
	for i := range list {
		v, err := s.channelView(&list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// NotificationChannel returns one channel, secrets left out.
func (s *Service) NotificationChannel(ctx context.Context, id int64) (*ChannelView, error) {
	ch, err := s.store.NotificationChannel(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.channelView(ch)
}

func (s *Service) channelView(ch *db.NotificationChannel) (*ChannelView, error) {
	cfg, err := notify.OpenConfig(s.store, ch)
	if err != nil {
		// A channel sealed with a lost key still lists, without settings.
		cfg = &notify.Config{}
	}
	ch.LastError = notify.Scrub(ch.Kind, cfg, ch.LastError)
	return &ChannelView{NotificationChannel: *ch, KindLabel: notify.KindLabel(ch.Kind), Config: cfg.Public(ch.Kind), SecretsSet: cfg.SecretsSet(ch.Kind)}, nil
}

// validateChannel checks the name and events of ch.
func validateChannel(ch *db.NotificationChannel, errs FieldErrors) {
	ch.Name = strings.TrimSpace(ch.Name)
	switch {
	case ch.Name == "":
		errs["name"] = "give the channel a name"
	case len(ch.Name) > 64 || strings.IndexFunc(ch.Name, unicode.IsControl) >= 0:
		errs["name"] = "the name must be one line of at most 64 characters"
	}
	events := []string{}
	for _, e := range ch.Events {
		e = strings.TrimSpace(e)
		if !notify.ValidEvent(e) {
			errs["events"] = "unknown event " + quote(e) + ": use " + strings.Join(notify.EventNames(), ", ")
			continue
		}
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	ch.Events = events
}

// channelProjects checks that every id names a project, and drops
// repeats.
func (s *Service) channelProjects(ctx context.Context, ids []int64, errs FieldErrors) []int64 {
	out := []int64{}
	for _, id := range ids {
		if slices.Contains(out, id) {
			continue
		}
		if _, err := s.store.Project(ctx, id); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				errs["projects"] = "there is no project with id " + strconv.FormatInt(id, 10)
				continue
			}
			errs["projects"] = "the projects could not be checked: " + err.Error()
			continue
		}
		out = append(out, id)
	}
	return out
}

func quote(s string) string { return `"` + s + `"` }

// applyConfig sets the typed fields of in onto cfg.
func applyConfig(kind string, cfg *notify.Config, in map[string]string, errs FieldErrors) {
	known := map[string]bool{}
	for _, f := range notify.Fields(kind) {
		known[f.Name] = true
	}
	for k, v := range in {
		if !known[k] {
			errs[k] = "a " + kind + " channel has no setting " + quote(k)
			continue
		}
		if msg := cfg.Set(k, v); msg != "" {
			errs[k] = msg
		}
	}
}

// CreateNotificationChannel validates and stores a channel.
func (s *Service) CreateNotificationChannel(ctx context.Context, in ChannelInput) (*ChannelView, error) {
	errs := FieldErrors{}
	ch := &db.NotificationChannel{Kind: strings.TrimSpace(in.Kind), Enabled: true}
	if in.Name != nil {
		ch.Name = *in.Name
	}
	if in.Events != nil {
		ch.Events = *in.Events
	}
	if in.Enabled != nil {
		ch.Enabled = *in.Enabled
	}
	if in.Projects != nil {
		ch.ProjectIDs = s.channelProjects(ctx, *in.Projects, errs)
	}
	validateChannel(ch, errs)
	if !notify.ValidKind(ch.Kind) {
		errs["kind"] = "choose a kind: " + strings.Join(notify.Kinds, ", ")
		return nil, errs
	}
	cfg := &notify.Config{}
	applyConfig(ch.Kind, cfg, in.Config, errs)
	for k, v := range cfg.Validate(ch.Kind) {
		if _, seen := errs[k]; !seen {
			errs[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := s.store.CreateNotificationChannel(ctx, ch, notify.EncodeConfig(cfg)); err != nil {
		return nil, channelConflict(err)
	}
	return s.NotificationChannel(ctx, ch.ID)
}

// UpdateNotificationChannel changes a channel; what in leaves out stays.
// The kind cannot change.
func (s *Service) UpdateNotificationChannel(ctx context.Context, id int64, in ChannelInput) (*ChannelView, error) {
	ch, err := s.store.NotificationChannel(ctx, id)
	if err != nil {
		return nil, err
	}
	errs := FieldErrors{}
	if in.Kind != "" && in.Kind != ch.Kind {
		errs["kind"] = "the kind of a channel cannot change: add a new channel instead"
	}
	if in.Name != nil {
		ch.Name = *in.Name
	}
	if in.Events != nil {
		ch.Events = *in.Events
	}
	if in.Enabled != nil {
		ch.Enabled = *in.Enabled
	}
	if in.Projects != nil {
		ch.ProjectIDs = s.channelProjects(ctx, *in.Projects, errs)
	}
	validateChannel(ch, errs)
	old, err := notify.OpenConfig(s.store, ch)
	if err != nil {
		old = &notify.Config{}
	}
	cfg := *old
	applyConfig(ch.Kind, &cfg, in.Config, errs)
	cfg.Keep(ch.Kind, old) // an empty secret keeps the stored one
	for k, v := range cfg.Validate(ch.Kind) {
		if _, seen := errs[k]; !seen {
			errs[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := s.store.UpdateNotificationChannel(ctx, ch, notify.EncodeConfig(&cfg)); err != nil {
		return nil, channelConflict(err)
	}
	return s.NotificationChannel(ctx, ch.ID)
}

func channelConflict(err error) error {
	if errors.Is(err, db.ErrConflict) {
		return &ConflictError{Field: "name", Msg: err.Error()}
	}
	return err
}

// DeleteNotificationChannel removes a channel and its deliveries.
func (s *Service) DeleteNotificationChannel(ctx context.Context, id int64) error {
	return s.store.DeleteNotificationChannel(ctx, id)
}

// TestNotificationChannel sends a test message to a channel now and
// returns the delivery (sent, or failed with the reason).
func (s *Service) TestNotificationChannel(ctx context.Context, id int64) (*db.Notification, error) {
	return s.runner.Notifier().SendTest(ctx, id)
}

// NotificationDeliveries lists the outbox newest first (channelID 0: all).
func (s *Service) NotificationDeliveries(ctx context.Context, channelID int64, limit, offset int) ([]db.Notification, error) {
	return s.store.Notifications(ctx, channelID, limit, offset)
}

// NotificationSettings are the settings of every channel.
type NotificationSettings struct {
	// CooldownMinutes: an event with the same dedupe key as one queued or
	// sent this many minutes ago is not queued again.
	CooldownMinutes int `json:"cooldown_minutes"`
}

// NotificationSettings returns the notification settings.
func (s *Service) NotificationSettings(ctx context.Context) (NotificationSettings, error) {
	d, err := s.store.NotificationCooldown(ctx)
	return NotificationSettings{CooldownMinutes: int(d.Minutes())}, err
}

// SetNotificationSettings validates and saves the notification settings.
func (s *Service) SetNotificationSettings(ctx context.Context, v NotificationSettings) error {
	if v.CooldownMinutes < 1 || v.CooldownMinutes > 1440 {
		return fieldError("cooldown_minutes", "the cooldown is 1 to 1440 minutes (a day)")
	}
	return s.store.SetSetting(ctx, db.SettingNotificationCooldown, strconv.Itoa(v.CooldownMinutes))
}
