package pages

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

func appToForm(a *db.App) *views.Form {
	f := views.NewForm()
	v := f.Values
	v["name"], v["app_name"], v["source_type"] = a.Name, a.AppName, a.SourceType
	v["git_url"], v["git_branch"], v["git_context"], v["git_dockerfile"] = a.GitURL, a.GitBranch, a.GitContext, a.GitDockerfile
	v["build_target"], v["image"], v["registry_server"], v["registry_username"] = a.BuildTarget, a.Image, a.RegistryServer, a.RegistryUsername
	v["port"], v["replicas"] = strconv.Itoa(a.Port), strconv.Itoa(a.Replicas)
	v["memory_limit_mb"] = strconv.Itoa(a.MemoryLimitMB)
	v["cpu_limit"] = strconv.FormatFloat(a.CPULimit, 'f', -1, 64)
	v["health_path"] = a.HealthPath
	for k, n := range map[string]int{"health_port": a.HealthPort, "health_status": a.HealthStatus,
		"health_interval": a.HealthInterval, "health_timeout": a.HealthTimeout, "health_retries": a.HealthRetries,
		"health_start_period": a.HealthStartPeriod, "stop_grace_period": a.StopGracePeriod} {
		v[k] = strconv.Itoa(n)
	}
	v["placement_constraints"] = strings.Join(a.PlacementConstraints, "\n")
	v["max_replicas_per_node"] = strconv.Itoa(a.MaxReplicasPerNode)
	if a.BuildNoCache {
		v["build_no_cache"] = "on"
	}
	if a.HasGitToken() {
		v["has_git_token"] = "yes"
	}
	if a.HasRegistryPassword() {
		v["has_registry_password"] = "yes"
	}
	return f
}

// formToApp copies submitted fields onto a, recording parse errors in form.
func formToApp(c echo.Context, a *db.App, form *views.Form) {
	text := func(k string) string {
		v := strings.TrimSpace(c.FormValue(k))
		form.Values[k] = v
		return v
	}
	num := func(k string, dst *int) {
		v := text(k)
		if v == "" {
			v = "0"
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			form.Errors[k] = "must be a whole number"
			return
		}
		*dst = n
	}
	// Each settings form posts its own fields; what a form does not
	// carry keeps its stored value (General has the name, Advanced the
	// health check; the create form has both).
	if hasField(c, "name") {
		a.Name = text("name")
		a.SourceType = text("source_type")
		a.GitURL, a.GitBranch = text("git_url"), text("git_branch")
		a.GitContext, a.GitDockerfile, a.BuildTarget = text("git_context"), text("git_dockerfile"), text("build_target")
		a.BuildNoCache = c.FormValue("build_no_cache") == "on"
		if a.BuildNoCache {
			form.Values["build_no_cache"] = "on"
		}
		a.Image, a.RegistryServer, a.RegistryUsername = text("image"), text("registry_server"), text("registry_username")
		num("port", &a.Port)
		num("replicas", &a.Replicas)
		num("memory_limit_mb", &a.MemoryLimitMB)
		if v := text("cpu_limit"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				form.Errors["cpu_limit"] = "must be a number of CPUs like 0.5"
			}
			a.CPULimit = f
		} else {
			a.CPULimit = 0
		}
	}
	if hasField(c, "health_path") {
		a.HealthPath = text("health_path")
		num("health_port", &a.HealthPort)
		num("health_status", &a.HealthStatus)
		num("health_interval", &a.HealthInterval)
		num("health_timeout", &a.HealthTimeout)
		num("health_retries", &a.HealthRetries)
		num("health_start_period", &a.HealthStartPeriod)
		num("stop_grace_period", &a.StopGracePeriod)
	}
	if hasField(c, "placement_constraints") {
		form.Values["placement_constraints"] = c.FormValue("placement_constraints")
		a.PlacementConstraints = ops.ParseConstraints(c.FormValue("placement_constraints"))
		num("max_replicas_per_node", &a.MaxReplicasPerNode)
	}
}

