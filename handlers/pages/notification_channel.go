package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/notify"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// channelPageTarget is the element the channel page's actions replace;
// the Test button answers with the page body when pressed there.
const channelPageTarget = "notification-channel"

// channelDeliveriesPage is how many deliveries one page of the list shows.
const channelDeliveriesPage = 50

// channelPage is one notification channel: its settings form, Send test
// and its deliveries.
type channelPage struct {
	Channel    *ops.ChannelView
	Form       *views.Form
	Fields     []notify.Field
	Events     []eventOption
	Projects   []projectOption
	Deliveries []db.Notification
	Offset     int
	Next, Prev int  // offsets of the next and previous pages, -1 for none
	Pending    bool // a delivery is queued or retrying: the list refreshes
	Test       *db.Notification
	Message    string
	CSRF       string
}

// channelEdit is a rejected edit of a channel, shown again as typed.
type channelEdit struct {
	Form     *views.Form
	Events   []string
	Projects []int64
}

// loadChannelPage fills the page of channel id; edit, when not nil, is a
// rejected edit to show again instead of the stored settings.
func (h *Handler) loadChannelPage(c echo.Context, id int64, edit *channelEdit) (*channelPage, error) {
	ctx := c.Request().Context()
	ch, err := h.Ops.NotificationChannel(ctx, id)
	if err != nil {
		return nil, err
	}
	if edit == nil {
		edit = &channelEdit{Form: views.NewForm(), Events: ch.Events, Projects: ch.ProjectIDs}
		edit.Form.Values["name"] = ch.Name
		for k, v := range ch.Config {
			edit.Form.Values[k] = configText(v)
		}
	}
	p := &channelPage{Channel: ch, Form: edit.Form, Fields: notify.Fields(ch.Kind), Events: eventOptions(edit.Events), CSRF: web.CSRF(c)}
	if p.Projects, err = h.projectOptions(c, edit.Projects); err != nil {
		return nil, err
	}
	if err := h.loadChannelDeliveries(c, p); err != nil {
		return nil, err
	}
	return p, nil
}

// configText is a public config value as the form shows it.
func configText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return joinComma(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return joinComma(out)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func joinComma(list []string) string { return strings.Join(list, ", ") }

// loadChannelDeliveries reads one page of the channel's deliveries
// (?offset=).
func (h *Handler) loadChannelDeliveries(c echo.Context, p *channelPage) error {
	offset, _ := strconv.Atoi(c.QueryParam("offset"))
	offset = max(offset, 0)
	list, err := h.Ops.NotificationDeliveries(c.Request().Context(), p.Channel.ID, channelDeliveriesPage+1, offset)
	if err != nil {
		return err
	}
	p.Offset, p.Next, p.Prev = offset, -1, -1
	if len(list) > channelDeliveriesPage {
		list, p.Next = list[:channelDeliveriesPage], offset+channelDeliveriesPage
	}
	if offset > 0 {
		p.Prev = max(offset-channelDeliveriesPage, 0)
	}
	for _, d := range list {
		if d.Status == db.NotifyPending {
			p.Pending = true
		}
	}
	p.Deliveries = list
	return nil
}

// ShowNotificationChannel is the page of one channel.
func (h *Handler) ShowNotificationChannel(c echo.Context) error {
	id, err := h.notificationID(c)
	if err != nil {
		return err
	}
	p, err := h.loadChannelPage(c, id, nil)
	if err != nil {
		return err
	}
	return h.Page(c, http.StatusOK, "notification_channel", &views.Page{Title: p.Channel.Name, Active: "settings", Data: p})
}

// ShowNotificationDeliveries is the channel page's deliveries list (it
// refreshes itself while one is pending).
func (h *Handler) ShowNotificationDeliveries(c echo.Context) error {
	id, err := h.notificationID(c)
	if err != nil {
		return err
	}
	ch, err := h.Ops.NotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p := &channelPage{Channel: ch, CSRF: web.CSRF(c)}
	if err := h.loadChannelDeliveries(c, p); err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "channel_deliveries", p)
}

// UpdateNotificationChannel saves the channel page's form; a rejected
// one comes back with what was typed (secrets excepted) and changes
// nothing.
func (h *Handler) UpdateNotificationChannel(c echo.Context) error {
	id, err := h.notificationID(c)
	if err != nil {
		return err
	}
	ch, err := h.Store.NotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	form := views.NewForm()
	in, events, projects := channelFromForm(c, form, ch.Kind) // the kind cannot change
	saved, err := h.Ops.UpdateNotificationChannel(c.Request().Context(), id, in)
	if err != nil && !formErrors(form, err) {
		return err
	}
	if !form.Valid() {
		return h.renderChannelPage(c, id, &channelEdit{Form: form, Events: events, Projects: projects}, nil, "")
	}
	return h.renderChannelPage(c, id, nil, nil, "Saved "+saved.Name+".")
}

// renderChannelPage answers with the channel page's body.
func (h *Handler) renderChannelPage(c echo.Context, id int64, edit *channelEdit, test *db.Notification, message string) error {
	p, err := h.loadChannelPage(c, id, edit)
	if err != nil {
		return err
	}
	p.Test, p.Message = test, message
	status := http.StatusOK
	if edit != nil {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "channel_page_body", p)
}
