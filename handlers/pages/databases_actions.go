package pages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/engines"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// databaseAction queues a header action (deploy, start, stop, restart) and
// answers with the header, which then polls until the state is real.
func (h *Handler) databaseAction(c echo.Context, act func(context.Context, *db.Database, string) (*db.Deployment, error)) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	if _, err := act(c.Request().Context(), d, web.CurrentUser(c).Email); err != nil {
		return err
	}
	return h.ShowDatabaseHeader(c)
}

// DeployDatabase, StartDatabase, StopDatabase and RestartDatabase are the
// header's actions.
func (h *Handler) DeployDatabase(c echo.Context) error {
	return h.databaseAction(c, h.Ops.DeployDatabase)
}

func (h *Handler) StartDatabase(c echo.Context) error {
	return h.databaseAction(c, h.Ops.StartDatabase)
}

func (h *Handler) StopDatabase(c echo.Context) error {
	return h.databaseAction(c, h.Ops.StopDatabase)
}

func (h *Handler) RestartDatabase(c echo.Context) error {
	return h.databaseAction(c, h.Ops.RestartDatabase)
}

// panel renders one panel of a tab; with queued set, the header comes
// along out of band so it starts following the operation.
func (h *Handler) databasePanel(c echo.Context, status int, name string, p *databasePage) error {
	if p.Queued != nil {
		// Re-read the header: it must show the operation just queued.
		f, _, err := h.databaseFrame(c, p.DB)
		if err != nil {
			return err
		}
		f.Tab, f.OOB = p.Tab, true
		p.Frame = f
	}
	return h.Partial(c, status, name, p)
}

// RevealDatabase answers the connection panel with the password in the
// URLs: the only way a page gets it.
func (h *Handler) RevealDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	p, err := h.loadDatabasePage(c, d, "")
	if err != nil {
		return err
	}
	sec, err := h.Store.DatabaseSecrets(d)
	if err != nil {
		return err
	}
	if err := h.fillConnection(c, p, sec.Password); err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "db_connection", p)
}

// ChangeDatabasePassword queues a password change (empty: generated).
func (h *Handler) ChangeDatabasePassword(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	p, err := h.loadDatabasePage(c, d, "")
	if err != nil {
		return err
	}
	p.PasswordForm = views.NewForm()
	dep, err := h.Ops.ChangeDatabasePassword(c.Request().Context(), d, strings.TrimSpace(c.FormValue("password")), web.CurrentUser(c).Email)
	if err != nil {
		if !formErrors(p.PasswordForm, err) {
			return err
		}
		return h.databasePanel(c, http.StatusUnprocessableEntity, "db_password", p)
	}
	p.Queued = dep
	return h.databasePanel(c, http.StatusOK, "db_password", p)
}

// LinkDatabase is "Use in app…": an env key of an app of the same
// project refers to this database's internal URL from its next deploy.
func (h *Handler) LinkDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := h.loadDatabasePage(c, d, "general")
	if err != nil {
		return err
	}
	form := p.LinkForm
	form.Values["app_id"] = c.FormValue("app_id")
	form.Values["key"] = strings.TrimSpace(c.FormValue("key"))
	appID, _ := strconv.ParseInt(form.Values["app_id"], 10, 64)
	a, err := h.Store.App(ctx, appID)
	if err != nil || a.ProjectID != d.ProjectID {
		form.Errors["app_id"] = "choose an app of this project"
	} else if err := h.Ops.LinkDatabase(ctx, d, a, form.Values["key"]); err != nil && !formErrors(form, err) {
		return err
	}
	if !form.Valid() {
		return h.Partial(c, http.StatusUnprocessableEntity, "db_link", p)
	}
	if form.Values["key"] == "" {
		form.Values["key"] = "DATABASE_URL"
	}
	p.Linked = a
	return h.Partial(c, http.StatusOK, "db_link", p)
}

// UpdateDatabaseEnv saves the extra env, which queues a deploy.
func (h *Handler) UpdateDatabaseEnv(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	vars, problem, err := h.envFromForm(c, d.ID)
	if err != nil {
		return err
	}
	var dep *db.Deployment
	if problem == "" {
		if vars == nil {
			vars = []db.Variable{}
		}
		dep, _, err = h.Ops.UpdateDatabase(c.Request().Context(), d, ops.DatabaseExtras{Env: &vars}, web.CurrentUser(c).Email)
		if _, problem, err = outcome(err, ""); err != nil {
			return err
		}
	}
	p, err := h.loadDatabasePage(c, d, "environment")
	if err != nil {
		return err
	}
	if problem != "" {
		p.EnvError = problem + ". Nothing was saved; your input is kept below."
		p.EnvForm = typedEnv(c, p.EnvForm)
		return h.databasePanel(c, http.StatusUnprocessableEntity, "db_env", p)
	}
	p.Queued = dep
	return h.databasePanel(c, http.StatusOK, "db_env", p)
}

