package pages

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/jobs/schedule"
	"dokploy/views"
)

// runsShown caps the runs table: the newest ones, the API pages the rest.
const runsShown = 50

// backupsTab is what a database's Backups tab shows: the last verified
// restore, the plans with their form, and the runs. It polls (the runs,
// the plans and the drill banner) while anything of it is pending.
type backupsTab struct {
	Service      *backupService
	Destinations []db.Destination
	Plans        []planView
	Runs         []runView
	MoreRuns     bool
	LastDrill    *runView
	Restorable   bool           // some run can be restored and drilled
	Pending      *db.Deployment // a backup, restore or drill queued or running
	Form         *views.Form    // add or edit a plan
	EditID       int64          // the plan the form edits, 0 when adding
	Presets      []schedule.Preset

	Notice  string         // what an action did
	Problem string         // why it was refused, and what to do
	Queued  *db.Deployment // the operation an action queued, for its log link
	RunsOOB bool           // the runs come along out of band (a restore's answer)
}

// backupService is the service a Backups section belongs to: a database
// (its Backups tab) or an app (a section of its page, backing up its
// volumes). The templates know it only by its Base path and Name.
type backupService struct {
	ID      int64
	Name    string
	Base    string // "/databases/7" or "/apps/3"; the section's routes hang off it
	App     bool
	Volumes []db.AppVolume // an app's, for its plan form
	DB      *db.Database   // nil for an app
	AppRow  *db.App        // nil for a database
}

// appBackups is the data of an app's Backups section: what the backup
// templates read of a database's page (with no frame).
type appBackups struct {
	Frame   *serviceFrame // always nil: an app's page has no service frame
	Backups *backupsTab
	CSRF    string
}

func databaseService(d *db.Database) *backupService {
	return &backupService{ID: d.ID, Name: d.Name, Base: fmt.Sprintf("/databases/%d", d.ID), DB: d}
}

// serviceOf loads the database, or the app when app, that a plan or run
// belongs to.
func (h *Handler) serviceOf(c echo.Context, id int64, app bool) (*backupService, error) {
	ctx := c.Request().Context()
	if !app {
		d, err := h.Store.Database(ctx, id)
		if err != nil {
			return nil, err
		}
		return databaseService(d), nil
	}
	a, err := h.Store.App(ctx, id)
	if err != nil {
		return nil, err
	}
	vols, err := h.Store.AppVolumes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	return &backupService{ID: a.ID, Name: a.AppName, Base: fmt.Sprintf("/apps/%d", a.ID), App: true, Volumes: vols, AppRow: a}, nil
}

// Active reports whether the tab must follow something in progress.
func (b *backupsTab) Active() bool {
	if b.Pending != nil {
		return true
	}
	for _, r := range b.Runs {
		if r.Pending() {
			return true
		}
	}
	return false
}

// Editing reports whether the form edits a saved plan.
func (b *backupsTab) Editing() bool { return b.EditID != 0 }

// planView is a plan as its card shows it.
type planView struct {
	db.Backup
	Schedule  string // in words
	Drill     string
	Retention string
	NextRun   string
}

// runView is a row of the runs table.
type runView struct {
	db.BackupRun
	Duration string
}

// Pending reports whether the run is still queued or running.
func (r *runView) Pending() bool { return r.Status == db.DeployQueued || r.Status == db.DeployRunning }

// DrillPassed reports whether the run's last restore drill succeeded.
func (r *runView) DrillPassed() bool { return r.DrillOK != nil && *r.DrillOK }

// Badge is the run's status as shown: retention's deletion wins over done.
func (r *runView) Badge() stateBadge {
	switch {
	case r.DeletedAt != nil:
		return stateBadge{"deleted by retention", "stopped"}
	case r.Status == db.DeployRunning:
		return stateBadge{"running", "deploying"}
	}
	return stateBadge{r.Status, r.Status}
}

