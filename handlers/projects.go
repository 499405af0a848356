package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

// dashboard is what the dashboard and its project list partial show.
type dashboard struct {
	Projects []projectCard
	Form     *views.Form
	CSRF     string
}

type projectCard struct {
	db.Project
	Apps []db.App
}

func (h *Handler) loadDashboard(ctx context.Context) (*dashboard, error) {
	projects, err := h.store.Projects(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := h.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	byProject := map[int64][]db.App{}
	for _, a := range apps {
		byProject[a.ProjectID] = append(byProject[a.ProjectID], a)
	}
	d := &dashboard{Form: views.NewForm()}
	for _, p := range projects {
		d.Projects = append(d.Projects, projectCard{Project: p, Apps: byProject[p.ID]})
	}
	return d, nil
}

func (h *Handler) showDashboardPage(c echo.Context) error {
	d, err := h.loadDashboard(c.Request().Context())
	if err != nil {
		return err
	}
	d.CSRF, _ = c.Get(ctxCSRF).(string)
	return h.page(c, http.StatusOK, "dashboard", &views.Page{Title: "Projects", Active: "projects", Data: d})
}

func (h *Handler) createProject(c echo.Context) error {
	ctx := c.Request().Context()
	form := views.NewForm()
	name := strings.TrimSpace(c.FormValue("name"))
	form.Values["name"] = name
	if err := validateDisplayName(name); err != nil {
		form.Errors["name"] = err.Error()
	} else if _, err := h.store.CreateProject(ctx, name, ""); errors.Is(err, db.ErrConflict) {
		form.Errors["name"] = "a project with this name already exists"
	} else if err != nil {
		return err
	}
	d, err := h.loadDashboard(ctx)
	if err != nil {
		return err
	}
	d.CSRF, _ = c.Get(ctxCSRF).(string)
	if !form.Valid() {
		d.Form = form
		if !isHTMX(c) { // a plain form post needs the whole page, not the fragment
			return h.page(c, http.StatusUnprocessableEntity, "dashboard", &views.Page{Title: "Projects", Active: "projects", Data: d})
		}
		return h.partial(c, http.StatusUnprocessableEntity, "projects_section", d)
	}
	if !isHTMX(c) {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return h.partial(c, http.StatusOK, "projects_section", d)
}

// projectPage is the data of a project's page.
type projectPage struct {
	Project  *db.Project
	Envs     []envSection
	Rename   *views.Form
	EnvForm  *views.Form
	AppForm  *views.Form
	CSRF     string
	Deletion string
}

type envSection struct {
	db.Environment
	Apps []db.App
}

func (h *Handler) loadProjectPage(c echo.Context, id int64) (*projectPage, error) {
	ctx := c.Request().Context()
	p, err := h.store.Project(ctx, id)
	if err != nil {
		return nil, err
	}
	apps, err := h.store.AppsInProject(ctx, id)
	if err != nil {
		return nil, err
	}
	page := &projectPage{Project: p, Rename: views.NewForm(), EnvForm: views.NewForm(), AppForm: newAppForm()}
	page.CSRF, _ = c.Get(ctxCSRF).(string)
	page.Rename.Values["name"] = p.Name
	for _, e := range p.Environments {
		sec := envSection{Environment: e}
		for _, a := range apps {
			if a.EnvironmentID == e.ID {
				sec.Apps = append(sec.Apps, a)
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

func (h *Handler) showProjectPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	page, err := h.loadProjectPage(c, id)
	if err != nil {
		return err
	}
	return h.page(c, http.StatusOK, "project", &views.Page{Title: page.Project.Name, Active: "projects", Data: page})
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
	return h.partial(c, status, "project_body", page)
}

func (h *Handler) renameProject(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	return h.submitProjectName(c, id, "a project with this name already exists",
		func(name string) error { return h.store.RenameProject(c.Request().Context(), id, name) },
		func(p *projectPage, form *views.Form) { p.Rename = form })
}

// submitProjectName validates the "name" field, saves it and re-renders the
// project page body, with the form and its message back in place on failure.
func (h *Handler) submitProjectName(c echo.Context, projectID int64, conflict string, save func(name string) error,
	keepForm func(*projectPage, *views.Form)) error {
	form := views.NewForm()
	name := strings.TrimSpace(c.FormValue("name"))
	form.Values["name"] = name
	if err := validateDisplayName(name); err != nil {
		form.Errors["name"] = err.Error()
	} else if err := save(name); errors.Is(err, db.ErrConflict) {
		form.Errors["name"] = conflict
	} else if err != nil {
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

func (h *Handler) deleteProject(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	err = h.store.DeleteProject(c.Request().Context(), id)
	if errors.Is(err, db.ErrNotEmpty) {
		return echo.NewHTTPError(http.StatusConflict, "This project still has applications. Delete them first.")
	}
	if err != nil {
		return err
	}
	return redirect(c, "/")
}

func (h *Handler) createEnvironment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	return h.submitProjectName(c, id, "this project already has an environment with this name",
		func(name string) error {
			_, err := h.store.CreateEnvironment(c.Request().Context(), id, name)
			return err
		},
		func(p *projectPage, form *views.Form) { p.EnvForm = form })
}

func (h *Handler) renameEnvironment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	env, err := h.store.Environment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if err := validateDisplayName(name); err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Environment "+err.Error())
	}
	if err := h.store.RenameEnvironment(c.Request().Context(), id, name); errors.Is(err, db.ErrConflict) {
		return echo.NewHTTPError(http.StatusConflict, "This project already has an environment named "+name+".")
	} else if err != nil {
		return err
	}
	return h.renderProject(c, env.ProjectID, http.StatusOK, nil)
}

func (h *Handler) deleteEnvironment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	env, err := h.store.Environment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	err = h.store.DeleteEnvironment(c.Request().Context(), id)
	if errors.Is(err, db.ErrNotEmpty) {
		return echo.NewHTTPError(http.StatusConflict, "Environment "+env.Name+" still has applications. Delete them first.")
	}
	if err != nil {
		return err
	}
	return h.renderProject(c, env.ProjectID, http.StatusOK, nil)
}
