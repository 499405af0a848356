package pages

import (
	"net/http"
	"strconv"
	"strings"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/engines"
	"dokploy/views"
)

// dashboard is what the dashboard and its project list partial show.
type dashboard struct {
	Projects  []projectCard
	CanCreate bool // owners and admins create projects
	Form      *views.Form
	CSRF      string
}

// appsPerCard is how many apps each project card lists, the project page
// having the rest: up to 12 when there are few projects, fewer as they
// grow, so the dashboard lists about 60 apps in all (3 per card at
// least) however many there are. Rendering is most of a page's cost.
func appsPerCard(projects int) int {
	return max(3, min(12, 60/max(projects, 1)))
}

type projectCard struct {
	db.Project
	Apps     []db.DashboardApp // the first appsPerCard, failed and deploying first
	AppCount int               // all of the project's apps
	Statuses []statusTally     // non-zero counts, in statusOrder
}

// More is how many of the project's apps the card does not list.
func (p projectCard) More() int { return p.AppCount - len(p.Apps) }

type statusTally struct {
	Status string
	N      int
}

// statusOrder is the order of a card's status counts: what needs a look
// first.
var statusOrder = []string{db.AppError, db.AppDeploying, db.AppRunning, db.AppStopped, db.AppIdle}

// loadDashboard loads the project cards the request may see.
func (h *Handler) loadDashboard(c echo.Context) (*dashboard, error) {
	ctx := c.Request().Context()
	visible := web.VisibleProjects(c)
	projects, err := h.Store.Projects(ctx, visible)
	if err != nil {
		return nil, err
	}
	apps, counts, err := h.Store.DashboardApps(ctx, appsPerCard(len(projects)), visible)
	if err != nil {
		return nil, err
	}
	// apps come ordered by project: each card takes its run of the slice.
	byProject := make(map[int64][]db.DashboardApp, len(projects))
	for start := 0; start < len(apps); {
		end := start + 1
		for end < len(apps) && apps[end].ProjectID == apps[start].ProjectID {
			end++
		}
		byProject[apps[start].ProjectID] = apps[start:end:end]
		start = end
	}
	d := &dashboard{Form: views.NewForm(), Projects: make([]projectCard, 0, len(projects)), CanCreate: web.Access(c).Admin()}
	for _, p := range projects {
		card := projectCard{Project: p, Apps: byProject[p.ID]}
		for _, st := range statusOrder {
			if n := counts[p.ID][st]; n > 0 {
				card.AppCount += n
				card.Statuses = append(card.Statuses, statusTally{st, n})
			}
		}
		d.Projects = append(d.Projects, card)
	}
	return d, nil
}

func (h *Handler) ShowDashboardPage(c echo.Context) error {
	d, err := h.loadDashboard(c)
	if err != nil {
		return err
	}
	d.CSRF = web.CSRF(c)
	return h.Page(c, http.StatusOK, "dashboard", &views.Page{Title: "Projects", Active: "projects", Data: d})
}

