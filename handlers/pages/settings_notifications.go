package pages

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/notify"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// notificationsPanel is the settings panel of notification channels.
type notificationsPanel struct {
	Channels   []ops.ChannelView
	Deliveries []db.Notification
	Form       *views.Form
	Kinds      []kindOption
	Fields     []notify.Field // of the add form's kind
	Events     []eventOption
	Test       *db.Notification // the result of a Test press
	Cooldown   *views.Form      // cooldown_minutes
	Message    string
	Error      string
	CSRF       string
}

type kindOption struct {
	Value, Label string
	Selected     bool
}

type eventOption struct {
	Name, Label string
	Checked     bool
}

// recentDeliveries is how many deliveries the panel lists.
const recentDeliveries = 20

// notificationForm fills the add form's choices for form's kind and events.
func (p *notificationsPanel) notificationForm(form *views.Form, events []string) {
	kind := form.Get("kind")
	if !notify.ValidKind(kind) {
		kind = notify.KindSlack
		form.Values["kind"] = kind
	}
	p.Form, p.Fields, p.Kinds, p.Events = form, notify.Fields(kind), nil, nil
	for _, k := range notify.Kinds {
		p.Kinds = append(p.Kinds, kindOption{Value: k, Label: notify.KindLabel(k), Selected: k == kind})
	}
	for _, e := range notify.Events {
		p.Events = append(p.Events, eventOption{Name: e.Name, Label: e.Label, Checked: slices.Contains(events, e.Name)})
	}
}

func (h *Handler) loadNotifications(c echo.Context) (*notificationsPanel, error) {
	ctx := c.Request().Context()
	channels, err := h.Ops.NotificationChannels(ctx)
	if err != nil {
		return nil, err
	}
	deliveries, err := h.Ops.NotificationDeliveries(ctx, 0, recentDeliveries, 0)
	if err != nil {
		return nil, err
	}
	settings, err := h.Ops.NotificationSettings(ctx)
	if err != nil {
		return nil, err
	}
	p := &notificationsPanel{Channels: channels, Deliveries: deliveries, CSRF: web.CSRF(c), Cooldown: views.NewForm()}
	p.Cooldown.Values["cooldown_minutes"] = strconv.Itoa(settings.CooldownMinutes)
	p.notificationForm(views.NewForm(), []string{notify.EventDeployFailed, notify.EventBackupFailed})
	return p, nil
}

func (h *Handler) renderNotifications(c echo.Context, p *notificationsPanel) error {
	status := http.StatusOK
	if !p.Form.Valid() || !p.Cooldown.Valid() || p.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "settings_notifications", p)
}

// ShowNotifications is the settings page's "Notifications" panel.
func (h *Handler) ShowNotifications(c echo.Context) error {
	p, err := h.loadNotifications(c)
	if err != nil {
		return err
	}
	return h.renderNotifications(c, p)
}

// channelFromForm reads the add form: name, kind, events and the kind's
// fields (secrets are never put back on the form).
func channelFromForm(c echo.Context, form *views.Form) (ops.ChannelInput, []string) {
	name := strings.TrimSpace(c.FormValue("name"))
	kind := strings.TrimSpace(c.FormValue("kind"))
	form.Values["name"], form.Values["kind"] = name, kind
	params, _ := c.FormParams()
	events := params["events"]
	if c.Request().Method == http.MethodGet {
		events = c.QueryParams()["events"]
	}
	in := ops.ChannelInput{Name: &name, Kind: kind, Events: &events, Config: map[string]string{}}
	for _, f := range notify.Fields(kind) {
		v := c.FormValue(f.Name)
		in.Config[f.Name] = v
		if !f.Secret {
			form.Values[f.Name] = strings.TrimSpace(v)
		}
	}
	return in, events
}

// ShowNotificationForm is the add form for another kind, keeping what
// was typed (the kind select reloads it).
func (h *Handler) ShowNotificationForm(c echo.Context) error {
	form := views.NewForm()
	_, events := channelFromForm(c, form)
	p := &notificationsPanel{CSRF: web.CSRF(c)}
	p.notificationForm(form, events)
	return h.Partial(c, http.StatusOK, "notification_form", p)
}

// CreateNotificationChannel saves the add form.
func (h *Handler) CreateNotificationChannel(c echo.Context) error {
	form := views.NewForm()
	in, events := channelFromForm(c, form)
	ch, err := h.Ops.CreateNotificationChannel(c.Request().Context(), in)
	if err != nil && !formErrors(form, err) {
		return err
	}
	p, lerr := h.loadNotifications(c)
	if lerr != nil {
		return lerr
	}
	if !form.Valid() {
		p.notificationForm(form, events)
	} else {
		p.Message = "Added " + ch.Name + ". Press Test to check it."
	}
	return h.renderNotifications(c, p)
}

func (h *Handler) notificationID(c echo.Context) (int64, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return 0, err
	}
	if _, err := h.Store.NotificationChannel(c.Request().Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

// TestNotificationChannel sends a test message now and shows the result.
func (h *Handler) TestNotificationChannel(c echo.Context) error {
	id, err := h.notificationID(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.TestNotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p, err := h.loadNotifications(c)
	if err != nil {
		return err
	}
	p.Test = d
	return h.renderNotifications(c, p)
}

// ToggleNotificationChannel enables or disables a channel.
func (h *Handler) ToggleNotificationChannel(c echo.Context) error {
	id, err := h.notificationID(c)
	if err != nil {
		return err
	}
	ch, err := h.Ops.NotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	enabled := !ch.Enabled
	if _, err := h.Ops.UpdateNotificationChannel(c.Request().Context(), id, ops.ChannelInput{Enabled: &enabled}); err != nil {
		return err
	}
	p, err := h.loadNotifications(c)
	if err != nil {
		return err
	}
	if enabled {
		p.Message = "Enabled " + ch.Name + "."
	} else {
		p.Message = "Disabled " + ch.Name + ": it gets nothing until enabled again."
	}
	return h.renderNotifications(c, p)
}

// DeleteNotificationChannel removes a channel.
func (h *Handler) DeleteNotificationChannel(c echo.Context) error {
	id, err := h.notificationID(c)
	if err != nil {
		return err
	}
	ch, err := h.Store.NotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteNotificationChannel(c.Request().Context(), id); err != nil {
		return err
	}
	p, err := h.loadNotifications(c)
	if err != nil {
		return err
	}
	p.Message = "Deleted " + ch.Name + "."
	return h.renderNotifications(c, p)
}

// UpdateNotificationCooldown saves the cooldown.
func (h *Handler) UpdateNotificationCooldown(c echo.Context) error {
	form := views.NewForm()
	v := strings.TrimSpace(c.FormValue("cooldown_minutes"))
	form.Values["cooldown_minutes"] = v
	n, err := strconv.Atoi(v)
	if err != nil {
		form.Errors["cooldown_minutes"] = "Enter a whole number of minutes."
	} else if err := h.Ops.SetNotificationSettings(c.Request().Context(), ops.NotificationSettings{CooldownMinutes: n}); err != nil && !formErrors(form, err) {
		return err
	}
	p, err := h.loadNotifications(c)
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.Cooldown = form
	} else {
		p.Message = "Saved: the same alert is sent at most once every " + strconv.Itoa(n) + " minutes."
	}
	return h.renderNotifications(c, p)
}
