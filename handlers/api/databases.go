package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs"
	"dokploy/jobs/engines"
	"dokploy/jobs/ops"
)

// databaseInputJSON is the body of POST and PATCH /databases. Pointers
// tell "not sent" (PATCH keeps the value) from "sent empty".
type databaseInputJSON struct {
	EnvironmentID    *int64    `json:"environment_id"`
	ProjectID        *int64    `json:"project_id"`
	Environment      *string   `json:"environment"`
	Engine           *string   `json:"engine"`
	Name             *string   `json:"name"`
	Image            *string   `json:"image"`
	Database         *string   `json:"database"`
	User             *string   `json:"user"`
	ExternalPort     *int      `json:"external_port"`
	MemoryLimitMB    *int      `json:"memory_limit_mb"`
	CPULimit         *float64  `json:"cpu_limit"`
	Args             *[]string `json:"args"`
	RedisPersistence *string   `json:"redis_persistence"`
	// Placement; applies on the deploy the update starts.
	PlacementConstraints *[]string          `json:"placement_constraints"`
	MaxReplicasPerNode   *int               `json:"max_replicas_per_node"`
	Env                  *map[string]string `json:"env"`
	Registry             *struct {
		Server   string  `json:"server"`
		Username string  `json:"username"`
		Password *string `json:"password"`
	} `json:"registry"`
}

// apply copies the editable fields onto d and returns the extras.
func (in *databaseInputJSON) apply(d *db.Database) ops.DatabaseExtras {
	setIf(&d.Image, in.Image)
	setIf(&d.MemoryLimitMB, in.MemoryLimitMB)
	setIf(&d.CPULimit, in.CPULimit)
	setIf(&d.RedisPersistence, in.RedisPersistence)
	if in.Args != nil {
		d.Args = *in.Args
	}
	if in.PlacementConstraints != nil {
		d.PlacementConstraints = *in.PlacementConstraints
	}
	setIf(&d.MaxReplicasPerNode, in.MaxReplicasPerNode)
	x := ops.DatabaseExtras{ExternalPort: in.ExternalPort}
	if in.Registry != nil {
		d.RegistryServer, d.RegistryUsername = in.Registry.Server, in.Registry.Username
		x.RegistryPassword = in.Registry.Password
	}
	if in.Env != nil {
		vars := mapToVariables(*in.Env)
		x.Env = &vars
	}
	return x
}

// databaseJSON is a database as the API shows it: the password only
// masked in its URLs; GET /credentials reveals it.
type databaseJSON struct {
	*db.Database
	Status       string    `json:"status"`
	Live         jobs.Live `json:"live"`
	InternalURL  string    `json:"internal_url"`
	ExternalURL  string    `json:"external_url,omitempty"`
	ExternalPort int       `json:"external_port,omitempty"`
	Volume       string    `json:"volume"`
	EnvKeys      []string  `json:"env_keys"`
}

// databaseCreated is the answer of create and update: the database and
// the deploy that applies it.
type databaseCreated struct {
	*databaseJSON
	Deployment *db.Deployment `json:"deployment"`
	Warnings   []string       `json:"warnings,omitempty"`
}

