package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// logSettingsPanel is the settings page's log rotation form.
type logSettingsPanel struct {
	MaxSize string
	MaxFile string
	Msg     string
	Err     string
}

// ShowLogSettings is the log rotation panel of the settings page.
func (h *Handler) ShowLogSettings(c echo.Context) error {
	l, err := h.Store.DeployLimits(c.Request().Context())
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "settings_logs", logSettingsPanel{MaxSize: l.LogMaxSize, MaxFile: strconv.Itoa(l.LogMaxFile)})
}

// UpdateLogSettings saves the json-file rotation of services deployed from
// now on.
func (h *Handler) UpdateLogSettings(c echo.Context) error {
	p := logSettingsPanel{MaxSize: strings.TrimSpace(c.FormValue("max_size")), MaxFile: strings.TrimSpace(c.FormValue("max_file"))}
	n, err := strconv.Atoi(p.MaxFile)
	if err != nil {
		n = 0 // refused with its message
	}
	msg, perr, err := outcome(h.Ops.SetLogSettings(c.Request().Context(), &p.MaxSize, &n),
		"Saved: services deployed from now on keep "+p.MaxFile+" log file(s) of at most "+p.MaxSize+".")
	if err != nil {
		return err
	}
	p.Msg, p.Err = msg, perr
	status := http.StatusOK
	if perr != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "settings_logs", p)
}
