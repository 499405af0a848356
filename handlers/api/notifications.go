package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"
)

// channelInputJSON is the body of POST and PATCH /notifications.
// config holds the kind's settings (strings, port a number, to a list);
// PATCH changes only what is sent, and a secret left out or empty keeps
// the stored one.
type channelInputJSON struct {
	Name   *string   `json:"name"`
	Kind   string    `json:"kind"`
	Events *[]string `json:"events"`
	// Projects limits the channel to these projects (ids); [] or absent
	// on create: every project.
	Projects *[]int64                   `json:"projects"`
	Enabled  *bool                      `json:"enabled"`
	Config   map[string]json.RawMessage `json:"config"`
}

// input turns the JSON settings into text fields.
func (in *channelInputJSON) input() (ops.ChannelInput, error) {
	out := ops.ChannelInput{Name: in.Name, Kind: in.Kind, Events: in.Events, Projects: in.Projects, Enabled: in.Enabled, Config: map[string]string{}}
	for k, raw := range in.Config {
		var s string
		var n json.Number
		var list []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			out.Config[k] = s
		case json.Unmarshal(raw, &n) == nil:
			out.Config[k] = n.String()
		case json.Unmarshal(raw, &list) == nil:
			out.Config[k] = strings.Join(list, ",")
		case string(raw) == "null":
			out.Config[k] = ""
		default:
			return out, web.Error(http.StatusBadRequest, k, "config."+k+" must be a string, a number or a list of strings")
		}
	}
	return out, nil
}

// ListNotificationChannels answers GET /notifications.
func (h *Handler) ListNotificationChannels(c echo.Context) error {
	list, err := h.Ops.NotificationChannels(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

// bindChannel reads the body of POST and PATCH /notifications.
func bindChannel(c echo.Context) (ops.ChannelInput, error) {
	var body channelInputJSON
	if err := bindStrict(c, &body); err != nil {
		return ops.ChannelInput{}, err
	}
	return body.input()
}

// CreateNotificationChannel answers POST /notifications.
func (h *Handler) CreateNotificationChannel(c echo.Context) error {
	in, err := bindChannel(c)
	if err != nil {
		return err
	}
	ch, err := h.Ops.CreateNotificationChannel(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, ch)
}

// GetNotificationChannel answers GET /notifications/{id}.
func (h *Handler) GetNotificationChannel(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	ch, err := h.Ops.NotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ch)
}

// UpdateNotificationChannel answers PATCH /notifications/{id}.
func (h *Handler) UpdateNotificationChannel(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	in, err := bindChannel(c)
	if err != nil {
		return err
	}
	ch, err := h.Ops.UpdateNotificationChannel(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ch)
}

// DeleteNotificationChannel answers DELETE /notifications/{id}.
func (h *Handler) DeleteNotificationChannel(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteNotificationChannel(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// TestNotificationChannel answers POST /notifications/{id}/test:
// it sends a test message now and answers with the delivery.
func (h *Handler) TestNotificationChannel(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.TestNotificationChannel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// ListNotificationDeliveries answers GET /notifications/deliveries.
func (h *Handler) ListNotificationDeliveries(c echo.Context) error {
	limit, offset := pageParams(c)
	var channelID int64
	if v := c.QueryParam("channel_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return web.Error(http.StatusUnprocessableEntity, "channel_id", "channel_id must be a channel's id")
		}
		channelID = n
	}
	list, err := h.Ops.NotificationDeliveries(c.Request().Context(), channelID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list, "limit": limit, "offset": offset})
}

// GetNotificationSettings answers GET /notifications/settings.
func (h *Handler) GetNotificationSettings(c echo.Context) error {
	v, err := h.Ops.NotificationSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// UpdateNotificationSettings answers PATCH /notifications/settings.
func (h *Handler) UpdateNotificationSettings(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := h.Ops.NotificationSettings(ctx)
	if err != nil {
		return err
	}
	var in struct {
		CooldownMinutes *int `json:"cooldown_minutes"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.CooldownMinutes != nil {
		v.CooldownMinutes = *in.CooldownMinutes
	}
	if err := h.Ops.SetNotificationSettings(ctx, v); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