// isBackupAction reports whether an operation belongs on this tab.
func isBackupAction(action string) bool {
	return action == db.ActionBackup || action == db.ActionRestore || action == db.ActionDrill
}

// scheduleWords says a cron schedule the way a person reads it: a
// preset's label, else the expression, with the time zone.
func scheduleWords(cron, tz string) string {
	if cron == "" {
		return ""
	}
	words := "cron " + cron
	for _, p := range schedule.Presets {
		if p.Cron == cron {
			words = p.Label
		}
	}
	if tz == "" {
		tz = "UTC"
	}
	return words + " (" + tz + ")"
}

// presetOf is the form's choice for a stored schedule.
func presetOf(cron string) string {
	if cron == "" {
		return ""
	}
	for _, p := range schedule.Presets {
		if p.Cron == cron {
			return p.Name
		}
	}
	return "custom"
}

func retentionWords(b *db.Backup) string {
	parts := []string{fmt.Sprintf("the last %d", b.KeepLast)}
	for _, k := range []struct {
		n    int
		noun string
	}{{b.KeepDaily, "daily"}, {b.KeepWeekly, "weekly"}, {b.KeepMonthly, "monthly"}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k.n, k.noun))
		}
	}
	return "Keeps " + strings.Join(parts, ", ")
}

// whenWords is a future time from now: "in 5 h (2025-06-01 03:00 CEST)".
func whenWords(t *time.Time, tz string) string {
	if t == nil {
		return ""
	}
	loc, err := schedule.Location(tz)
	if err != nil {
		loc = time.UTC
	}
	d := time.Until(*t)
	rel := "due now"
	switch {
	case d >= 48*time.Hour:
		rel = fmt.Sprintf("in %d days", int(d.Hours()/24))
	case d >= time.Hour:
		rel = fmt.Sprintf("in %d h", int(d.Hours()))
	case d >= time.Minute:
		rel = fmt.Sprintf("in %d min", int(d.Minutes()))
	}
	return rel + " (" + t.In(loc).Format("2006-01-02 15:04 MST") + ")"
}

func toPlanView(b db.Backup) planView {
	v := planView{Backup: b, Schedule: scheduleWords(b.Cron, b.Timezone), Drill: scheduleWords(b.DrillCron, b.Timezone), Retention: retentionWords(&b)}
	switch {
	case b.Cron == "":
		v.Schedule, v.NextRun = "On demand only", "only when you press Back up now"
	case !b.Enabled:
		v.NextRun = "paused"
	default:
		v.NextRun = whenWords(b.NextRunAt, b.Timezone)
	}
	return v
}

func toRunView(r db.BackupRun) runView {
	v := runView{BackupRun: r, Duration: "—"}
	if r.StartedAt != nil {
		end := time.Now()
		if r.FinishedAt != nil {
			end = *r.FinishedAt
		}
		v.Duration = end.Sub(*r.StartedAt).Round(100 * time.Millisecond).String()
	}
	return v
}

// newPlanForm is the Add form with its defaults.
func newPlanForm(dests []db.Destination) *views.Form {
	f := views.NewForm()
	v := f.Values
	v["schedule_preset"], v["timezone"], v["keep_last"], v["enabled"] = "daily", "UTC", "7", "on"
	v["keep_daily"], v["keep_weekly"], v["keep_monthly"] = "0", "0", "0"
	if len(dests) > 0 {
		v["destination_id"] = strconv.FormatInt(dests[0].ID, 10)
	}
	return f
}