// formSecrets returns credential changes: blank fields keep what is stored.
func formSecrets(c echo.Context) db.SecretUpdate {
	var u db.SecretUpdate
	if v := c.FormValue("git_token"); v != "" {
		u.GitToken = &v
	}
	if v := c.FormValue("registry_password"); v != "" {
		u.RegistryPassword = &v
	}
	empty := ""
	if c.FormValue("clear_git_token") == "on" {
		u.GitToken = &empty
	}
	if c.FormValue("clear_registry_password") == "on" {
		u.RegistryPassword = &empty
	}
	return u
}

func mergeErrors(form *views.Form, errs map[string]string) {
	for k, v := range errs {
		if _, ok := form.Errors[k]; !ok {
			form.Errors[k] = v
		}
	}
}

func (h *Handler) CreateApp(c echo.Context) error {
	projectID, err := web.IDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := views.NewForm()
	a := &db.App{}
	formToApp(c, a, form)
	a.AppName = strings.TrimSpace(c.FormValue("app_name"))
	if a.AppName == "" {
		a.AppName = ops.SuggestServiceName(a.Name, "app-")
	}
	form.Values["app_name"] = a.AppName
	envID, _ := strconv.ParseInt(c.FormValue("environment_id"), 10, 64)
	form.Values["environment_id"] = c.FormValue("environment_id")
	if env, err := h.Store.Environment(ctx, envID); err != nil || env.ProjectID != projectID {
		form.Errors["environment_id"] = "choose an environment of this project"
	} else {
		a.EnvironmentID = env.ID
	}
	mergeErrors(form, ops.ValidateApp(a))
	if form.Valid() {
		err := h.Ops.CreateApp(ctx, a, ops.AppExtras{Secrets: formSecrets(c)})
		if err == nil {
			return web.Redirect(c, fmt.Sprintf("/apps/%d", a.ID))
		}
		if !formErrors(form, err) {
			return err
		}
	}
	return h.renderProject(c, projectID, http.StatusUnprocessableEntity, func(p *projectPage) { p.AppForm = form })
}

// UpdateApp saves one of the app's settings forms: General (name,
// source, resources) or Advanced's health check. Fields of the other form
// are absent and keep their stored values. A refusal re-renders the form
// with what was typed and a message per field, and saves nothing.
func (h *Handler) UpdateApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := views.NewForm()
	formToApp(c, a, form)
	form.Values["app_name"] = a.AppName
	mergeErrors(form, ops.ValidateApp(a))
	if form.Valid() {
		if err := h.Ops.UpdateApp(ctx, a, ops.AppExtras{Secrets: formSecrets(c)}); err != nil && !formErrors(form, err) {
			return err
		}
	}
	status, saved := http.StatusOK, ""
	if form.Valid() {
		if a, err = h.Store.App(ctx, a.ID); err != nil {
			return err
		}
		form = appToForm(a)
		saved = "Saved. Deploy to apply the changes."
	} else {
		status = http.StatusUnprocessableEntity
		// Keep the stored values of the other form's fields and the
		// "set — leave blank to keep" hints of stored credentials.
		for k, v := range appToForm(a).Values {
			if _, typed := form.Values[k]; !typed || strings.HasPrefix(k, "has_") {
				form.Values[k] = v
			}
		}
	}
	tab, partial := "general", "app_settings"
	switch {
	case hasField(c, "name"):
	case hasField(c, "health_path"):
		tab, partial = "advanced", "app_health"
	case hasField(c, "placement_constraints"):
		tab, partial = "advanced", "app_placement"
	default:
		tab, partial = "advanced", "app_health"
	}
	p, err := h.loadAppTab(c, a, tab, nil)
	if err != nil {
		return err
	}
	p.Form, p.Saved = form, saved
	return h.Partial(c, status, partial, p)
}

// hasField reports whether the posted form carries field k at all.
func hasField(c echo.Context, k string) bool {
	_ = c.FormValue(k) // parses the body once
	_, ok := c.Request().PostForm[k]
	return ok
}
