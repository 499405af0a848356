package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
)

// ListUsers lists every user with their role, status and grant count.
func (h *Handler) ListUsers(c echo.Context) error {
	users, err := h.Store.TeamUsers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, users))
}

// GetUser shows one user with the projects granted to them.
func (h *Handler) GetUser(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := h.Store.TeamUser(ctx, id)
	if err != nil {
		return err
	}
	grants, err := h.Store.UserGrants(ctx, id)
	if err != nil {
		return err
	}
	type grant struct {
		ProjectID   int64  `json:"project_id"`
		ProjectName string `json:"project_name"`
		Level       string `json:"level"`
	}
	out := make([]grant, 0, len(grants))
	for _, g := range grants {
		out = append(out, grant{g.ProjectID, g.Email, g.Level})
	}
	return c.JSON(http.StatusOK, map[string]any{"user": u, "projects": out})
}

// UpdateUser changes a user's role or disables/enables them.
func (h *Handler) UpdateUser(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Role     *string `json:"role"`
		Disabled *bool   `json:"disabled"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Role == nil && in.Disabled == nil {
		return web.Error(http.StatusUnprocessableEntity, "", "nothing to change: send role and/or disabled")
	}
	ctx, actor := c.Request().Context(), web.Access(c)
	if in.Role != nil {
		if err := h.Ops.SetUserRole(ctx, actor, id, *in.Role); err != nil {
			return err
		}
	}
	if in.Disabled != nil {
		if err := h.Ops.SetUserDisabled(ctx, actor, id, *in.Disabled); err != nil {
			return err
		}
	}
	u, err := h.Store.TeamUser(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

// DeleteUser removes a user; their sessions and tokens stop at once.
func (h *Handler) DeleteUser(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.RemoveUser(c.Request().Context(), web.Access(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ListProjectMembers lists who, beyond owners and admins, works on a
// project and at which level.
func (h *Handler) ListProjectMembers(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	members, err := h.Store.ProjectMembers(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, members))
}

// PutProjectMember grants a member or viewer a level on the project.
func (h *Handler) PutProjectMember(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	userID, err := web.PathID(c, "user_id")
	if err != nil {
		return err
	}
	var in struct {
		Level string `json:"level"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.Store.Project(ctx, id); err != nil {
		return err
	}
	if err := h.Ops.SetProjectMember(ctx, web.Access(c), id, userID, in.Level); err != nil {
		return err
	}
	members, err := h.Store.ProjectMembers(ctx, id)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.UserID == userID {
			return c.JSON(http.StatusOK, m)
		}
	}
	return c.NoContent(http.StatusNoContent)
}

// DeleteProjectMember takes a user's grant on the project away.
func (h *Handler) DeleteProjectMember(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	userID, err := web.PathID(c, "user_id")
	if err != nil {
		return err
	}
	if err := h.Ops.RemoveProjectMember(c.Request().Context(), web.Access(c), id, userID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
