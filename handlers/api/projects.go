package api

import (
	"net/http"
	"strconv"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

func (h *Handler) ListProjects(c echo.Context) error {
	projects, err := h.Store.Projects(c.Request().Context(), web.VisibleProjects(c))
	if err != nil {
		return err
	}
	// Projects are few; paging the loaded list keeps one query for envs.
	return c.JSON(http.StatusOK, pageOf(c, projects))
}

func (h *Handler) CreateProject(c echo.Context) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	p, err := h.Ops.CreateProject(c.Request().Context(), in.Name, in.Description)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

func (h *Handler) GetProject(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	p, err := h.Store.Project(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// nameBody is the body of every rename and of environment creation.
type nameBody struct {
	Name string `json:"name"`
}

func bindName(c echo.Context) (string, error) {
	var in nameBody
	if err := bindStrict(c, &in); err != nil {
		return "", err
	}
	return in.Name, nil
}

func (h *Handler) RenameProject(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	name, err := bindName(c)
	if err != nil {
		return err
	}
	if err := h.Ops.RenameProject(c.Request().Context(), id, name); err != nil {
		return err
	}
	return h.GetProject(c)
}

func (h *Handler) DeleteProject(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteProject(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) ListEnvironments(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	p, err := h.Store.Project(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, p.Environments))
}

func (h *Handler) CreateEnvironment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	name, err := bindName(c)
	if err != nil {
		return err
	}
	env, err := h.Ops.CreateEnvironment(c.Request().Context(), id, name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, env)
}

// loadProjectEnvironment resolves :id/:env_id, refusing an environment of
// another project so paths cannot be mixed.
func (h *Handler) loadProjectEnvironment(c echo.Context) (*db.Environment, error) {
	projectID, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	envID, err := strconv.ParseInt(c.Param("env_id"), 10, 64)
	if err != nil || envID <= 0 {
		return nil, db.ErrNotFound
	}
	env, err := h.Store.Environment(c.Request().Context(), envID)
	if err != nil {
		return nil, err
	}
	if env.ProjectID != projectID {
		return nil, db.ErrNotFound
	}
	return env, nil
}

func (h *Handler) RenameEnvironment(c echo.Context) error {
	env, err := h.loadProjectEnvironment(c)
	if err != nil {
		return err
	}
	name, err := bindName(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.Ops.RenameEnvironment(ctx, env, name); err != nil {
		return err
	}
	if env, err = h.Store.Environment(ctx, env.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, env)
}

func (h *Handler) DeleteEnvironment(c echo.Context) error {
	env, err := h.loadProjectEnvironment(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteEnvironment(c.Request().Context(), env); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
