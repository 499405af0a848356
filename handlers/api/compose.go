package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"
)

// composeSourceJSON is a git stack's source in requests and answers.
type composeSourceJSON struct {
	Type         string  `json:"type"`
	URL          *string `json:"url,omitempty"`
	Branch       *string `json:"branch,omitempty"`
	ComposePath  *string `json:"compose_path,omitempty"`
	Token        *string `json:"token,omitempty"`
	SSHKey       *string `json:"ssh_key,omitempty"`
	HasToken     bool    `json:"token_set"`
	HasSSHKey    bool    `json:"ssh_key_set"`
	SSHPublicKey string  `json:"deploy_public_key,omitempty"`
}

// composeInputJSON is the body of POST and PATCH /compose. Pointers tell
// "not sent" (PATCH keeps the value) from "sent empty".
type composeInputJSON struct {
	EnvironmentID *int64             `json:"environment_id"`
	ProjectID     *int64             `json:"project_id"`
	Environment   *string            `json:"environment"`
	Name          *string            `json:"name"`
	DisplayName   *string            `json:"display_name"`
	Source        *composeSourceJSON `json:"source"`
	ComposeFile   *string            `json:"compose_file"`
	InjectEnv     *bool              `json:"inject_env"`
	Env           *map[string]string `json:"env"`
	Allow         *db.ComposeAllow   `json:"allow"`
	Deploy        *bool              `json:"deploy"`
}

// apply copies the editable fields onto c and returns the extras.
func (in *composeInputJSON) apply(c *db.ComposeStack) ops.ComposeExtras {
	setIf(&c.DisplayName, in.DisplayName)
	setIf(&c.InjectEnv, in.InjectEnv)
	if in.Allow != nil {
		c.ComposeAllow = *in.Allow
	}
	var x ops.ComposeExtras
	if in.Source != nil {
		c.SourceType = in.Source.Type
		setIf(&c.GitURL, in.Source.URL)
		setIf(&c.GitBranch, in.Source.Branch)
		setIf(&c.ComposePath, in.Source.ComposePath)
		x.GitToken, x.GitSSHKey = in.Source.Token, in.Source.SSHKey
	}
	if in.ComposeFile != nil {
		c.ComposeFile = *in.ComposeFile
		if in.Source == nil {
			c.SourceType = db.ComposeInline
		}
	}
	if in.Env != nil {
		vars := mapToVariables(*in.Env)
		x.Env = &vars
	}
	return x
}

// composeJSON is a stack as the API shows it: secrets only as "set".
type composeJSON struct {
	*db.ComposeStack
	Source      composeSourceJSON `json:"source"`
	ComposeFile string            `json:"compose_file,omitempty"`
	Allow       db.ComposeAllow   `json:"allow"`
	EnvKeys     []string          `json:"env_keys"`
	Services    []string          `json:"services"`
}

// composeCreated is the answer of create and update: the stack, the deploy
// that applies it (when queued) and the file's warnings.
type composeCreated struct {
	*composeJSON
	Deployment *db.Deployment `json:"deployment,omitempty"`
	Warnings   []string       `json:"warnings"`
}

