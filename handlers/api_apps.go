package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// appSourceJSON is the "source" object of the application API.
type appSourceJSON struct {
	Type       *string `json:"type,omitempty"`
	URL        *string `json:"url,omitempty"`
	Branch     *string `json:"branch,omitempty"`
	Context    *string `json:"context,omitempty"`
	Dockerfile *string `json:"dockerfile,omitempty"`
	Target     *string `json:"target,omitempty"`
	NoCache    *bool   `json:"no_cache,omitempty"`
	Token      *string `json:"token,omitempty"`
	Image      *string `json:"image,omitempty"`
	Registry   *struct {
		Server   string  `json:"server"`
		Username string  `json:"username"`
		Password *string `json:"password"`
	} `json:"registry,omitempty"`
}

// appInputJSON is the body of POST and PATCH /applications. Pointers tell
// "not sent" (PATCH keeps the value) from "sent empty".
type appInputJSON struct {
	ProjectID     *int64             `json:"project_id"`
	Environment   *string            `json:"environment"`
	Name          *string            `json:"name"`
	AppName       *string            `json:"app_name"`
	Source        *appSourceJSON     `json:"source"`
	Port          *int               `json:"port"`
	Ports         *[]db.Port         `json:"ports"`
	Env           *map[string]string `json:"env"`
	BuildArgs     *map[string]string `json:"build_args"`
	Replicas      *int               `json:"replicas"`
	MemoryLimitMB *int               `json:"memory_limit_mb"`
	CPULimit      *float64           `json:"cpu_limit"`

	HealthPath        *string `json:"health_path"`
	HealthPort        *int    `json:"health_port"`
	HealthStatus      *int    `json:"health_status"`
	HealthInterval    *int    `json:"health_interval"`
	HealthTimeout     *int    `json:"health_timeout"`
	HealthRetries     *int    `json:"health_retries"`
	HealthStartPeriod *int    `json:"health_start_period"`
	StopGracePeriod   *int    `json:"stop_grace_period"`
	// Webhook settings; webhook_secret "" turns signature checks off.
	WebhookSecret *string   `json:"webhook_secret"`
	DeployOn      *string   `json:"deploy_on"`
	WatchPaths    *[]string `json:"watch_paths"`
	AutoDeploy    *bool     `json:"auto_deploy"`
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// apply copies sent fields onto a and returns the credential changes.
func (in *appInputJSON) apply(a *db.App) db.SecretUpdate {
	setIf(&a.Name, in.Name)
	setIf(&a.Port, in.Port)
	setIf(&a.Replicas, in.Replicas)
	setIf(&a.MemoryLimitMB, in.MemoryLimitMB)
	setIf(&a.CPULimit, in.CPULimit)
	setIf(&a.HealthPath, in.HealthPath)
	setIf(&a.HealthPort, in.HealthPort)
	setIf(&a.HealthStatus, in.HealthStatus)
	setIf(&a.HealthInterval, in.HealthInterval)
	setIf(&a.HealthTimeout, in.HealthTimeout)
	setIf(&a.HealthRetries, in.HealthRetries)
	setIf(&a.HealthStartPeriod, in.HealthStartPeriod)
	setIf(&a.StopGracePeriod, in.StopGracePeriod)
	var secrets db.SecretUpdate
	if s := in.Source; s != nil {
		setIf(&a.SourceType, s.Type)
		setIf(&a.GitURL, s.URL)
		setIf(&a.GitBranch, s.Branch)
		setIf(&a.GitContext, s.Context)
		setIf(&a.GitDockerfile, s.Dockerfile)
		setIf(&a.BuildTarget, s.Target)
		setIf(&a.BuildNoCache, s.NoCache)
		setIf(&a.Image, s.Image)
		secrets.GitToken = s.Token
		if s.Registry != nil {
			a.RegistryServer, a.RegistryUsername = s.Registry.Server, s.Registry.Username
			secrets.RegistryPassword = s.Registry.Password
		}
	}
	return secrets
}

func mapToVariables(m map[string]string) []db.Variable {
	vars := make([]db.Variable, 0, len(m))
	for k, v := range m {
		vars = append(vars, db.Variable{Key: k, Value: v})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Key < vars[j].Key })
	return vars
}

// validateAppExtras checks env, build args and ports of an API body.
func (in *appInputJSON) validateExtras() error {
	if in.Env != nil {
		if err := validateVariables(mapToVariables(*in.Env)); err != nil {
			return apiError(http.StatusUnprocessableEntity, "env", err.Error())
		}
	}
	if in.BuildArgs != nil {
		if err := validateVariables(mapToVariables(*in.BuildArgs)); err != nil {
			return apiError(http.StatusUnprocessableEntity, "build_args", err.Error())
		}
	}
	if in.DeployOn != nil {
		if err := validateDeployOn(*in.DeployOn); err != nil {
			return apiError(http.StatusUnprocessableEntity, "deploy_on", err.Error())
		}
	}
	if in.WatchPaths != nil {
		clean, err := validateWatchPaths(*in.WatchPaths)
		if err != nil {
			return apiError(http.StatusUnprocessableEntity, "watch_paths", err.Error())
		}
		*in.WatchPaths = clean
	}
	if in.WebhookSecret != nil {
		if err := validateWebhookSecret(*in.WebhookSecret); err != nil {
			return apiError(http.StatusUnprocessableEntity, "webhook_secret", err.Error())
		}
	}
	if in.Ports != nil {
		for i := range *in.Ports {
			p := &(*in.Ports)[i]
			if p.Protocol == "" {
				p.Protocol = "tcp"
			}
			if p.Mode == "" {
				p.Mode = "host"
			}
		}
		if err := validatePorts(*in.Ports); err != nil {
			return apiError(http.StatusUnprocessableEntity, "ports", err.Error())
		}
	}
	return nil
}