// planToForm is the Edit form of b.
func planToForm(b *db.Backup) *views.Form {
	in := ops.BackupInputOf(b)
	f := views.NewForm()
	v := f.Values
	v["destination_id"] = strconv.FormatInt(in.DestinationID, 10)
	v["schedule_preset"], v["timezone"], v["prefix"] = presetOf(in.Schedule), in.Timezone, in.Prefix
	if v["schedule_preset"] == "custom" {
		v["schedule_cron"] = in.Schedule
	}
	v["drill_preset"] = presetOf(in.DrillSchedule)
	if v["drill_preset"] == "custom" {
		v["drill_cron"] = in.DrillSchedule
	}
	v["keep_last"], v["keep_daily"] = strconv.Itoa(in.KeepLast), strconv.Itoa(in.KeepDaily)
	v["keep_weekly"], v["keep_monthly"] = strconv.Itoa(in.KeepWeekly), strconv.Itoa(in.KeepMonthly)
	if in.Enabled {
		v["enabled"] = "on"
	}
	v["volume"] = in.Volume
	if in.StopDuringBackup {
		v["stop_during_backup"] = "on"
	}
	return f
}

// planFromForm reads the plan form, keeping the typed values on form and
// recording what does not parse.
func planFromForm(c echo.Context, form *views.Form) ops.BackupInput {
	text := func(k string) string {
		v := strings.TrimSpace(c.FormValue(k))
		form.Values[k] = v
		return v
	}
	num := func(k string) int {
		v := text(k)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			form.Errors[k] = "must be a whole number"
		}
		return n
	}
	// A preset, "" for on demand only, or "custom" with its expression.
	choice := func(preset, cron, field string) string {
		switch p := text(preset); p {
		case "custom":
			expr := text(cron)
			if expr == "" {
				form.Errors[field] = "type a cron expression, e.g. 30 2 * * * (every day at 02:30)"
			}
			return expr
		default:
			text(cron)
			return p
		}
	}
	in := ops.BackupInput{
		Schedule: choice("schedule_preset", "schedule_cron", "schedule"), Timezone: text("timezone"), Prefix: text("prefix"),
		DrillSchedule: choice("drill_preset", "drill_cron", "drill_schedule"),
		KeepLast:      num("keep_last"), KeepDaily: num("keep_daily"), KeepWeekly: num("keep_weekly"), KeepMonthly: num("keep_monthly"),
		Enabled: c.FormValue("enabled") == "on",
	}
	in.DestinationID, _ = strconv.ParseInt(text("destination_id"), 10, 64)
	if in.Enabled {
		form.Values["enabled"] = "on"
	}
	in.Volume = text("volume")
	if in.StopDuringBackup = c.FormValue("stop_during_backup") == "on"; in.StopDuringBackup {
		form.Values["stop_during_backup"] = "on"
	}
	return in
}