// UpdateDatabase saves the Advanced tab and queues the deploy that applies
// it. A change of major version is refused until confirm_major is ticked.
func (h *Handler) UpdateDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	before := *d
	form := views.NewForm()
	x := formToDatabase(c, d, form)
	mergeErrors(form, ops.ValidateDatabase(d))
	warning := ops.MajorVersionWarning(&before, d.Image)
	if warning != "" && c.FormValue("confirm_major") != "on" {
		form.Errors["confirm_major"] = "tick this to change the major version"
	}
	var dep *db.Deployment
	if form.Valid() {
		dep, _, err = h.Ops.UpdateDatabase(ctx, d, x, web.CurrentUser(c).Email)
		if err != nil && !formErrors(form, err) {
			return err
		}
	}
	fresh, err := h.Store.Database(ctx, d.ID)
	if err != nil {
		return err
	}
	p, err := h.loadDatabasePage(c, fresh, "advanced")
	if err != nil {
		return err
	}
	if !form.Valid() {
		form.Values["has_registry_password"] = p.Form.Values["has_registry_password"]
		p.Form, p.Warning = form, warning
		return h.databasePanel(c, http.StatusUnprocessableEntity, "db_advanced", p)
	}
	p.Queued = dep
	if warning != "" {
		p.Notice = warning
	}
	return h.databasePanel(c, http.StatusOK, "db_advanced", p)
}

// formToDatabase copies the Advanced form onto d, recording parse errors.
func formToDatabase(c echo.Context, d *db.Database, form *views.Form) ops.DatabaseExtras {
	text := func(k string) string {
		v := strings.TrimSpace(c.FormValue(k))
		form.Values[k] = v
		return v
	}
	num := func(k, msg string) int {
		v := text(k)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			form.Errors[k] = msg
		}
		return n
	}
	d.Image = text("image")
	d.RegistryServer, d.RegistryUsername = text("registry_server"), text("registry_username")
	d.MemoryLimitMB = num("memory_limit_mb", "must be a whole number")
	d.CPULimit = 0
	if v := text("cpu_limit"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			form.Errors["cpu_limit"] = "must be a number of CPUs like 0.5"
		}
		d.CPULimit = f
	}
	d.Args = nil
	raw := c.FormValue("args")
	form.Values["args"] = raw
	for _, line := range strings.Split(raw, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			d.Args = append(d.Args, line)
		}
	}
	if v := text("redis_persistence"); v != "" {
		d.RedisPersistence = v
	}
	if c.FormValue("confirm_major") == "on" {
		form.Values["confirm_major"] = "on"
	}
	if hasField(c, "placement_constraints") {
		form.Values["placement_constraints"] = c.FormValue("placement_constraints")
		d.PlacementConstraints = ops.ParseConstraints(c.FormValue("placement_constraints"))
		d.MaxReplicasPerNode = num("max_replicas_per_node", "must be a whole number")
	}
	port := num("external_port", "must be a whole number (empty for none)")
	x := ops.DatabaseExtras{ExternalPort: &port}
	if v := c.FormValue("registry_password"); v != "" {
		x.RegistryPassword = &v
	}
	if c.FormValue("clear_registry_password") == "on" {
		empty := ""
		x.RegistryPassword = &empty
	}
	return x
}

// DeleteDatabase removes the database once the user chose what happens
// to its data volume; there is no default.
func (h *Handler) DeleteDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	p := &databasePage{DB: d, Volume: engines.VolumeName(d.Name), CSRF: web.CSRF(c), Form: views.NewForm()}
	choice := c.FormValue("remove_volume")
	if choice != "keep" && choice != "delete" {
		p.Form.Errors["remove_volume"] = "choose whether to keep the data volume"
		return h.Partial(c, http.StatusUnprocessableEntity, "db_delete_form", p)
	}
	err = h.Ops.DeleteDatabase(c.Request().Context(), d, choice == "delete")
	var engineErr *ops.EngineError
	switch {
	case err == nil:
		return web.Redirect(c, fmt.Sprintf("/projects/%d", d.ProjectID))
	case errors.As(err, &engineErr):
		// The dialog covers the page's flash area: say it in the dialog.
		p.Form.Error = engineErr.Msg + " Nothing was deleted; try again."
		return h.Partial(c, http.StatusBadGateway, "db_delete_form", p)
	case formErrors(p.Form, err):
		return h.Partial(c, http.StatusConflict, "db_delete_form", p)
	}
	return err
}
