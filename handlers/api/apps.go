package api

import (
	"context"
	"net/http"
	"sort"

	"dokploy/handlers/webhook"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

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
	Volumes       *[]db.AppVolume    `json:"volumes"`
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
	// Placement; applies on the next deploy.
	PlacementConstraints *[]string `json:"placement_constraints"`
	MaxReplicasPerNode   *int      `json:"max_replicas_per_node"`
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
	if in.PlacementConstraints != nil {
		a.PlacementConstraints = *in.PlacementConstraints
	}
	setIf(&a.MaxReplicasPerNode, in.MaxReplicasPerNode)
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

// extras checks the webhook settings of an API body (their rules are
// package webhook's), fills port defaults and returns what is stored
// beside the app; ops validates env, build args and ports.
func (in *appInputJSON) extras(secrets db.SecretUpdate) (ops.AppExtras, error) {
	x := ops.AppExtras{Secrets: secrets, Ports: in.Ports, Volumes: in.Volumes, WebhookSecret: in.WebhookSecret}
	if in.Env != nil {
		vars := mapToVariables(*in.Env)
		x.Env = &vars
	}
	if in.BuildArgs != nil {
		vars := mapToVariables(*in.BuildArgs)
		x.BuildArgs = &vars
	}
	if in.DeployOn != nil {
		if err := webhook.ValidateDeployOn(*in.DeployOn); err != nil {
			return x, web.Error(http.StatusUnprocessableEntity, "deploy_on", err.Error())
		}
	}
	if in.WatchPaths != nil {
		clean, err := webhook.ValidateWatchPaths(*in.WatchPaths)
		if err != nil {
			return x, web.Error(http.StatusUnprocessableEntity, "watch_paths", err.Error())
		}
		*in.WatchPaths = clean
	}
	if in.WebhookSecret != nil {
		if err := webhook.ValidateSecret(*in.WebhookSecret); err != nil {
			return x, web.Error(http.StatusUnprocessableEntity, "webhook_secret", err.Error())
		}
	}
	if in.DeployOn != nil || in.WatchPaths != nil || in.AutoDeploy != nil {
		x.Webhook = &ops.WebhookUpdate{DeployOn: in.DeployOn, WatchPaths: in.WatchPaths, AutoDeploy: in.AutoDeploy}
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
	}
	return x, nil
}

func (h *Handler) CreateApp(c echo.Context) error {
	ctx := c.Request().Context()
	var in appInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.ProjectID == nil {
		return web.Error(http.StatusUnprocessableEntity, "project_id", "project_id is required")
	}
	env, err := h.environmentInProject(c, *in.ProjectID, in.Environment)
	if err != nil {
		return err
	}
	a := &db.App{EnvironmentID: env.ID, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 3000, Replicas: 1}
	setIf(&a.AppName, in.AppName)
	secrets := in.apply(a)
	if a.AppName == "" {
		a.AppName = ops.SuggestServiceName(a.Name, "app-")
	}
	x, err := in.extras(secrets)
	if err != nil {
		return err
	}
	if err := h.Ops.CreateApp(ctx, a, x); err != nil {
		return err
	}
	return h.renderAppJSON(c, http.StatusCreated, a.ID)
}

func (h *Handler) UpdateApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in appInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.AppName != nil && *in.AppName != a.AppName {
		return web.Error(http.StatusUnprocessableEntity, "app_name", "app_name cannot be changed: it names the running service")
	}
	if in.ProjectID != nil || in.Environment != nil {
		return web.Error(http.StatusUnprocessableEntity, "environment", "moving an app between projects or environments is not supported")
	}
	x, err := in.extras(in.apply(a))
	if err != nil {
		return err
	}
	if err := h.Ops.UpdateApp(c.Request().Context(), a, x); err != nil {
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
	Volumes []volumeJSON   `json:"volumes"`
	Webhook string         `json:"webhook_url,omitempty"`
	Hook    *webhookJSON   `json:"webhook,omitempty"`
}

// volumeJSON is a volume of an app with the Docker volume that holds it.
type volumeJSON struct {
	db.AppVolume
	DockerVolume string `json:"docker_volume"`
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
	return &webhookJSON{URL: h.WebhookURL(w), DeployOn: w.DeployOn, WatchPaths: w.WatchPaths,
		AutoDeploy: w.AutoDeploy, SecretSet: w.HasSecret()}
}

func (h *Handler) appToJSON(c echo.Context, a *db.App) (*appJSON, error) {
	ctx := c.Request().Context()
	vars, err := h.Store.AppVariables(ctx, a.ID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	ports, err := h.Store.AppPorts(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	hook, err := h.Store.AppWebhook(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	vols, err := h.Store.AppVolumes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	out := &appJSON{App: a, Env: []string{}, Ports: ports, Volumes: []volumeJSON{}, Webhook: h.WebhookURL(hook), Hook: h.webhookToJSON(hook)}
	for _, v := range vols {
		out.Volumes = append(out.Volumes, volumeJSON{AppVolume: v, DockerVolume: db.VolumeName(a.AppName, v.Name)})
	}
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
	a, err := h.Store.App(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out, err := h.appToJSON(c, a)
	if err != nil {
		return err
	}
	return c.JSON(status, out)
}

func (h *Handler) ListApps(c echo.Context) error {
	limit, offset := pageParams(c)
	apps, err := h.Store.AppsPage(c.Request().Context(), limit, offset, web.VisibleProjects(c))
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

func (h *Handler) GetApp(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	return h.renderAppJSON(c, http.StatusOK, id)
}

func (h *Handler) DeleteApp(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteApp(c.Request().Context(), a); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// envBody is the body and answer of /applications/{id}/env.
type envBody struct {
	Env map[string]string `json:"env"`
}

func (h *Handler) GetAppEnv(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.revealEnv(c, a.ID)
}

// revealEnv answers with a service's env: values masked, unless the caller
// asks for them with ?reveal=true, which is recorded (web.RecordReveal) and
// answered with no-store so no cache keeps them.
func (h *Handler) revealEnv(c echo.Context, serviceID int64) error {
	vars, err := h.Store.AppVariables(c.Request().Context(), serviceID, db.VarEnv)
	if err != nil {
		return err
	}
	reveal := c.QueryParam("reveal") == "true"
	out := envBody{Env: map[string]string{}}
	for _, v := range vars {
		out.Env[v.Key] = maskedValue(v.Value, reveal)
	}
	if reveal {
		web.RecordReveal(c, "env", serviceID, len(vars))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

// maskedValue is what the API shows of a secret: the value when revealed,
// otherwise a fixed mask (empty stays empty, so "set but empty" shows).
func maskedValue(v string, reveal bool) string {
	if reveal || v == "" {
		return v
	}
	return db.SecretMask
}

// PutAppEnv replaces every environment variable of the app.
func (h *Handler) PutAppEnv(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in envBody
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Env == nil {
		return web.Error(http.StatusUnprocessableEntity, "env", `env is required: an object of NAME: value ({} removes every variable)`)
	}
	if err := h.Ops.SetEnv(c.Request().Context(), a, mapToVariables(in.Env)); err != nil {
		return err
	}
	return h.GetAppEnv(c)
}

// appAction runs stop, start or restart and answers with the app.
func (h *Handler) appAction(c echo.Context, act func(context.Context, *db.App) error) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	if err := act(c.Request().Context(), a); err != nil {
		return err
	}
	return h.renderAppJSON(c, http.StatusOK, a.ID)
}

func (h *Handler) StopApp(c echo.Context) error {
	return h.appAction(c, h.Ops.StopApp)
}

func (h *Handler) StartApp(c echo.Context) error {
	return h.appAction(c, h.Ops.StartApp)
}

func (h *Handler) RestartApp(c echo.Context) error {
	return h.appAction(c, h.Ops.RestartApp)
}

func (h *Handler) GenerateDeployKey(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	public, err := h.Ops.NewDeployKey(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"public_key": public})
}
