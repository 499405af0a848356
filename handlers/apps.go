package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/views"
)

// appPage is the data of an application's page and its partials.
type appPage struct {
	App         *db.App
	Form        *views.Form
	Env         []db.Variable // values are never sent to the page
	EnvError    string
	Ports       []db.Port
	PortsError  string
	Deployments []db.Deployment
	CSRF        string
	Saved       string
	WebhookURL  string
}

func (h *Handler) loadApp(c echo.Context) (*db.App, error) {
	id, err := idParam(c)
	if err != nil {
		return nil, err
	}
	return h.store.App(c.Request().Context(), id)
}

func (h *Handler) loadAppPage(c echo.Context, a *db.App) (*appPage, error) {
	ctx := c.Request().Context()
	env, err := h.store.AppVariables(ctx, a.ID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	for i := range env {
		env[i].Value = "" // masked: revealed one at a time on request
	}
	ports, err := h.store.AppPorts(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	deps, err := h.store.Deployments(ctx, a.ID, 20)
	if err != nil {
		return nil, err
	}
	p := &appPage{App: a, Form: appToForm(a), Env: env, Ports: ports, Deployments: deps}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	return p, nil
}

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
	// Health-check fields are only on the settings form; absent means keep.
	if _, ok := c.Request().PostForm["health_path"]; ok {
		a.HealthPath = text("health_path")
		num("health_port", &a.HealthPort)
		num("health_status", &a.HealthStatus)
		num("health_interval", &a.HealthInterval)
		num("health_timeout", &a.HealthTimeout)
		num("health_retries", &a.HealthRetries)
		num("health_start_period", &a.HealthStartPeriod)
		num("stop_grace_period", &a.StopGracePeriod)
	}
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

func (h *Handler) createApp(c echo.Context) error {
	projectID, err := idParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := views.NewForm()
	a := &db.App{}
	formToApp(c, a, form)
	a.AppName = strings.TrimSpace(c.FormValue("app_name"))
	form.Values["app_name"] = a.AppName
	envID, _ := strconv.ParseInt(c.FormValue("environment_id"), 10, 64)
	form.Values["environment_id"] = c.FormValue("environment_id")
	if env, err := h.store.Environment(ctx, envID); err != nil || env.ProjectID != projectID {
		form.Errors["environment_id"] = "choose an environment of this project"
	} else {
		a.EnvironmentID = env.ID
	}
	mergeErrors(form, validateApp(a))
	if form.Valid() {
		err := h.store.CreateApp(ctx, a)
		switch {
		case errors.Is(err, db.ErrConflict):
			form.Errors["app_name"] = fmt.Sprintf("app name %q is taken; app names are unique across all projects", a.AppName)
		case err != nil:
			return err
		default:
			if err := h.store.SetAppSecrets(ctx, a.ID, formSecrets(c)); err != nil {
				return err
			}
			return redirect(c, fmt.Sprintf("/apps/%d", a.ID))
		}
	}
	return h.renderProject(c, projectID, http.StatusUnprocessableEntity, func(p *projectPage) { p.AppForm = form })
}

func (h *Handler) showAppPage(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	p.WebhookURL = ""
	return h.page(c, http.StatusOK, "app", &views.Page{Title: a.Name, Active: "projects", Data: p})
}

func (h *Handler) updateApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := views.NewForm()
	formToApp(c, a, form)
	form.Values["app_name"] = a.AppName
	mergeErrors(form, validateApp(a))
	status := http.StatusOK
	saved := ""
	if form.Valid() {
		if err := h.store.UpdateApp(ctx, a); err != nil {
			return err
		}
		if err := h.store.SetAppSecrets(ctx, a.ID, formSecrets(c)); err != nil {
			return err
		}
		if a, err = h.store.App(ctx, a.ID); err != nil {
			return err
		}
		form = appToForm(a)
		saved = "Saved. Deploy to apply the changes."
	} else {
		status = http.StatusUnprocessableEntity
		// Keep the "set — leave blank to keep" hints of stored credentials.
		for k, v := range appToForm(a).Values {
			if strings.HasPrefix(k, "has_") {
				form.Values[k] = v
			}
		}
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	p.Form, p.Saved = form, saved
	return h.partial(c, status, "app_settings", p)
}

// updateAppEnv saves the variable list: edited rows (blank value keeps the
// stored one), removed rows, and an optional pasted .env block merged last.
func (h *Handler) updateAppEnv(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	current, err := h.store.AppVariables(ctx, a.ID, db.VarEnv)
	if err != nil {
		return err
	}
	old := map[string]string{}
	for _, v := range current {
		old[v.Key] = v.Value
	}
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	removed := map[string]bool{}
	for _, k := range params["delete"] {
		removed[k] = true
	}
	var vars []db.Variable
	keys, values := params["key"], params["value"]
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || removed[k] {
			continue
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		if prev, ok := old[k]; ok && v == "" {
			v = prev
		}
		vars = append(vars, db.Variable{Key: k, Value: v})
	}
	pasted, perr := parseDotEnv(c.FormValue("dotenv"))
	if perr == nil {
		vars = mergeVariables(vars, pasted)
		perr = validateVariables(vars)
	}
	if perr == nil {
		if err := h.store.SetAppVariables(ctx, a.ID, db.VarEnv, vars); err != nil {
			return err
		}
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	if perr != nil {
		p.EnvError = perr.Error() + ". Nothing was saved."
		return h.partial(c, http.StatusUnprocessableEntity, "app_env", p)
	}
	p.Saved = "Variables saved. Deploy to apply them."
	return h.partial(c, http.StatusOK, "app_env", p)
}

// mergeVariables sets each of extra on base, keeping base's order.
func mergeVariables(base, extra []db.Variable) []db.Variable {
	idx := map[string]int{}
	for i, v := range base {
		idx[v.Key] = i
	}
	for _, v := range extra {
		if i, ok := idx[v.Key]; ok {
			base[i].Value = v.Value
			continue
		}
		idx[v.Key] = len(base)
		base = append(base, v)
	}
	return base
}

func (h *Handler) revealAppEnv(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	vars, err := h.store.AppVariables(c.Request().Context(), a.ID, db.VarEnv)
	if err != nil {
		return err
	}
	key := c.FormValue("key")
	for _, v := range vars {
		if v.Key == key {
			return h.partial(c, http.StatusOK, "env_revealed", v)
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, "No variable "+key+".")
}

func (h *Handler) updateAppPorts(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	var ports []db.Port
	var perr error
	pub, tgt, proto, mode := params["published"], params["target"], params["protocol"], params["mode"]
	for i := range pub {
		if strings.TrimSpace(pub[i]) == "" {
			continue
		}
		p := db.Port{Protocol: at(proto, i, "tcp"), Mode: at(mode, i, "host")}
		var e1, e2 error
		p.Published, e1 = strconv.Atoi(strings.TrimSpace(pub[i]))
		p.Target, e2 = strconv.Atoi(strings.TrimSpace(at(tgt, i, "")))
		if e1 != nil || e2 != nil {
			perr = errors.New("ports must be whole numbers")
			break
		}
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Published < ports[j].Published })
	if perr == nil {
		perr = validatePorts(ports)
	}
	if perr == nil {
		perr = h.store.SetAppPorts(c.Request().Context(), a.ID, ports)
		if perr != nil && !errors.Is(perr, db.ErrConflict) {
			return perr
		}
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	if perr != nil {
		p.PortsError = perr.Error() + ". Nothing was saved."
		return h.partial(c, http.StatusUnprocessableEntity, "app_ports", p)
	}
	p.Saved = "Ports saved. Deploy to apply them."
	return h.partial(c, http.StatusOK, "app_ports", p)
}

func at(s []string, i int, def string) string {
	if i < len(s) && s[i] != "" {
		return s[i]
	}
	return def
}

// generateDeployKey creates an SSH key pair for cloning a private repository;
// the user adds the public key to the repository as a read-only deploy key.
func (h *Handler) generateDeployKey(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	private, public, err := jobs.GenerateDeployKey()
	if err != nil {
		return err
	}
	priv := string(private)
	if err := h.store.SetAppSecrets(c.Request().Context(), a.ID, db.SecretUpdate{GitSSHKey: &priv, GitSSHPublicKey: &public}); err != nil {
		return err
	}
	if a, err = h.store.App(c.Request().Context(), a.ID); err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	p.Saved = "New deploy key generated. Add the public key to your repository."
	return h.partial(c, http.StatusOK, "app_settings", p)
}

// triggerDeploy queues a deployment and hands it to the worker pool.
func (h *Handler) triggerDeploy(c echo.Context, a *db.App, trigger, by string) (*db.Deployment, error) {
	d, err := h.store.CreateDeployment(c.Request().Context(), a.ID, trigger, by)
	if err != nil {
		return nil, err
	}
	h.enqueue(c, d)
	return d, nil
}

// enqueue hands a queued deployment to the workers. If Redis is down the row
// stays queued in PostgreSQL and the workers' re-enqueue loop picks it up
// once Redis is back, so the request still succeeds.
func (h *Handler) enqueue(c echo.Context, d *db.Deployment) {
	if err := h.runner.Enqueue(c.Request().Context(), d.ID); err != nil {
		slog.Warn("deployment queued in PostgreSQL only; it starts when Redis is back", "deployment", d.ID, "err", err)
	}
}

func (h *Handler) deployApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	d, err := h.triggerDeploy(c, a, "user", currentUser(c).Email)
	if err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/deployments/%d", d.ID))
}

// appAction runs a runtime action and re-renders the live header.
func (h *Handler) appAction(c echo.Context, act func(*db.App) error) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if err := act(a); err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Docker refused: "+err.Error())
	}
	// The header's Start/Stop buttons depend on the new status.
	c.Response().Header().Set("HX-Refresh", "true")
	return h.showAppLivePartial(c)
}

func (h *Handler) stopApp(c echo.Context) error {
	return h.appAction(c, func(a *db.App) error { return h.runner.StopApp(c.Request().Context(), a) })
}

func (h *Handler) startApp(c echo.Context) error {
	return h.appAction(c, func(a *db.App) error { return h.runner.StartApp(c.Request().Context(), a) })
}

func (h *Handler) restartApp(c echo.Context) error {
	return h.appAction(c, func(a *db.App) error { return h.runner.RestartApp(c.Request().Context(), a) })
}

func (h *Handler) deleteApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if err := h.removeApp(c, a); err != nil {
		return err
	}
	return redirect(c, fmt.Sprintf("/projects/%d", a.ProjectID))
}

// removeApp removes the service and images, then the rows.
func (h *Handler) removeApp(c echo.Context, a *db.App) error {
	if err := h.runner.RemoveApp(c.Request().Context(), a); err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, "Could not remove the app's service: "+err.Error())
	}
	if err := h.store.DeleteApp(c.Request().Context(), a.ID); err != nil {
		return err
	}
	// The app's domains went with it (cascade); Sync deletes its Traefik file.
	// A failure is logged by Sync and retried by the next one.
	_, _ = h.routing.Sync(c.Request().Context())
	return nil
}

// showAppLivePartial is polled by the app page: status, running version
// and deployment history.
func (h *Handler) showAppLivePartial(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "app_live", p)
}
