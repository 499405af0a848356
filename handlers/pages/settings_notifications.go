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
	Projects   []projectOption
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

type projectOption struct {
	ID      int64
	Name    string
	Checked bool
}

// projectOptions lists every project, the ones in chosen checked.
func (h *Handler) projectOptions(c echo.Context, chosen []int64) ([]projectOption, error) {
	list, err := h.Store.Projects(c.Request().Context(), nil)
	if err != nil {
		return nil, err
	}
	out := make([]projectOption, 0, len(list))
	for _, p := range list {
		out = append(out, projectOption{ID: p.ID, Name: p.Name, Checked: slices.Contains(chosen, p.ID)})
	}
	return out, nil
}

// eventOptions lists every event, the ones in chosen checked.
func eventOptions(chosen []string) []eventOption {
	out := make([]eventOption, 0, len(notify.Events))
	for _, e := range notify.Events {
		out = append(out, eventOption{Name: e.Name, Label: e.Label, Checked: slices.Contains(chosen, e.Name)})
	}
	return out
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
	p.Events = eventOptions(events)
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
	if p.Projects, err = h.projectOptions(c, nil); err != nil {
		return nil, err
	}
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

// channelFromForm reads a channel form: name, kind, events, projects
// and the kind's fields (secrets are never put back on the form). kind
// is the stored channel's kind, or "" to read it from the form. An
// unreadable project id is dropped: the checkboxes only send real ones.
func channelFromForm(c echo.Context, form *views.Form, kind string) (ops.ChannelInput, []string, []int64) {
	name := strings.TrimSpace(c.FormValue("name"))
	if kind == "" {
		kind = strings.TrimSpace(c.FormValue("kind"))
	}
	form.Values["name"], form.Values["kind"] = name, kind
	params, _ := c.FormParams()
	if c.Request().Method == http.MethodGet {
		params = c.QueryParams()
	}
	events := params["events"]
	if events == nil {
		events = []string{}
	}
	projects := []int64{}
	for _, v := range params["projects"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			projects = append(projects, id)
		}
	}
	in := ops.ChannelInput{Name: &name, Kind: kind, Events: &events, Projects: &projects, Config: map[string]string{}}
	for _, f := range notify.Fields(kind) {
		v := c.FormValue(f.Name)
		in.Config[f.Name] = v
		if !f.Secret {
			form.Values[f.Name] = strings.TrimSpace(v)
		}
	}
	return in, events, projects
}

// ShowNotificationForm is the add form for another kind, keeping what
// was typed (the kind select reloads it).
func (h *Handler) ShowNotificationForm(c echo.Context) error {
	form := views.NewForm()
	_, events, projects := channelFromForm(c, form, "")
	p := &notificationsPanel{CSRF: web.CSRF(c)}
	p.notificationForm(form, events)
	var err error
	if p.Projects, err = h.projectOptions(c, projects); err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "notification_form", p)
}

// CreateNotificationChannel saves the add form.
func (h *Handler) CreateNotificationChannel(c echo.Context) error {
	form := views.NewForm()
	in, events, projects := channelFromForm(c, form, "")
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
		if p.Projects, err = h.projectOptions(c, projects); err != nil {
			return err
		}
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
	if c.Request().Header.Get("HX-Target") == channelPageTarget {
		return h.renderChannelPage(c, id, nil, d, "")
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
	n := 0
	if v := wholeNumbers(c, form, "cooldown_minutes")["cooldown_minutes"]; v != nil {
		n = *v
		if err := h.Ops.SetNotificationSettings(c.Request().Context(), ops.NotificationSettings{CooldownMinutes: n}); err != nil && !formErrors(form, err) {
			return err
		}
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
