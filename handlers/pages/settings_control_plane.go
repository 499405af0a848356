package pages

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/cpbackup"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// controlPlanePanel is the settings panel of the control-plane backup.
type controlPlanePanel struct {
	Settings     *db.ControlPlaneBackupSettings
	Destinations []db.Destination
	Runs         []db.ControlPlaneBackupRun
	Form         *views.Form
	Message      string
	Available    bool // backups run in this process
}

// Active reports whether a backup is queued or running: the panel then
// refreshes itself until it ends.
func (p *controlPlanePanel) Active() bool {
	for _, r := range p.Runs {
		if r.Status == "queued" || r.Status == "running" {
			return true
		}
	}
	return false
}

func (h *Handler) loadControlPlanePanel(c echo.Context, form *views.Form) (*controlPlanePanel, error) {
	ctx := c.Request().Context()
	p := &controlPlanePanel{Form: form, Available: h.ControlPlane != nil}
	var err error
	if p.Settings, err = h.Store.ControlPlaneBackupSettings(ctx); err != nil {
		return nil, err
	}
	if p.Destinations, err = h.Store.Destinations(ctx); err != nil {
		return nil, err
	}
	if p.Runs, err = h.Store.ControlPlaneBackupRuns(ctx, 5, 0); err != nil {
		return nil, err
	}
	if form == nil {
		p.Form = views.NewForm()
		s := p.Settings
		if s.DestinationID != nil {
			p.Form.Values["destination_id"] = strconv.FormatInt(*s.DestinationID, 10)
		}
		p.Form.Values["schedule"], p.Form.Values["timezone"] = s.Cron, s.Timezone
		p.Form.Values["keep_last"] = strconv.Itoa(s.KeepLast)
		if s.Enabled {
			p.Form.Values["enabled"] = "on"
		}
	}
	return p, nil
}

func (h *Handler) ShowControlPlaneBackup(c echo.Context) error {
	p, err := h.loadControlPlanePanel(c, nil)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "settings_control_plane_backup", p)
}

// SaveControlPlaneBackup saves the panel's form. An empty passphrase field
// keeps the stored passphrase; "remove passphrase" clears it.
func (h *Handler) SaveControlPlaneBackup(c echo.Context) error {
	form := views.NewForm()
	for _, k := range []string{"destination_id", "schedule", "timezone", "keep_last", "enabled"} {
		form.Values[k] = strings.TrimSpace(c.FormValue(k))
	}
	in := cpbackup.SettingsInput{Schedule: form.Values["schedule"], Timezone: form.Values["timezone"], Enabled: form.Values["enabled"] == "on"}
	if id, err := strconv.ParseInt(form.Values["destination_id"], 10, 64); err == nil && id > 0 {
		in.DestinationID = &id
	}
	if form.Values["keep_last"] != "" {
		n, err := strconv.Atoi(form.Values["keep_last"])
		if err != nil {
			n = -1 // refused with its message
		}
		in.KeepLast = n
	}
	if pass := c.FormValue("passphrase"); pass != "" {
		in.Passphrase = &pass
	} else if c.FormValue("remove_passphrase") == "on" {
		in.Passphrase = new(string)
	}
	_, err := cpbackup.SaveSettings(c.Request().Context(), h.Store, in)
	if err != nil && !formErrors(form, err) {
		return err
	}
	if form.Valid() {
		form = nil // show what was stored
	}
	p, lerr := h.loadControlPlanePanel(c, form)
	if lerr != nil {
		return lerr
	}
	if err != nil {
		return h.Partial(c, http.StatusUnprocessableEntity, "settings_control_plane_backup", p)
	}
	p.Message = "Saved."
	return h.Partial(c, http.StatusOK, "settings_control_plane_backup", p)
}

// RunControlPlaneBackup starts a backup now.
func (h *Handler) RunControlPlaneBackup(c echo.Context) error {
	refusal := ""
	if h.ControlPlane == nil {
		refusal = "Control-plane backups do not run in this process."
	} else if _, err := h.ControlPlane.RunNow(c.Request().Context(), "manual", web.CurrentUser(c).Email); err != nil {
		var conflict *ops.ConflictError
		if !errors.As(err, &conflict) {
			return err
		}
		refusal = conflict.Msg
	}
	p, err := h.loadControlPlanePanel(c, nil)
	if err != nil {
		return err
	}
	if refusal != "" {
		p.Form.Error = refusal
		return h.Partial(c, http.StatusConflict, "settings_control_plane_backup", p)
	}
	p.Message = "Backup started. Reopen Settings to follow it."
	return h.Partial(c, http.StatusAccepted, "settings_control_plane_backup", p)
}
