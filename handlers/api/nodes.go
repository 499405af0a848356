package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/jobs/ops"
)

// ListNodes lists the swarm's nodes with the platform's tasks on each.
func (h *Handler) ListNodes(c echo.Context) error {
	nodes, err := h.Ops.Nodes(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageOf(c, nodes))
}

// GetNode shows one node, by id or hostname.
func (h *Handler) GetNode(c echo.Context) error {
	n, err := h.Ops.Node(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// UpdateNode changes a node's availability and labels in one update.
func (h *Handler) UpdateNode(c echo.Context) error {
	var in struct {
		Availability string            `json:"availability"`
		Labels       map[string]string `json:"labels"`
		RemoveLabels []string          `json:"remove_labels"`
		Version      uint64            `json:"version"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	n, err := h.Ops.UpdateNode(c.Request().Context(), c.Param("id"), ops.NodeUpdate{
		Availability: in.Availability, SetLabels: in.Labels, RemoveLabels: in.RemoveLabels, Version: in.Version})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// DeleteNode removes a node from the swarm (see ops.RemoveNode for what
// is refused).
func (h *Handler) DeleteNode(c echo.Context) error {
	if _, err := h.Ops.RemoveNode(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// NodeJoin answers the join commands. They carry the swarm's join tokens,
// so the answer is never cached and never logged.
func (h *Handler) NodeJoin(c echo.Context) error {
	j, err := h.Ops.JoinInfo(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{
		"address":         j.Addr,
		"address_problem": ops.JoinAddrProblem(j.Addr),
		"worker_command":  strings.Join(j.Command(false), " "),
		"manager_command": strings.Join(j.Command(true), " "),
		"worker_token":    j.WorkerToken,
		"manager_token":   j.ManagerToken,
	})
}
