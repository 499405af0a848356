package handlers

import "github.com/labstack/echo/v4"

// nodeRoutes are the Nodes page and API: the swarm's nodes, their labels
// and availability, removal, and the join commands. All of them are for
// admins only (the join tokens let anyone holding them add a node).
func (h *Handler) nodeRoutes(ui, api *echo.Group) {
	ui.GET("/nodes", h.pages.ShowNodesPage)
	ui.GET("/nodes/list", h.pages.ShowNodesList)
	ui.POST("/nodes/join", h.pages.ShowNodeJoin)
	ui.POST("/nodes/:id/availability", h.pages.SetNodeAvailability)
	ui.POST("/nodes/:id/labels", h.pages.AddNodeLabel)
	ui.POST("/nodes/:id/labels/remove", h.pages.RemoveNodeLabel)
	ui.POST("/nodes/:id/remove", h.pages.RemoveNode)

	api.GET("/nodes", h.api.ListNodes)
	api.GET("/nodes/join", h.api.NodeJoin)
	api.GET("/nodes/:id", h.api.GetNode)
	api.PATCH("/nodes/:id", h.api.UpdateNode)
	api.DELETE("/nodes/:id", h.api.DeleteNode)
}
