package pages

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// terminalPage is the web terminal of one service: the replica picker,
// the terminal's socket address and the last sessions.
type terminalPage struct {
	Target   ops.TerminalTarget
	Label    string
	BackURL  string
	Replicas []docker.Replica
	Error    string // why the replicas could not be listed
	Sessions []db.TerminalSession
	Socket   string // the WebSocket path, without its query
}

// Selected tells the picker's replica: the one asked for, else the first
// on this node (the one the terminal opens without a replica).
func (p *terminalPage) Selected(slot int) bool {
	if p.Target.Replica != 0 {
		return slot == p.Target.Replica
	}
	for _, r := range p.Replicas {
		if r.Local {
			return r.Slot == slot
		}
	}
	return false
}

// ShowTerminalPage serves GET /services/:kind/:id/terminal.
func (h *Handler) ShowTerminalPage(c echo.Context) error {
	ctx := c.Request().Context()
	t, err := ops.ParseTerminalTarget(c.Param("kind"), c.Param("id"), c.QueryParam)
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "Not found.")
		}
		return err
	}
	_, label, err := h.Ops.TerminalService(ctx, t)
	if err != nil {
		return err
	}
	id := strconv.FormatInt(t.ID, 10)
	p := &terminalPage{Target: t, Label: label, BackURL: backURL(t.Kind, id),
		Socket: "/services/" + t.Kind + "/" + id + "/terminal/ws"}
	p.Replicas, p.Error = h.terminalReplicas(ctx, t)
	if p.Sessions, err = h.Ops.TerminalSessions(ctx, t.Kind, t.ID, ops.TerminalRecentListing); err != nil {
		return err
	}
	return h.Page(c, http.StatusOK, "terminal", &views.Page{Title: "Terminal · " + label, Active: "projects", Data: p})
}

func (h *Handler) terminalReplicas(ctx context.Context, t ops.TerminalTarget) ([]docker.Replica, string) {
	reps, err := h.Ops.TerminalReplicas(ctx, t)
	if err != nil {
		return nil, "Docker did not answer: " + err.Error()
	}
	return reps, ""
}

func backURL(kind, id string) string {
	switch kind {
	case db.KindDatabase:
		return "/databases/" + id
	case db.KindCompose:
		return "/compose/" + id
	}
	return "/apps/" + id
}