func (h *Handler) CreateProject(c echo.Context) error {
	ctx := c.Request().Context()
	form := views.NewForm()
	form.Values["name"] = strings.TrimSpace(c.FormValue("name"))
	if _, err := h.Ops.CreateProject(ctx, form.Values["name"], ""); err != nil && !formErrors(form, err) {
		return err
	}
	d, err := h.loadDashboard(c)
	if err != nil {
		return err
	}
	d.CSRF = web.CSRF(c)
	if !form.Valid() {
		d.Form = form
		if !web.IsHTMX(c) { // a plain form post needs the whole page, not the fragment
			return h.Page(c, http.StatusUnprocessableEntity, "dashboard", &views.Page{Title: "Projects", Active: "projects", Data: d})
		}
		return h.Partial(c, http.StatusUnprocessableEntity, "projects_section", d)
	}
	if !web.IsHTMX(c) {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return h.Partial(c, http.StatusOK, "projects_section", d)
}

// projectPage is the data of a project's page.
type projectPage struct {
	Project     *db.Project
	Envs        []envSection
	Rename      *views.Form
	EnvForm     *views.Form
	AppForm     *views.Form
	DBForm      *views.Form
	ComposeForm *views.Form
	Engines     []engines.Engine
	CSRF        string
	Deletion    string
	// What the viewer may do here: the forms they could not use are not
	// shown (the routes refuse them anyway).
	Level     db.Level
	CanDelete bool // deleting a project is for owners and admins
}

// CanManage tells whether the viewer may change the project's contents.
func (p *projectPage) CanManage() bool { return p.Level >= db.LevelManage }

type envSection struct {
	db.Environment
	Apps      []db.App
	Databases []databaseRow
	Stacks    []composeRow
}

// DeleteBlocked says why the environment cannot be deleted yet ("" when
// it can): the page shows Delete disabled rather than ask and be refused.
func (e envSection) DeleteBlocked() string {
	return servicesFirst(len(e.Apps), len(e.Databases), len(e.Stacks))
}

// DeleteBlocked is envSection.DeleteBlocked for the whole project.
func (p *projectPage) DeleteBlocked() string {
	apps, dbs, stacks := 0, 0, 0
	for _, e := range p.Envs {
		apps, dbs, stacks = apps+len(e.Apps), dbs+len(e.Databases), stacks+len(e.Stacks)
	}
	return servicesFirst(apps, dbs, stacks)
}

// servicesFirst is "Delete its 2 apps and 1 database first." or "".
func servicesFirst(apps, dbs, stacks int) string {
	var parts []string
	if apps > 0 {
		parts = append(parts, plural(apps, "app", "apps"))
	}
	if dbs > 0 {
		parts = append(parts, plural(dbs, "database", "databases"))
	}
	if stacks > 0 {
		parts = append(parts, plural(stacks, "compose stack", "compose stacks"))
	}
	switch len(parts) {
	case 0:
		return ""
	case 3:
		return "Delete its " + parts[0] + ", " + parts[1] + " and " + parts[2] + " first."
	}
	return "Delete its " + strings.Join(parts, " and ") + " first."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// databaseRow is a database as the project page lists it, with its live state.
type databaseRow struct {
	db.Database
	Engine string // label
	State  stateBadge
}

func (h *Handler) loadProjectPage(c echo.Context, id int64) (*projectPage, error) {
	ctx := c.Request().Context()
	p, err := h.Store.Project(ctx, id)
	if err != nil {
		return nil, err
	}
	apps, err := h.Store.AppListInProject(ctx, id)
	if err != nil {
		return nil, err
	}
	dbs, err := h.Store.DatabasesInProject(ctx, id)
	if err != nil {
		return nil, err
	}
	stacks, err := h.Store.ComposeInProject(ctx, id)
	if err != nil {
		return nil, err
	}
	page := &projectPage{Project: p, Rename: views.NewForm(), EnvForm: views.NewForm(), AppForm: newAppForm(),
		DBForm: newDatabaseForm(), ComposeForm: newComposeForm(), Engines: engines.All}
	page.CSRF = web.CSRF(c)
	page.Level, page.CanDelete = web.Access(c).Level(p.ID), web.Access(c).Admin()
	page.Rename.Values["name"] = p.Name
	for _, e := range p.Environments {
		sec := envSection{Environment: e}
		for _, a := range apps {
			if a.EnvironmentID == e.ID {
				sec.Apps = append(sec.Apps, a)
			}
		}
		for _, d := range dbs {
			if d.EnvironmentID == e.ID {
				eng, _ := engines.Lookup(d.Engine)
				sec.Databases = append(sec.Databases, databaseRow{Database: d, Engine: eng.Label, State: liveState(web.ServiceStatus(d.Status, h.Runner.Live(ctx, d.Name)))})
			}
		}
		for _, s := range stacks {
			if s.EnvironmentID == e.ID {
				sec.Stacks = append(sec.Stacks, h.composeRow(ctx, s))
			}
		}
		page.Envs = append(page.Envs, sec)
	}
	return page, nil
}

func newAppForm() *views.Form {
	f := views.NewForm()
	f.Values["source_type"] = db.SourceGit
	f.Values["git_branch"] = "main"
	f.Values["git_context"] = "."
	f.Values["git_dockerfile"] = "Dockerfile"
	f.Values["port"] = "3000"
	f.Values["replicas"] = "1"
	return f
}

func newDatabaseForm() *views.Form {
	f := views.NewForm()
	f.Values["engine"] = db.EnginePostgres
	return f
}

func (h *Handler) ShowProjectPage(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	page, err := h.loadProjectPage(c, id)
	if err != nil {
		return err
	}
	return h.Page(c, http.StatusOK, "project", &views.Page{Title: page.Project.Name, Active: "projects", Data: page})
}

// renderProject re-renders the whole project body after an in-place change.
func (h *Handler) renderProject(c echo.Context, id int64, status int, mutate func(*projectPage)) error {
	page, err := h.loadProjectPage(c, id)
	if err != nil {
		return err
	}
	if mutate != nil {
		mutate(page)
	}
	return h.Partial(c, status, "project_body", page)
}

func (h *Handler) RenameProject(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	return h.submitProjectName(c, id,
		func(name string) error { return h.Ops.RenameProject(c.Request().Context(), id, name) },
		func(p *projectPage, form *views.Form) { p.Rename = form })
}

// submitProjectName saves the "name" field with save (an operation that
// validates it) and re-renders the project page body, with the form and
// its message back in place on failure.
func (h *Handler) submitProjectName(c echo.Context, projectID int64, save func(name string) error,
	keepForm func(*projectPage, *views.Form)) error {
	form := views.NewForm()
	name := strings.TrimSpace(c.FormValue("name"))
	form.Values["name"] = name
	if err := save(name); err != nil && !formErrors(form, err) {
		return err
	}
	status := http.StatusOK
	if !form.Valid() {
		status = http.StatusUnprocessableEntity
	}
	return h.renderProject(c, projectID, status, func(p *projectPage) {
		if !form.Valid() {
			keepForm(p, form)
		}
	})
}

func (h *Handler) DeleteProject(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteProject(c.Request().Context(), id); err != nil {
		return err
	}
	return web.Redirect(c, "/")
}

func (h *Handler) CreateEnvironment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	return h.submitProjectName(c, id,
		func(name string) error {
			_, err := h.Ops.CreateEnvironment(c.Request().Context(), id, name)
			return err
		},
		func(p *projectPage, form *views.Form) { p.EnvForm = form })
}

func (h *Handler) RenameEnvironment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	env, err := h.Store.Environment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := h.Ops.RenameEnvironment(c.Request().Context(), env, c.FormValue("name")); err != nil {
		return err
	}
	return h.renderProject(c, env.ProjectID, http.StatusOK, nil)
}

func (h *Handler) DeleteEnvironment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	env, err := h.Store.Environment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteEnvironment(c.Request().Context(), env); err != nil {
		return err
	}
	return h.renderProject(c, env.ProjectID, http.StatusOK, nil)
}