func (h *Handler) databaseToJSON(ctx context.Context, d *db.Database, password string, mask bool) (*databaseJSON, error) {
	vars, err := h.Store.AppVariables(ctx, d.ID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	ports, err := h.Store.AppPorts(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	live := h.Runner.Live(ctx, d.Name)
	out := &databaseJSON{Database: d, Status: web.ServiceStatus(d.Status, live), Live: live,
		InternalURL: engines.InternalURL(d, password, mask), Volume: engines.VolumeName(d.Name), EnvKeys: []string{}}
	if d.Args == nil {
		d.Args = []string{}
	}
	for _, v := range vars {
		out.EnvKeys = append(out.EnvKeys, v.Key)
	}
	if len(ports) > 0 {
		out.ExternalPort = ports[0].Published
		out.ExternalURL = engines.URL(d, password, h.serverHost(), ports[0].Published, mask)
	}
	return out, nil
}

// serverHost is the address users reach published ports at: the host of
// the public URL.
func (h *Handler) serverHost() string {
	if u, err := url.Parse(h.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

// maskedPassword stands in for the password in URLs that are masked.
const maskedPassword = "********"

func (h *Handler) renderDatabase(c echo.Context, status int, id int64, dep *db.Deployment, warnings []string) error {
	ctx := c.Request().Context()
	d, err := h.Store.Database(ctx, id)
	if err != nil {
		return err
	}
	out, err := h.databaseToJSON(ctx, d, maskedPassword, true)
	if err != nil {
		return err
	}
	if dep == nil {
		return c.JSON(status, out)
	}
	return c.JSON(status, databaseCreated{databaseJSON: out, Deployment: dep, Warnings: warnings})
}

// actor names who asks: the user, or the API token.
func actor(c echo.Context) string {
	if name, ok := c.Get(web.CtxTokenName).(string); ok {
		return "token " + name
	}
	return web.CurrentUser(c).Email
}

func (h *Handler) ListDatabases(c echo.Context) error {
	ctx := c.Request().Context()
	limit, offset := pageParams(c)
	list, err := h.Store.DatabasesPage(ctx, limit, offset, web.VisibleProjects(c))
	if err != nil {
		return err
	}
	items := make([]*databaseJSON, 0, len(list))
	for i := range list {
		j, err := h.databaseToJSON(ctx, &list[i], maskedPassword, true)
		if err != nil {
			return err
		}
		items = append(items, j)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "limit": limit, "offset": offset})
}

// resolveEnvironment finds the environment a create names: environment_id,
// or project_id with an environment name (default production).
func (h *Handler) resolveEnvironment(c echo.Context, envID, projectID *int64, envName *string) (int64, error) {
	ctx := c.Request().Context()
	if envID != nil {
		env, err := h.Store.Environment(ctx, *envID)
		if errors.Is(err, db.ErrNotFound) || err == nil && !web.Access(c).Sees(env.ProjectID) {
			return 0, web.Error(http.StatusUnprocessableEntity, "environment_id", fmt.Sprintf("there is no environment %d", *envID))
		}
		if err != nil {
			return 0, err
		}
		return env.ID, web.NeedLevel(c, env.ProjectID, db.LevelManage)
	}
	if projectID == nil {
		return 0, web.Error(http.StatusUnprocessableEntity, "environment_id", "environment_id, or project_id with environment, is required")
	}
	env, err := h.environmentInProject(c, *projectID, envName)
	if err != nil {
		return 0, err
	}
	return env.ID, nil
}

// environmentInProject finds the named environment (production when
// unnamed) of a project the request may create services in. A project it
// cannot see answers like one that does not exist.
func (h *Handler) environmentInProject(c echo.Context, projectID int64, envName *string) (*db.Environment, error) {
	name := db.DefaultEnvironment
	setIf(&name, envName)
	env, err := h.Store.EnvironmentByName(c.Request().Context(), projectID, name)
	if errors.Is(err, db.ErrNotFound) || err == nil && !web.Access(c).Sees(projectID) {
		return nil, web.Error(http.StatusUnprocessableEntity, "environment", fmt.Sprintf("project %d has no environment %q", projectID, name))
	}
	if err != nil {
		return nil, err
	}
	return env, web.NeedLevel(c, projectID, db.LevelManage)
}

func (h *Handler) CreateDatabase(c echo.Context) error {
	ctx := c.Request().Context()
	var in databaseInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Engine == nil || in.Name == nil {
		return web.Error(http.StatusUnprocessableEntity, "engine", "engine and name are required")
	}
	envID, err := h.resolveEnvironment(c, in.EnvironmentID, in.ProjectID, in.Environment)
	if err != nil {
		return err
	}
	d := ops.NewDatabase(envID, *in.Engine, *in.Name)
	setIf(&d.DatabaseName, in.Database)
	setIf(&d.Username, in.User)
	x := in.apply(d)
	dep, err := h.Ops.CreateDatabase(ctx, d, x, actor(c))
	if err != nil {
		return err
	}
	return h.renderDatabase(c, http.StatusCreated, d.ID, dep, nil)
}

func (h *Handler) GetDatabase(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	return h.renderDatabase(c, http.StatusOK, id, nil, nil)
}

func (h *Handler) UpdateDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	var in databaseInputJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	for field, changed := range map[string]bool{
		"engine":   in.Engine != nil && *in.Engine != d.Engine,
		"name":     in.Name != nil && *in.Name != d.Name,
		"database": in.Database != nil && *in.Database != d.DatabaseName,
		"user":     in.User != nil && *in.User != d.Username,
	} {
		if changed {
			return web.Error(http.StatusUnprocessableEntity, field, field+" cannot be changed: the data volume was initialised with it")
		}
	}
	if in.EnvironmentID != nil || in.ProjectID != nil || in.Environment != nil {
		return web.Error(http.StatusUnprocessableEntity, "environment", "moving a database between projects or environments is not supported")
	}
	x := in.apply(d)
	dep, warnings, err := h.Ops.UpdateDatabase(c.Request().Context(), d, x, actor(c))
	if err != nil {
		return err
	}
	return h.renderDatabase(c, http.StatusOK, d.ID, dep, warnings)
}

// DeleteDatabase needs ?volume=keep or ?volume=remove: losing data must
// never be a default.
func (h *Handler) DeleteDatabase(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	var remove bool
	switch c.QueryParam("volume") {
	case "keep":
	case "remove":
		remove = true
	default:
		return web.Error(http.StatusUnprocessableEntity, "volume", "say what happens to the data: ?volume=keep keeps the "+engines.VolumeName(d.Name)+" volume for a database of the same name, ?volume=remove deletes it for good")
	}
	if err := h.Ops.DeleteDatabase(c.Request().Context(), d, remove); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// databaseAction answers a queued operation with 202 and the deployment
// that carries it.
func (h *Handler) databaseAction(c echo.Context, op func(context.Context, *db.Database, string) (*db.Deployment, error)) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	dep, err := op(c.Request().Context(), d, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, dep)
}

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

func (h *Handler) ChangeDatabasePassword(c echo.Context) error {
	var in struct {
		Password string `json:"password"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindStrict(c, &in); err != nil {
			return err
		}
	}
	return h.databaseAction(c, func(ctx context.Context, d *db.Database, by string) (*db.Deployment, error) {
		return h.Ops.ChangeDatabasePassword(ctx, d, in.Password, by)
	})
}

// GetDatabaseCredentials reveals the password and unmasked URLs.
func (h *Handler) GetDatabaseCredentials(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	sec, err := h.Store.DatabaseSecrets(d)
	if err != nil {
		return err
	}
	out, err := h.databaseToJSON(ctx, d, sec.Password, false)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"user": d.Username, "password": sec.Password, "database": d.DatabaseName,
		"internal_url": out.InternalURL, "external_url": out.ExternalURL})
}

func (h *Handler) LinkDatabase(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	var in struct {
		ApplicationID int64  `json:"application_id"`
		Key           string `json:"key"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	a, err := h.Store.App(ctx, in.ApplicationID)
	if errors.Is(err, db.ErrNotFound) {
		return web.Error(http.StatusUnprocessableEntity, "application_id", fmt.Sprintf("there is no application %d", in.ApplicationID))
	}
	if err != nil {
		return err
	}
	if in.Key == "" {
		in.Key = "DATABASE_URL"
	}
	if err := h.Ops.LinkDatabase(ctx, d, a, in.Key); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"application_id": a.ID, "key": in.Key, "value": ops.DatabaseReference(d.Name)})
}

func (h *Handler) ListDatabaseOperations(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	limit, offset := pageParams(c)
	deps, err := h.Store.DeploymentsPage(c.Request().Context(), d.ID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": deps, "limit": limit, "offset": offset})
}
