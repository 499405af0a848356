package pages

import (
	"fmt"
	"hash/fnv"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/views"
)

// serviceFrame is what every kind of service's page shares: the header
// (name, kind, live state, main actions) and the tab bar, rendered by the
// "service_header" and "service_tabs" templates (partials/service.html).
// A kind fills it from its own row; the templates know no kind.
type serviceFrame struct {
	Base      string // the page's path (/databases/7); tabs and the header poll hang off it
	Name      string
	Kind      string // "PostgreSQL", "Application", …
	BackURL   string
	BackLabel string
	Subtitle  string
	State     stateBadge
	Message   string         // why the state is what it is (Swarm's message, the last failure)
	Busy      *db.Deployment // the operation queued or running, if any
	Actions   []serviceAction
	Tabs      []serviceTab
	Tab       string // the active tab's ID
	OOB       bool   // render the header as an out-of-band swap
	// Acted marks the answer to an action taken on Swarm at once (stop,
	// start, restart): Swarm may not have begun, so the header looks again
	// in 2 s instead of trusting the state it read.
	Acted bool
}

// Polling reports whether the header must refresh itself: an operation is
// pending, the state is still on its way, or an action was just taken.
func (f *serviceFrame) Polling() bool {
	return f.Acted || f.Busy != nil || f.State.Class == "state-busy"
}

// Version identifies what the header shows. The header polls with it
// (?seen=), and an unchanged header answers 204, which htmx swaps nothing
// for: the buttons stay the same elements, so a click is never lost to a
// swap, and an idle page costs the browser nothing.
func (f *serviceFrame) Version() string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%v|%v|%v", f.Name, f.Subtitle, f.Message, f.State, f.Polling(), f.Actions)
	if f.Busy != nil {
		fmt.Fprintf(h, "|%d|%s|%s", f.Busy.ID, f.Busy.Status, f.Busy.Action)
	}
	return fmt.Sprintf("%x", h.Sum64())
}

// answerHeaderPoll answers the header's poll: 204 when the browser already
// shows this version, else the header.
func (h *Handler) answerHeaderPoll(c echo.Context, f *serviceFrame) error {
	if c.QueryParam("seen") == f.Version() {
		return c.NoContent(http.StatusNoContent)
	}
	return h.Partial(c, http.StatusOK, "service_header", f)
}

// stateBadge is a state as shown: its words and its colour class.
type stateBadge struct{ Label, Class string }

// serviceAction is one header button: an HTMX post answered by the header
// partial, or the opening of a <dialog> of the page.
// permittedActions keeps the header's buttons the viewer may use: deploy,
// start, stop and restart need deploy access; the terminal and delete
// need manage. The routes refuse the rest anyway; this keeps the page
// from offering them.
func permittedActions(c echo.Context, projectID int64, actions []serviceAction) []serviceAction {
	level := web.Access(c).Level(projectID)
	out := actions[:0:0]
	for _, a := range actions {
		need := db.LevelDeploy
		if a.Dialog != "" || a.Href != "" {
			need = db.LevelManage
		}
		if level >= need {
			out = append(out, a)
		}
	}
	return out
}

type serviceAction struct {
	Label    string
	Path     string // POST target
	Dialog   string // id of a <dialog> to open instead
	Href     string // a link to another page instead
	Confirm  string
	Class    string // "", "secondary" or "danger"
	Disabled bool
	Title    string // tooltip, says why a button is disabled
}

// serviceTab is one tab; its URL is Base, or Base/ID for the others.
type serviceTab struct{ ID, Label string }

// liveState maps a service's status (web.ServiceStatus: Swarm's state or
// the last outcome) to its badge: green when serving, amber while
// changing, grey when off and red when broken.
func liveState(state string) stateBadge {
	switch state {
	case "healthy", "running":
		return stateBadge{state, "state-ok"}
	case "starting", "stopping", "updating", "deploying", "queued":
		return stateBadge{state, "state-busy"}
	case "stopped", "not deployed":
		return stateBadge{state, "state-off"}
	}
	return stateBadge{state, "state-bad"}
}

// busyState is the badge of a pending operation: "stopping…" until the
// state it asked for is real.
func busyState(d *db.Deployment) stateBadge {
	label := map[string]string{
		db.ActionDeploy: "deploying…", db.ActionStart: "starting…", db.ActionStop: "stopping…",
		db.ActionRestart: "restarting…", db.ActionPassword: "changing password…",
		db.ActionBackup: "backing up…", db.ActionRestore: "restoring…", db.ActionDrill: "restore drill…",
	}[d.Action]
	if label == "" {
		label = "working…"
	}
	if d.Status == db.DeployQueued {
		label += " (queued)"
	}
	return stateBadge{label, "state-busy"}
}

// pendingOperation is the operation the header shows progress for: the
// running one, else the oldest queued (history is newest first).
func pendingOperation(history []db.Deployment) *db.Deployment {
	var queued *db.Deployment
	for i := range history {
		switch history[i].Status {
		case db.DeployRunning:
			return &history[i]
		case db.DeployQueued:
			queued = &history[i]
		}
	}
	return queued
}

// renderService answers a tab: the whole page on a direct load (and on
// htmx's history restore), only the tab bar and body when htmx asks.
func (h *Handler) renderService(c echo.Context, status int, page, body string, title string, data any) error {
	if web.IsHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		return h.Partial(c, status, body, data)
	}
	return h.Page(c, status, page, &views.Page{Title: title, Active: "projects", Data: data})
}