// loadBackupsTab reads what the Backups section of d shows; f is its
// frame (nil for an app), whose pending operation the section follows
// when it is a backup's.
func (h *Handler) loadBackupsTab(c echo.Context, d *backupService, f *serviceFrame) (*backupsTab, error) {
	ctx := c.Request().Context()
	t := &backupsTab{Service: d, Presets: schedule.Presets}
	var err error
	if t.Destinations, err = h.Store.Destinations(ctx); err != nil {
		return nil, err
	}
	plans, err := h.Store.BackupsOf(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	for _, b := range plans {
		t.Plans = append(t.Plans, toPlanView(b))
	}
	runs, err := h.Store.BackupRunsOf(ctx, d.ID, runsShown+1, 0)
	if err != nil {
		return nil, err
	}
	if len(runs) > runsShown {
		runs, t.MoreRuns = runs[:runsShown], true
	}
	for _, r := range runs {
		t.Runs = append(t.Runs, toRunView(r))
		t.Restorable = t.Restorable || r.Restorable()
	}
	if last, err := h.Store.LastDrill(ctx, d.ID); err == nil {
		v := toRunView(*last)
		t.LastDrill = &v
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	if f != nil && f.Busy != nil && isBackupAction(f.Busy.Action) {
		t.Pending = f.Busy
	}
	t.Form = newPlanForm(t.Destinations)
	if d.App {
		if len(d.Volumes) > 0 {
			t.Form.Values["volume"] = d.Volumes[0].Name
		}
		t.Form.Values["stop_during_backup"] = "on"
	}
	return t, nil
}

// loadAppBackups reads an app's Backups section.
func (h *Handler) loadAppBackups(c echo.Context, svc *backupService) (*appBackups, error) {
	t, err := h.loadBackupsTab(c, svc, nil)
	if err != nil {
		return nil, err
	}
	if deps, err := h.Store.Deployments(c.Request().Context(), svc.ID, 20); err == nil {
		if busy := pendingOperation(deps); busy != nil && isBackupAction(busy.Action) {
			t.Pending = busy
		}
	} else {
		return nil, err
	}
	return &appBackups{Backups: t, CSRF: web.CSRF(c)}, nil
}

// ShowAppBackups is an app's Backups section (loaded by the app page, and
// what it polls).
func (h *Handler) ShowAppBackups(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	svc, err := h.serviceOf(c, a.ID, true)
	if err != nil {
		return err
	}
	p, err := h.loadAppBackups(c, svc)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "db_backups", p)
}

// CreateAppBackup adds a plan of an app's volume from its section's form.
func (h *Handler) CreateAppBackup(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	svc, err := h.serviceOf(c, a.ID, true)
	if err != nil {
		return err
	}
	return h.createPlan(c, svc, func(in ops.BackupInput) (*db.Backup, error) {
		return h.Ops.CreateAppBackup(c.Request().Context(), a, in)
	})
}

// ShowDatabaseBackups is the Backups tab; it is also what the tab polls.
func (h *Handler) ShowDatabaseBackups(c echo.Context) error { return h.showDatabaseTab(c, "backups") }

// answerBackups re-renders the Backups section of d after an action; edit
// adjusts it (notice, form, …). When the action queued an operation a
// database's header comes along out of band, so it follows it.
func (h *Handler) answerBackups(c echo.Context, d *backupService, status int, edit func(t *backupsTab)) error {
	if d.App {
		p, err := h.loadAppBackups(c, d)
		if err != nil {
			return err
		}
		edit(p.Backups)
		return h.Partial(c, status, "db_backups", p)
	}
	p, err := h.loadDatabasePage(c, d.DB, "backups")
	if err != nil {
		return err
	}
	edit(p.Backups)
	if p.Backups.Queued != nil {
		p.Frame.OOB = true
	}
	return h.Partial(c, status, "db_backups", p)
}

// refusal splits an action's error into the message the tab shows (with
// its status) and errors the funnel answers.
func refusal(err error) (int, string, error) {
	_, problem, fail := outcome(err, "")
	if fail != nil {
		return 0, "", fail
	}
	var conflict *ops.ConflictError
	if errors.As(err, &conflict) {
		return http.StatusConflict, problem, nil
	}
	return http.StatusUnprocessableEntity, problem, nil
}

// CreateBackup adds a plan from the tab's form.
func (h *Handler) CreateBackup(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	return h.createPlan(c, databaseService(d), func(in ops.BackupInput) (*db.Backup, error) {
		return h.Ops.CreateBackup(c.Request().Context(), d, in)
	})
}

// createPlan reads the plan form and adds the plan with create.
func (h *Handler) createPlan(c echo.Context, d *backupService, create func(ops.BackupInput) (*db.Backup, error)) error {
	form := views.NewForm()
	in := planFromForm(c, form)
	var b *db.Backup
	var err error
	if form.Valid() {
		if b, err = create(in); err != nil && !formErrors(form, err) {
			return err
		}
	}
	if !form.Valid() {
		return h.answerBackups(c, d, http.StatusUnprocessableEntity, func(t *backupsTab) { t.Form = form })
	}
	return h.answerBackups(c, d, http.StatusOK, func(t *backupsTab) {
		t.Notice = fmt.Sprintf("Plan added: %s, to %s.", toPlanView(*b).Schedule, b.DestinationName)
	})
}

// loadPlan loads the :id plan and its database or app.
func (h *Handler) loadPlan(c echo.Context) (*db.Backup, *backupService, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, nil, err
	}
	b, err := h.Store.Backup(c.Request().Context(), id)
	if err != nil {
		return nil, nil, err
	}
	d, err := h.serviceOf(c, b.ServiceID, b.Volume != nil)
	return b, d, err
}

