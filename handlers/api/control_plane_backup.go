package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/cpbackup"
)

// controlPlaneSettingsJSON is the control-plane backup configuration as
// the API shows it: the passphrase only as set or not.
type controlPlaneSettingsJSON struct {
	*db.ControlPlaneBackupSettings
	PassphraseSet bool `json:"passphrase_set"`
}

func toControlPlaneSettingsJSON(s *db.ControlPlaneBackupSettings) controlPlaneSettingsJSON {
	return controlPlaneSettingsJSON{ControlPlaneBackupSettings: s, PassphraseSet: s.PassphraseSet()}
}

// controlPlaneSettingsInputJSON is the body of PUT
// /control-plane/backup-settings: the whole configuration, except that an
// absent passphrase keeps the stored one and "" removes it.
type controlPlaneSettingsInputJSON struct {
	DestinationID *int64  `json:"destination_id"`
	Schedule      string  `json:"schedule"`
	Timezone      string  `json:"timezone"`
	Enabled       bool    `json:"enabled"`
	KeepLast      int     `json:"keep_last"`
	Passphrase    *string `json:"passphrase"`
}

func (h *Handler) controlPlane() (*cpbackup.Service, error) {
	if h.ControlPlane == nil {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, "control-plane backups do not run in this process")
	}
	return h.ControlPlane, nil
}

func (h *Handler) GetControlPlaneBackupSettings(c echo.Context) error {
	s, err := h.Store.ControlPlaneBackupSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toControlPlaneSettingsJSON(s))
}

func (h *Handler) PutControlPlaneBackupSettings(c echo.Context) error {
	var in controlPlaneSettingsInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	s, err := cpbackup.SaveSettings(c.Request().Context(), h.Store, cpbackup.SettingsInput{
		DestinationID: in.DestinationID, Schedule: in.Schedule, Timezone: in.Timezone, Enabled: in.Enabled,
		KeepLast: in.KeepLast, Passphrase: in.Passphrase,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toControlPlaneSettingsJSON(s))
}

// RunControlPlaneBackup answers 202 with the queued run.
func (h *Handler) RunControlPlaneBackup(c echo.Context) error {
	svc, err := h.controlPlane()
	if err != nil {
		return err
	}
	run, err := svc.RunNow(c.Request().Context(), "manual", actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, run)
}

func (h *Handler) ListControlPlaneBackups(c echo.Context) error {
	limit, offset := pageParams(c)
	runs, err := h.Store.ControlPlaneBackupRuns(c.Request().Context(), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": runs, "limit": limit, "offset": offset})
}
