package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

func (h *Handler) apiListProjects(c echo.Context) error {
	projects, err := h.store.Projects(c.Request().Context())
	if err != nil {
		return err
	}
	// Projects are few; paging the loaded list keeps one query for envs.
	return c.JSON(http.StatusOK, pageOf(c, projects))
}

func (h *Handler) apiCreateProject(c echo.Context) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validateDisplayName(in.Name); err != nil {
		return apiError(http.StatusUnprocessableEntity, "name", err.Error())
	}
	if len(in.Description) > 500 {
		return apiError(http.StatusUnprocessableEntity, "description", "description must be at most 500 characters")
	}
	p, err := h.store.CreateProject(c.Request().Context(), in.Name, in.Description)
	if errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "name", "a project named "+in.Name+" already exists")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

func (h *Handler) apiGetProject(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	p, err := h.store.Project(c.Request().Context(), id)
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
	name := strings.TrimSpace(in.Name)
	if err := validateDisplayName(name); err != nil {
		return "", apiError(http.StatusUnprocessableEntity, "name", err.Error())
	}
	return name, nil
}

func (h *Handler) apiRenameProject(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	name, err := bindName(c)
	if err != nil {
		return err
	}
	if err := h.store.RenameProject(c.Request().Context(), id, name); errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "name", "a project named "+name+" already exists")
	} else if err != nil {
		return err
	}
	return h.apiGetProject(c)
}

func (h *Handler) apiDeleteProject(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteProject(c.Request().Context(), id); errors.Is(err, db.ErrNotEmpty) {
		return apiError(http.StatusConflict, "", "the project still has applications; delete them first")
	} else if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) apiListEnvironments(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	p, err := h.store.Project(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, p.Environments))
}

func (h *Handler) apiCreateEnvironment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.store.Project(ctx, id); err != nil {
		return err
	}
	name, err := bindName(c)
	if err != nil {
		return err
	}
	env, err := h.store.CreateEnvironment(ctx, id, name)
	if errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "name", "the project already has an environment named "+name)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, env)
}

// loadProjectEnvironment resolves :id/:env_id, refusing an environment of
// another project so paths cannot be mixed.
func (h *Handler) loadProjectEnvironment(c echo.Context) (*db.Environment, error) {
	projectID, err := idParam(c)
	if err != nil {
		return nil, err
	}
	envID, err := strconv.ParseInt(c.Param("env_id"), 10, 64)
	if err != nil || envID <= 0 {
		return nil, db.ErrNotFound
	}
	env, err := h.store.Environment(c.Request().Context(), envID)
	if err != nil {
		return nil, err
	}
	if env.ProjectID != projectID {
		return nil, db.ErrNotFound
	}
	return env, nil
}

func (h *Handler) apiRenameEnvironment(c echo.Context) error {
	env, err := h.loadProjectEnvironment(c)
	if err != nil {
		return err
	}
	name, err := bindName(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.store.RenameEnvironment(ctx, env.ID, name); errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "name", "the project already has an environment named "+name)
	} else if err != nil {
		return err
	}
	if env, err = h.store.Environment(ctx, env.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, env)
}

func (h *Handler) apiDeleteEnvironment(c echo.Context) error {
	env, err := h.loadProjectEnvironment(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteEnvironment(c.Request().Context(), env.ID); errors.Is(err, db.ErrNotEmpty) {
		return apiError(http.StatusConflict, "", "environment "+env.Name+" still has applications; delete them first")
	} else if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