func (h *Handler) composeToJSON(ctx context.Context, c *db.ComposeStack) (*composeJSON, error) {
	vars, err := h.Store.AppVariables(ctx, c.ID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	out := &composeJSON{ComposeStack: c, Allow: c.ComposeAllow, EnvKeys: []string{}, Services: h.Ops.ComposeServiceNames(ctx, c)}
	out.Source.Type = c.SourceType
	if c.SourceType == db.ComposeGit {
		url, branch, path := c.GitURL, c.GitBranch, c.ComposePath
		out.Source.URL, out.Source.Branch, out.Source.ComposePath = &url, &branch, &path
		out.Source.HasToken, out.Source.HasSSHKey, out.Source.SSHPublicKey = c.HasGitToken(), c.HasGitSSHKey(), c.GitSSHPublicKey
	} else {
		out.ComposeFile = c.ComposeFile
	}
	if out.Services == nil {
		out.Services = []string{}
	}
	for _, v := range vars {
		out.EnvKeys = append(out.EnvKeys, v.Key)
	}
	return out, nil
}

func (h *Handler) renderCompose(c echo.Context, status int, id int64, dep *db.Deployment, warnings []string, created bool) error {
	ctx := c.Request().Context()
	stack, err := h.Store.Compose(ctx, id)
	if err != nil {
		return err
	}
	out, err := h.composeToJSON(ctx, stack)
	if err != nil {
		return err
	}
	if !created {
		return c.JSON(status, out)
	}
	if warnings == nil {
		warnings = []string{}
	}
	return c.JSON(status, composeCreated{composeJSON: out, Deployment: dep, Warnings: warnings})
}

// LoadCompose loads the stack named by the :id path parameter.
func (h *Handler) LoadCompose(c echo.Context) (*db.ComposeStack, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	return h.Store.Compose(c.Request().Context(), id)
}

func (h *Handler) ListCompose(c echo.Context) error {
	ctx := c.Request().Context()
	limit, offset := pageParams(c)
	list, err := h.Store.ComposePage(ctx, limit, offset, web.VisibleProjects(c))
	if err != nil {
		return err
	}
	items := make([]*composeJSON, 0, len(list))
	for i := range list {
		j, err := h.composeToJSON(ctx, &list[i])
		if err != nil {
			return err
		}
		items = append(items, j)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "limit": limit, "offset": offset})
}

func (h *Handler) CreateCompose(c echo.Context) error {
	ctx := c.Request().Context()
	var in composeInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return web.Error(http.StatusUnprocessableEntity, "name", "name is required: a DNS label that becomes the Swarm stack name")
	}
	if in.Source == nil && in.ComposeFile == nil {
		return web.Error(http.StatusUnprocessableEntity, "source", `give either source ({"type": "git", "url": …}) or compose_file (the YAML text)`)
	}
	envID, err := h.resolveEnvironment(c, in.EnvironmentID, in.ProjectID, in.Environment)
	if err != nil {
		return err
	}
	stack := ops.NewCompose(envID)
	stack.Name = *in.Name
	x := in.apply(stack)
	warnings, err := h.Ops.CreateCompose(ctx, stack, x)
	if err != nil {
		return err
	}
	var dep *db.Deployment
	if in.Deploy == nil || *in.Deploy {
		if dep, err = h.Ops.DeployCompose(ctx, stack, "user", actor(c)); err != nil {
			return err
		}
	}
	return h.renderCompose(c, http.StatusCreated, stack.ID, dep, warnings, true)
}

func (h *Handler) GetCompose(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	return h.renderCompose(c, http.StatusOK, stack.ID, nil, nil, false)
}

func (h *Handler) UpdateCompose(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	var in composeInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Name != nil && *in.Name != stack.Name {
		return web.Error(http.StatusUnprocessableEntity, "name", "name cannot be changed: it names the stack's Swarm services, networks and volumes")
	}
	if in.EnvironmentID != nil || in.ProjectID != nil || in.Environment != nil {
		return web.Error(http.StatusUnprocessableEntity, "environment", "moving a stack between projects or environments is not supported")
	}
	ctx := c.Request().Context()
	x := in.apply(stack)
	warnings, err := h.Ops.UpdateCompose(ctx, stack, x)
	if err != nil {
		return err
	}
	var dep *db.Deployment
	if in.Deploy != nil && *in.Deploy {
		if dep, err = h.Ops.DeployCompose(ctx, stack, "user", actor(c)); err != nil {
			return err
		}
	}
	return h.renderCompose(c, http.StatusOK, stack.ID, dep, warnings, true)
}