// saveExtras stores env, build args, ports and credentials that were sent.
func (h *Handler) saveExtras(c echo.Context, appID int64, in *appInputJSON, secrets db.SecretUpdate) error {
	ctx := c.Request().Context()
	if in.Env != nil {
		if err := h.store.SetAppVariables(ctx, appID, db.VarEnv, mapToVariables(*in.Env)); err != nil {
			return err
		}
	}
	if in.BuildArgs != nil {
		if err := h.store.SetAppVariables(ctx, appID, db.VarBuildArg, mapToVariables(*in.BuildArgs)); err != nil {
			return err
		}
	}
	if in.Ports != nil {
		if err := h.store.SetAppPorts(ctx, appID, *in.Ports); errors.Is(err, db.ErrConflict) {
			return apiError(http.StatusConflict, "ports", err.Error())
		} else if err != nil {
			return err
		}
	}
	if err := h.saveWebhookFields(c, appID, in); err != nil {
		return err
	}
	return h.store.SetAppSecrets(ctx, appID, secrets)
}

// saveWebhookFields stores the webhook settings that were sent.
func (h *Handler) saveWebhookFields(c echo.Context, appID int64, in *appInputJSON) error {
	ctx := c.Request().Context()
	if in.DeployOn != nil || in.WatchPaths != nil || in.AutoDeploy != nil {
		hook, err := h.store.AppWebhook(ctx, appID)
		if err != nil {
			return err
		}
		set := db.WebhookSettings{DeployOn: hook.DeployOn, WatchPaths: hook.WatchPaths, AutoDeploy: hook.AutoDeploy}
		setIf(&set.DeployOn, in.DeployOn)
		setIf(&set.WatchPaths, in.WatchPaths)
		setIf(&set.AutoDeploy, in.AutoDeploy)
		if err := h.store.UpdateWebhookSettings(ctx, appID, set); err != nil {
			return err
		}
	}
	if in.WebhookSecret != nil {
		return h.store.SetWebhookSecret(ctx, appID, *in.WebhookSecret)
	}
	return nil
}

func (h *Handler) apiCreateApp(c echo.Context) error {
	ctx := c.Request().Context()
	var in appInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.ProjectID == nil {
		return apiError(http.StatusUnprocessableEntity, "project_id", "project_id is required")
	}
	envName := db.DefaultEnvironment
	setIf(&envName, in.Environment)
	env, err := h.store.EnvironmentByName(ctx, *in.ProjectID, envName)
	if errors.Is(err, db.ErrNotFound) {
		return apiError(http.StatusUnprocessableEntity, "environment", fmt.Sprintf("project %d has no environment %q", *in.ProjectID, envName))
	}
	if err != nil {
		return err
	}
	a := &db.App{EnvironmentID: env.ID, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 3000, Replicas: 1}
	setIf(&a.AppName, in.AppName)
	secrets := in.apply(a)
	if err := firstFieldError(validateApp(a)); err != nil {
		return err
	}
	if err := in.validateExtras(); err != nil {
		return err
	}
	if err := h.store.CreateApp(ctx, a); errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "app_name", fmt.Sprintf("app name %q is taken", a.AppName))
	} else if err != nil {
		return err
	}
	if err := h.saveExtras(c, a.ID, &in, secrets); err != nil {
		_ = h.store.DeleteApp(ctx, a.ID) // nothing half-made stays behind
		return err
	}
	return h.renderAppJSON(c, http.StatusCreated, a.ID)
}

func (h *Handler) apiUpdateApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	var in appInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.AppName != nil && *in.AppName != a.AppName {
		return apiError(http.StatusUnprocessableEntity, "app_name", "app_name cannot be changed: it names the running service")
	}
	if in.ProjectID != nil || in.Environment != nil {
		return apiError(http.StatusUnprocessableEntity, "environment", "moving an app between projects or environments is not supported")
	}
	secrets := in.apply(a)
	if err := firstFieldError(validateApp(a)); err != nil {
		return err
	}
	if err := in.validateExtras(); err != nil {
		return err
	}
	if err := h.store.UpdateApp(c.Request().Context(), a); err != nil {
		return err
	}
	if err := h.saveExtras(c, a.ID, &in, secrets); err != nil {
		return err
	}
	return h.renderAppJSON(c, http.StatusOK, a.ID)
}