// EditBackup answers with the plan form filled from the :id plan.
func (h *Handler) EditBackup(c echo.Context) error {
	b, d, err := h.loadPlan(c)
	if err != nil {
		return err
	}
	if d.App {
		p, err := h.loadAppBackups(c, d)
		if err != nil {
			return err
		}
		p.Backups.EditID, p.Backups.Form = b.ID, planToForm(b)
		return h.Partial(c, http.StatusOK, "backup_plan_form", p)
	}
	p, err := h.loadDatabasePage(c, d.DB, "backups")
	if err != nil {
		return err
	}
	p.Backups.EditID, p.Backups.Form = b.ID, planToForm(b)
	return h.Partial(c, http.StatusOK, "backup_plan_form", p)
}

// UpdateBackup saves the Edit form of a plan.
func (h *Handler) UpdateBackup(c echo.Context) error {
	b, d, err := h.loadPlan(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	in := planFromForm(c, form)
	if form.Valid() {
		if err := h.Ops.UpdateBackup(c.Request().Context(), b, in); err != nil && !formErrors(form, err) {
			return err
		}
	}
	if !form.Valid() {
		return h.answerBackups(c, d, http.StatusUnprocessableEntity, func(t *backupsTab) { t.EditID, t.Form = b.ID, form })
	}
	return h.answerBackups(c, d, http.StatusOK, func(t *backupsTab) { t.Notice = fmt.Sprintf("Plan #%d saved.", b.ID) })
}

// DeleteBackup removes a plan; its backups stay listed and restorable.
func (h *Handler) DeleteBackup(c echo.Context) error {
	b, d, err := h.loadPlan(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteBackup(c.Request().Context(), b); err != nil {
		return err
	}
	return h.answerBackups(c, d, http.StatusOK, func(t *backupsTab) {
		t.Notice = fmt.Sprintf("Plan #%d deleted. Its backups stay in the bucket and below, restorable.", b.ID)
	})
}

// RunBackup is "Back up now".
func (h *Handler) RunBackup(c echo.Context) error {
	b, d, err := h.loadPlan(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	run, err := h.Ops.RunBackup(ctx, b, web.CurrentUser(c).Email)
	if err != nil {
		status, problem, err := refusal(err)
		if err != nil {
			return err
		}
		return h.answerBackups(c, d, status, func(t *backupsTab) { t.Problem = problem })
	}
	dep, err := h.Store.Deployment(ctx, run.DeploymentID)
	if err != nil {
		return err
	}
	return h.answerBackups(c, d, http.StatusOK, func(t *backupsTab) {
		t.Notice, t.Queued = fmt.Sprintf("Backup #%d queued to %s.", run.ID, b.DestinationName), dep
	})
}

// DrillDatabase queues a restore drill of the backup_run_id run, or of
// the latest backup.
func (h *Handler) DrillDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var run *db.BackupRun
	if id, _ := strconv.ParseInt(c.FormValue("backup_run_id"), 10, 64); id > 0 {
		if run, err = h.Store.BackupRun(ctx, id); err != nil {
			return err
		}
	}
	dep, err := h.Ops.DrillDatabase(ctx, d, run, web.CurrentUser(c).Email)
	if err != nil {
		status, problem, err := refusal(err)
		if err != nil {
			return err
		}
		return h.answerBackups(c, databaseService(d), status, func(t *backupsTab) { t.Problem = problem })
	}
	return h.answerBackups(c, databaseService(d), http.StatusOK, func(t *backupsTab) {
		t.Notice, t.Queued = "A restore drill is queued: it restores the backup into a throwaway container and counts what it holds; "+d.Name+" is not touched.", dep
	})
}

// loadRun loads the :id run and its database or app.
func (h *Handler) loadRun(c echo.Context) (*db.BackupRun, *backupService, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, nil, err
	}
	run, err := h.Store.BackupRun(c.Request().Context(), id)
	if err != nil {
		return nil, nil, err
	}
	d, err := h.serviceOf(c, run.ServiceID, run.Volume != nil)
	return run, d, err
}

// CancelBackupRun cancels the operation of a queued or running run.
func (h *Handler) CancelBackupRun(c echo.Context) error {
	run, d, err := h.loadRun(c)
	if err != nil {
		return err
	}
	dep, err := h.Ops.CancelDeployment(c.Request().Context(), run.DeploymentID)
	if err != nil {
		status, problem, err := refusal(err)
		if err != nil {
			return err
		}
		if status == http.StatusConflict {
			problem = "it already finished; there is nothing to cancel"
		}
		return h.answerBackups(c, d, status, func(t *backupsTab) { t.Problem = fmt.Sprintf("Backup #%d: %s.", run.ID, problem) })
	}
	notice := fmt.Sprintf("Backup #%d is cancelled.", run.ID)
	if dep.Status == db.DeployRunning {
		notice = fmt.Sprintf("Backup #%d stops shortly; a partial upload is removed.", run.ID)
	}
	return h.answerBackups(c, d, http.StatusOK, func(t *backupsTab) { t.Notice = notice })
}

// restoreDialog is the data of the restore confirm step.
type restoreDialog struct {
	Run    *db.BackupRun
	Svc    *backupService
	Form   *views.Form
	CSRF   string
	Queued *db.Deployment // the restore, once queued
	Target *ops.Restored  // where it goes
	Page   any            // *databasePage or *appBackups, for the out-of-band runs (and header)
}

// ShowRestoreForm is the confirm step of Restore…, shown in a dialog.
func (h *Handler) ShowRestoreForm(c echo.Context) error {
	run, d, err := h.loadRun(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	form.Values["target"] = "same"
	return h.Partial(c, http.StatusOK, "backup_restore", &restoreDialog{Run: run, Svc: d, Form: form, CSRF: web.CSRF(c)})
}

// RestoreBackupRun queues a restore into the run's own database (its name
// typed to confirm; a safety backup is taken first) or into a new one.
func (h *Handler) RestoreBackupRun(c echo.Context) error {
	run, d, err := h.loadRun(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	form.Values["target"] = c.FormValue("target")
	to := ops.RestoreTarget{}
	if form.Values["target"] == "new" {
		to.NewDatabase = strings.TrimSpace(c.FormValue("new_database"))
		form.Values["new_database"] = to.NewDatabase
		if to.NewDatabase == "" {
			form.Errors["new_database"] = "name the new database"
		}
	} else {
		form.Values["target"] = "same"
		to.Confirm = strings.TrimSpace(c.FormValue("confirm"))
		form.Values["confirm"] = to.Confirm
	}
	dlg := &restoreDialog{Run: run, Svc: d, Form: form, CSRF: web.CSRF(c)}
	if form.Valid() {
		dep, target, err := h.Ops.RestoreBackup(c.Request().Context(), run, to, web.CurrentUser(c).Email)
		if err != nil {
			if !formErrors(form, err) {
				return err
			}
			// A new database's name is refused under "name".
			if msg, ok := form.Errors["name"]; ok {
				delete(form.Errors, "name")
				form.Errors["new_database"] = msg
			}
		} else {
			dlg.Queued, dlg.Target = dep, target
			if d.App {
				p, err := h.loadAppBackups(c, d)
				if err != nil {
					return err
				}
				p.Backups.RunsOOB = true
				dlg.Page = p
				return h.Partial(c, http.StatusOK, "backup_restore", dlg)
			}
			p, err := h.loadDatabasePage(c, d.DB, "backups")
			if err != nil {
				return err
			}
			p.Backups.RunsOOB = true
			p.Frame.OOB = target.ID == d.ID
			dlg.Page = p
			return h.Partial(c, http.StatusOK, "backup_restore", dlg)
		}
	}
	return h.Partial(c, http.StatusUnprocessableEntity, "backup_restore", dlg)
}
