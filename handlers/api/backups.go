package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
)

// destinationInputJSON is the body of POST and PATCH /destinations;
// PATCH changes only what is sent, and an absent or empty secret_key
// keeps the stored one.
type destinationInputJSON struct {
	Name      *string `json:"name"`
	Endpoint  *string `json:"endpoint"`
	Region    *string `json:"region"`
	Bucket    *string `json:"bucket"`
	Prefix    *string `json:"prefix"`
	AccessKey *string `json:"access_key"`
	SecretKey *string `json:"secret_key"`
	PathStyle *bool   `json:"path_style"`
}

func (in *destinationInputJSON) apply(d *db.Destination) (secretKey string) {
	setIf(&d.Name, in.Name)
	setIf(&d.Endpoint, in.Endpoint)
	setIf(&d.Region, in.Region)
	setIf(&d.Bucket, in.Bucket)
	setIf(&d.Prefix, in.Prefix)
	setIf(&d.AccessKey, in.AccessKey)
	setIf(&d.PathStyle, in.PathStyle)
	setIf(&secretKey, in.SecretKey)
	return secretKey
}

func (h *Handler) ListDestinations(c echo.Context) error {
	list, err := h.Store.Destinations(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (h *Handler) CreateDestination(c echo.Context) error {
	var in destinationInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	d := &db.Destination{PathStyle: true}
	secret := in.apply(d)
	if err := h.Ops.CreateDestination(c.Request().Context(), d, secret); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func (h *Handler) loadDestination(c echo.Context) (*db.Destination, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	return h.Store.Destination(c.Request().Context(), id)
}

func (h *Handler) GetDestination(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h *Handler) UpdateDestination(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	var in destinationInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	secret := in.apply(d)
	if err := h.Ops.UpdateDestination(ctx, d, secret); err != nil {
		return err
	}
	fresh, err := h.Store.Destination(ctx, d.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fresh)
}

func (h *Handler) DeleteDestination(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteDestination(c.Request().Context(), d.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// TestDestination tests a saved destination, with the changes in the body
// applied first (nothing is saved), so a form can test before saving.
func (h *Handler) TestDestination(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	var in destinationInputJSON
	if c.Request().ContentLength != 0 {
		if err := bindStrict(c, &in); err != nil {
			return err
		}
	}
	secret := in.apply(d)
	res, err := h.Ops.TestDestination(c.Request().Context(), d, secret)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// TestNewDestination tests settings that are not saved yet.
func (h *Handler) TestNewDestination(c echo.Context) error {
	var in destinationInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	d := &db.Destination{PathStyle: true}
	secret := in.apply(d)
	if d.Name == "" {
		d.Name = "test"
	}
	res, err := h.Ops.TestDestination(c.Request().Context(), d, secret)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// backupInputJSON is the body of POST /databases/{id}/backups and PATCH
// /backups/{id}.
type backupInputJSON struct {
	DestinationID *int64  `json:"destination_id"`
	Schedule      *string `json:"schedule"`
	Timezone      *string `json:"timezone"`
	Enabled       *bool   `json:"enabled"`
	Prefix        *string `json:"prefix"`
	KeepLast      *int    `json:"keep_last"`
	KeepDaily     *int    `json:"keep_daily"`
	KeepWeekly    *int    `json:"keep_weekly"`
	KeepMonthly   *int    `json:"keep_monthly"`
	DrillSchedule *string `json:"drill_schedule"`
	// Of an application's plan.
	Volume           *string `json:"volume"`
	StopDuringBackup *bool   `json:"stop_during_backup"`
}

// merge lays the sent fields over a plan's current settings.
func (in *backupInputJSON) merge(cur ops.BackupInput) ops.BackupInput {
	setIf(&cur.DestinationID, in.DestinationID)
	setIf(&cur.Schedule, in.Schedule)
	setIf(&cur.Timezone, in.Timezone)
	setIf(&cur.Enabled, in.Enabled)
	setIf(&cur.Prefix, in.Prefix)
	setIf(&cur.KeepLast, in.KeepLast)
	setIf(&cur.KeepDaily, in.KeepDaily)
	setIf(&cur.KeepWeekly, in.KeepWeekly)
	setIf(&cur.KeepMonthly, in.KeepMonthly)
	setIf(&cur.DrillSchedule, in.DrillSchedule)
	setIf(&cur.Volume, in.Volume)
	setIf(&cur.StopDuringBackup, in.StopDuringBackup)
	return cur
}

// backupJSON is a plan with what the page shows next to it.
type backupJSON struct {
	*db.Backup
	Missed bool `json:"missed"`
}

func toBackupJSON(b *db.Backup) backupJSON { return backupJSON{Backup: b, Missed: b.MissedAt != nil} }

func (h *Handler) ListBackups(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	return h.listBackups(c, d.ID)
}

// ListAppBackups lists the backup plans of an app's volumes.
func (h *Handler) ListAppBackups(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.listBackups(c, a.ID)
}

func (h *Handler) listBackups(c echo.Context, serviceID int64) error {
	list, err := h.Store.BackupsOf(c.Request().Context(), serviceID)
	if err != nil {
		return err
	}
	items := make([]backupJSON, len(list))
	for i := range list {
		items[i] = toBackupJSON(&list[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// CreateAppBackup adds a backup plan of one of an app's volumes.
func (h *Handler) CreateAppBackup(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in backupInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	b, err := h.Ops.CreateAppBackup(c.Request().Context(), a, in.merge(ops.BackupInput{Enabled: true}))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toBackupJSON(b))
}

func (h *Handler) CreateBackup(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	var in backupInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	b, err := h.Ops.CreateBackup(c.Request().Context(), d, in.merge(ops.BackupInput{Enabled: true}))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toBackupJSON(b))
}

func (h *Handler) loadBackup(c echo.Context) (*db.Backup, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	return h.Store.Backup(c.Request().Context(), id)
}

func (h *Handler) GetBackup(c echo.Context) error {
	b, err := h.loadBackup(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBackupJSON(b))
}

func (h *Handler) UpdateBackup(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := h.loadBackup(c)
	if err != nil {
		return err
	}
	var in backupInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if err := h.Ops.UpdateBackup(ctx, b, in.merge(ops.BackupInputOf(b))); err != nil {
		return err
	}
	fresh, err := h.Store.Backup(ctx, b.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBackupJSON(fresh))
}

func (h *Handler) DeleteBackup(c echo.Context) error {
	b, err := h.loadBackup(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteBackup(c.Request().Context(), b); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RunBackup answers 202 with the queued run.
func (h *Handler) RunBackup(c echo.Context) error {
	b, err := h.loadBackup(c)
	if err != nil {
		return err
	}
	run, err := h.Ops.RunBackup(c.Request().Context(), b, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, run)
}

func (h *Handler) ListBackupRuns(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	return h.listBackupRuns(c, d.ID)
}

// ListAppBackupRuns lists the backups of an app's volumes, newest first.
func (h *Handler) ListAppBackupRuns(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.listBackupRuns(c, a.ID)
}

func (h *Handler) listBackupRuns(c echo.Context, serviceID int64) error {
	limit, offset := pageParams(c)
	runs, err := h.Store.BackupRunsOf(c.Request().Context(), serviceID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": runs, "limit": limit, "offset": offset})
}

func (h *Handler) loadBackupRun(c echo.Context) (*db.BackupRun, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	return h.Store.BackupRun(c.Request().Context(), id)
}

func (h *Handler) GetBackupRun(c echo.Context) error {
	run, err := h.loadBackupRun(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, run)
}

// CancelBackupRun cancels the operation of a queued or running run.
func (h *Handler) CancelBackupRun(c echo.Context) error {
	ctx := c.Request().Context()
	run, err := h.loadBackupRun(c)
	if err != nil {
		return err
	}
	if _, err := h.Ops.CancelDeployment(ctx, run.DeploymentID); err != nil {
		return err
	}
	fresh, err := h.Store.BackupRun(ctx, run.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fresh)
}

// RestoreBackupRun queues a restore: {"confirm": "<database name>"} into
// the same database, or {"new_database": "<name>"} into a new one.
func (h *Handler) RestoreBackupRun(c echo.Context) error {
	run, err := h.loadBackupRun(c)
	if err != nil {
		return err
	}
	var in struct {
		Confirm     string `json:"confirm"`
		NewDatabase string `json:"new_database"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	dep, target, err := h.Ops.RestoreBackup(c.Request().Context(), run, ops.RestoreTarget{Confirm: in.Confirm, NewDatabase: in.NewDatabase}, actor(c))
	if err != nil {
		return err
	}
	if target.App {
		return c.JSON(http.StatusAccepted, map[string]any{"operation": dep, "application_id": target.ID, "application": target.Name})
	}
	return c.JSON(http.StatusAccepted, map[string]any{"operation": dep, "database_id": target.ID, "database": target.Name})
}

// DrillDatabase queues a restore drill of {"backup_run_id": N}, or of the
// latest backup when the body is empty.
func (h *Handler) DrillDatabase(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	var in struct {
		BackupRunID int64 `json:"backup_run_id"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindStrict(c, &in); err != nil {
			return err
		}
	}
	var run *db.BackupRun
	if in.BackupRunID != 0 {
		if run, err = h.Store.BackupRun(ctx, in.BackupRunID); errors.Is(err, db.ErrNotFound) {
			return web.Error(http.StatusUnprocessableEntity, "backup_run_id", fmt.Sprintf("there is no backup run %d", in.BackupRunID))
		} else if err != nil {
			return err
		}
	}
	dep, err := h.Ops.DrillDatabase(ctx, d, run, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, dep)
}

// ListDestinationObjects lists the artifacts in a destination (?prefix=),
// for restoring one that is not in this panel's records.
func (h *Handler) ListDestinationObjects(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	items, err := h.Ops.ListDestinationObjects(c.Request().Context(), d, c.QueryParam("prefix"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// RestoreDestinationObject restores a listed object into a database:
// {"object_key": …, "database_id": …, "confirm": "<database name>"}.
func (h *Handler) RestoreDestinationObject(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	var in struct {
		ObjectKey  string `json:"object_key"`
		DatabaseID int64  `json:"database_id"`
		Confirm    string `json:"confirm"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	target, err := h.Store.Database(ctx, in.DatabaseID)
	if errors.Is(err, db.ErrNotFound) {
		return web.Error(http.StatusUnprocessableEntity, "database_id", fmt.Sprintf("there is no database %d", in.DatabaseID))
	}
	if err != nil {
		return err
	}
	dep, err := h.Ops.RestoreObject(ctx, d, in.ObjectKey, target, in.Confirm, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"operation": dep, "database_id": target.ID, "database": target.Name})
}