// DeleteCompose needs ?volumes=keep or ?volumes=remove: losing data must
// never be a default.
func (h *Handler) DeleteCompose(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	var remove bool
	switch c.QueryParam("volumes") {
	case "keep":
	case "remove":
		remove = true
	default:
		return web.Error(http.StatusUnprocessableEntity, "volumes", "say what happens to the stack's named volumes: ?volumes=keep keeps them for a stack of the same name, ?volumes=remove deletes them for good")
	}
	if err := h.Ops.DeleteCompose(c.Request().Context(), stack, remove); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// composeAction answers a queued operation with 202 and its deployment.
func (h *Handler) composeAction(c echo.Context, action string) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var dep *db.Deployment
	if action == db.ActionDeploy {
		dep, err = h.Ops.DeployCompose(ctx, stack, "user", actor(c))
	} else {
		dep, err = h.Ops.ComposeOperation(ctx, stack, action, actor(c))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, dep)
}

func (h *Handler) DeployCompose(c echo.Context) error  { return h.composeAction(c, db.ActionDeploy) }
func (h *Handler) StopCompose(c echo.Context) error    { return h.composeAction(c, db.ActionStop) }
func (h *Handler) StartCompose(c echo.Context) error   { return h.composeAction(c, db.ActionStart) }
func (h *Handler) RestartCompose(c echo.Context) error { return h.composeAction(c, db.ActionRestart) }

// ComposeServices is the live state of every service of the stack.
func (h *Handler) ComposeServices(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	states, err := h.Runner.StackServices(c.Request().Context(), stack.Name)
	if err != nil {
		return &ops.EngineError{Msg: "Docker did not answer: " + err.Error(), Err: err}
	}
	if states == nil {
		states = []docker.StackServiceState{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": states})
}

// ComposeFile is the file the running deploy rendered, with the diff
// against the deploy before it.
func (h *Handler) ComposeFile(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	view, err := h.Ops.ComposeFileView(c.Request().Context(), stack)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

func (h *Handler) ListComposeDeployments(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	limit, offset := pageParams(c)
	deps, err := h.Store.DeploymentsPage(c.Request().Context(), stack.ID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": deps, "limit": limit, "offset": offset})
}

func (h *Handler) GetComposeEnv(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	return h.revealEnv(c, stack.ID)
}

// PutComposeEnv replaces the stack's env; an inline file must still load
// with it.
func (h *Handler) PutComposeEnv(c echo.Context) error {
	stack, err := h.LoadCompose(c)
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
	if _, err := h.Ops.SetComposeEnv(c.Request().Context(), stack, mapToVariables(in.Env)); err != nil {
		return err
	}
	return h.GetComposeEnv(c)
}

func (h *Handler) ListComposeDomains(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	domains, err := h.Store.ComposeDomains(ctx, stack.ID)
	if err != nil {
		return err
	}
	states := h.Routing.Status(ctx, stack.Name, domains)
	items := make([]domainJSON, 0, len(domains))
	for _, d := range domains {
		items = append(items, domainJSON{Domain: d, Status: states[d.ID].State, StatusDetail: states[d.ID].Detail})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) CreateComposeDomain(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	var in domainInput
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Host == nil {
		return web.Error(http.StatusUnprocessableEntity, "host", "host is required")
	}
	d := ops.NewComposeDomain(stack)
	in.apply(d)
	err = h.Ops.SaveComposeDomain(c.Request().Context(), stack, d)
	return h.answerDomain(c, stack.Name, d, err, http.StatusCreated)
}

// GetComposeWebhook shows the stack's deploy webhook with its secret.
func (h *Handler) GetComposeWebhook(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	hook, err := h.Store.AppWebhook(c.Request().Context(), stack.ID)
	if err != nil {
		return err
	}
	out := h.webhookToJSON(hook)
	out.Secret = hook.Secret
	return c.JSON(http.StatusOK, out)
}

// GenerateComposeDeployKey replaces the stack's SSH deploy key and answers
// with its public half, to add to the repository as a read-only key.
func (h *Handler) GenerateComposeDeployKey(c echo.Context) error {
	stack, err := h.LoadCompose(c)
	if err != nil {
		return err
	}
	public, err := h.Ops.NewComposeDeployKey(c.Request().Context(), stack)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"public_key": public})
}