// appJSON is an app as the API shows it: secrets appear only as "set".
type appJSON struct {
	*db.App
	Source  map[string]any `json:"source"`
	Env     []string       `json:"env_keys"`
	Ports   []db.Port      `json:"ports"`
	Webhook string         `json:"webhook_url,omitempty"`
	Hook    *webhookJSON   `json:"webhook,omitempty"`
}

// webhookJSON is an app's webhook settings; Secret only where asked for.
type webhookJSON struct {
	URL        string   `json:"url"`
	DeployOn   string   `json:"deploy_on"`
	WatchPaths []string `json:"watch_paths"`
	AutoDeploy bool     `json:"auto_deploy"`
	SecretSet  bool     `json:"secret_set"`
	Secret     string   `json:"secret,omitempty"`
}

func (h *Handler) webhookToJSON(w *db.Webhook) *webhookJSON {
	return &webhookJSON{URL: h.webhookURL(w), DeployOn: w.DeployOn, WatchPaths: w.WatchPaths,
		AutoDeploy: w.AutoDeploy, SecretSet: w.HasSecret()}
}

func (h *Handler) appToJSON(c echo.Context, a *db.App) (*appJSON, error) {
	ctx := c.Request().Context()
	vars, err := h.store.AppVariables(ctx, a.ID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	ports, err := h.store.AppPorts(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	hook, err := h.store.AppWebhook(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	out := &appJSON{App: a, Env: []string{}, Ports: ports, Webhook: h.webhookURL(hook), Hook: h.webhookToJSON(hook)}
	for _, v := range vars {
		out.Env = append(out.Env, v.Key)
	}
	if a.SourceType == db.SourceGit {
		out.Source = map[string]any{"type": "git", "url": a.GitURL, "branch": a.GitBranch, "context": a.GitContext,
			"dockerfile": a.GitDockerfile, "target": a.BuildTarget, "no_cache": a.BuildNoCache,
			"token_set": a.HasGitToken(), "deploy_public_key": a.GitSSHPublicKey}
	} else {
		out.Source = map[string]any{"type": "image", "image": a.Image,
			"registry": map[string]any{"server": a.RegistryServer, "username": a.RegistryUsername, "password_set": a.HasRegistryPassword()}}
	}
	return out, nil
}

func (h *Handler) renderAppJSON(c echo.Context, status int, id int64) error {
	a, err := h.store.App(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out, err := h.appToJSON(c, a)
	if err != nil {
		return err
	}
	return c.JSON(status, out)
}

func (h *Handler) apiListApps(c echo.Context) error {
	limit, offset := pageParams(c)
	apps, err := h.store.AppsPage(c.Request().Context(), limit, offset)
	if err != nil {
		return err
	}
	items := make([]*appJSON, 0, len(apps))
	for i := range apps {
		j, err := h.appToJSON(c, &apps[i])
		if err != nil {
			return err
		}
		items = append(items, j)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "limit": limit, "offset": offset})
}

func (h *Handler) apiGetApp(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	return h.renderAppJSON(c, http.StatusOK, id)
}

func (h *Handler) apiDeleteApp(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if err := h.removeApp(c, a); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// envBody is the body and answer of /applications/{id}/env.
type envBody struct {
	Env map[string]string `json:"env"`
}

func (h *Handler) apiGetAppEnv(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	vars, err := h.store.AppVariables(c.Request().Context(), a.ID, db.VarEnv)
	if err != nil {
		return err
	}
	out := envBody{Env: map[string]string{}}
	for _, v := range vars {
		out.Env[v.Key] = v.Value
	}
	return c.JSON(http.StatusOK, out)
}

// apiPutAppEnv replaces every environment variable of the app.
func (h *Handler) apiPutAppEnv(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	var in envBody
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Env == nil {
		return apiError(http.StatusUnprocessableEntity, "env", `env is required: an object of NAME: value ({} removes every variable)`)
	}
	vars := mapToVariables(in.Env)
	if err := validateVariables(vars); err != nil {
		return apiError(http.StatusUnprocessableEntity, "env", err.Error())
	}
	if err := h.store.SetAppVariables(c.Request().Context(), a.ID, db.VarEnv, vars); err != nil {
		return err
	}
	return h.apiGetAppEnv(c)
}

// apiAppAction runs stop, start or restart and answers with the app.
func (h *Handler) apiAppAction(c echo.Context, act func(*db.App) error) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if err := act(a); err != nil {
		return apiError(http.StatusBadGateway, "", "Docker refused: "+err.Error())
	}
	return h.renderAppJSON(c, http.StatusOK, a.ID)
}

func (h *Handler) apiStopApp(c echo.Context) error {
	return h.apiAppAction(c, func(a *db.App) error { return h.runner.StopApp(c.Request().Context(), a) })
}

func (h *Handler) apiStartApp(c echo.Context) error {
	return h.apiAppAction(c, func(a *db.App) error { return h.runner.StartApp(c.Request().Context(), a) })
}

func (h *Handler) apiRestartApp(c echo.Context) error {
	return h.apiAppAction(c, func(a *db.App) error { return h.runner.RestartApp(c.Request().Context(), a) })
}
