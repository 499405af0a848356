package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

// audit records every change made through the UI, the API and the deploy
// webhook: once the handler has answered, one event with the actor, the
// address, the route, the status and what the route's rule names (the
// resource and its project, found before the handler so a delete keeps
// it). GET requests are recorded only when a handler asks (a secret
// reveal), so page polls cost nothing. Never a body: the changes are what
// the operations noted (field names, old and new plain values, and only
// "changed" for secrets).
func (h *Handler) audit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, note := db.WithAuditNote(c.Request().Context())
		c.SetRequest(c.Request().WithContext(ctx))
		method := c.Request().Method
		write := method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions && !auditSkip[method+" "+c.Path()]
		need := h.rules[method+" "+c.Path()]
		var projectID *int64
		if write && need.res != "" {
			projectID = h.auditProject(c, need.res, need.param)
		}
		err := next(c)
		noted := note.Read()
		if !write && !noted.Record {
			return err
		}
		if err != nil {
			c.Error(err) // answer now, to record the status sent
		}
		e := h.auditEvent(c, noted.Action)
		if e.ActorType == db.ActorWebhook && !noted.Record {
			return nil // only deliveries that deploy: unknown tokens and ignored pushes are the deliveries list's
		}
		e.Detail = noted.Detail
		if e.Status < 400 {
			e.Changes = noted.Changes
		}
		switch {
		case noted.ResourceID > 0:
			e.Resource, e.ResourceID = string(noted.Resource), &noted.ResourceID
			e.ProjectID = h.auditProject(c, noted.Resource, "")
			if e.ProjectID == nil && noted.Resource != "" {
				if p, err := h.Store.ProjectOf(context.WithoutCancel(ctx), noted.Resource, noted.ResourceID); err == nil {
					e.ProjectID = &p
				}
			}
		case need.res != "":
			e.Resource, e.ProjectID = string(need.res), projectID
			if id, err := web.PathID(c, need.param); err == nil {
				e.ResourceID = &id
			}
		default:
			e.Resource, _, _ = strings.Cut(e.Action, ".")
			if id, err := web.PathID(c, "id"); err == nil {
				e.ResourceID = &id
			}
		}
		h.recordAudit(c, e)
		return nil
	}
}

// auditSkip lists writes that change nothing a person did: the metrics
// agent pushing its samples.
var auditSkip = map[string]bool{
	"POST /api/v1/agent/metrics": true,
}

// auditProject finds the project of the resource the route's param
// names, or nil.
func (h *Handler) auditProject(c echo.Context, res db.Resource, param string) *int64 {
	if param == "" {
		return nil
	}
	id, err := web.PathID(c, param)
	if err != nil {
		return nil
	}
	p, err := h.Store.ProjectOf(c.Request().Context(), res, id)
	if err != nil {
		return nil
	}
	return &p
}

// auditEvent is the event of the request as it stands: who (the user,
// with the API token they came with; nobody signed in is the webhook),
// from where, which route, the status and the request id.
func (h *Handler) auditEvent(c echo.Context, action string) *db.AuditEvent {
	r := c.Request()
	route := r.Method + " " + c.Path()
	if action == "" {
		action = auditAction(r.Method, c.Path())
	}
	e := &db.AuditEvent{ActorType: db.ActorWebhook, IP: h.clientIP(r), Action: action, Route: route,
		Status: c.Response().Status}
	e.RequestID, _ = c.Get(web.CtxRequestID).(string)
	if u := web.CurrentUser(c); u != nil {
		e.ActorType, e.ActorUserID, e.ActorEmail = db.ActorUser, &u.ID, u.Email
		if id, ok := c.Get(web.CtxTokenID).(int64); ok {
			e.ActorType, e.ActorTokenID = db.ActorToken, &id
			e.ActorTokenName, _ = c.Get(web.CtxTokenName).(string)
		}
	}
	return e
}

// recordAudit stores an event. A failure is logged, not answered: the
// change it describes is done.
func (h *Handler) recordAudit(c echo.Context, e *db.AuditEvent) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 5*time.Second)
	defer cancel()
	if err := h.Store.RecordAuditEvent(ctx, e); err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("audit event not recorded", "request_id", e.RequestID, "action", e.Action, "err", err)
	}
}

// auditSignIn records a sign-in or a refused one, by the email typed
// (never the password).
func (h *Handler) auditSignIn(c echo.Context, action, email string, u *db.User, status int, detail string) {
	e := &db.AuditEvent{ActorType: db.ActorUser, ActorEmail: email, IP: h.clientIP(c.Request()), Action: action,
		Resource: "user", Route: c.Request().Method + " " + c.Path(), Status: status, Detail: detail}
	e.RequestID, _ = c.Get(web.CtxRequestID).(string)
	if u != nil && u.ID > 0 {
		e.ActorUserID, e.ResourceID, e.ActorEmail = &u.ID, &u.ID, u.Email
	}
	h.recordAudit(c, e)
}

// auditNouns are the path words naming a kind of resource, in the
// audit's singular; both front-ends' words map to the same one.
var auditNouns = map[string]string{
	"apps": "app", "applications": "app", "projects": "project", "environments": "environment",
	"databases": "database", "compose": "compose", "deployments": "deployment", "domains": "domain",
	"backups": "backup", "backup-runs": "backup_run", "destinations": "destination",
	"notifications": "notification", "alerts": "alert_rule", "alert-rules": "alert_rule",
	"certificates": "certificate", "tokens": "token", "users": "user", "members": "member",
	"sessions": "session", "basic-auth": "basic_auth", "redirects": "redirect", "services": "service",
	"invitations": "invitation", "nodes": "node",
}

// auditVerbs are the path words that are an action, not a thing.
var auditVerbs = map[string]string{
	"deploy": "deploy", "stop": "stop", "start": "start", "restart": "restart", "reveal": "reveal",
	"rotate": "rotate", "cancel": "cancel", "rollback": "rollback", "run": "run", "test": "test",
	"toggle": "toggle", "restore": "restore", "drill": "drill", "link": "link", "revoke": "revoke",
	"prune": "prune", "sync": "sync", "confirm": "confirm", "disable": "disable", "delete": "delete",
	"rename": "update", "accept": "accept", "drain": "drain",
}

// auditWords makes the UI's and the API's words for one thing the same.
var auditWords = map[string]string{"webhooks": "webhook"}

// auditDeleteVerb is what deleting some things is called.
var auditDeleteVerb = map[string]string{"token": "revoke", "session": "revoke"}

// auditOverrides name the routes the rules below get wrong.
var auditOverrides = map[string]string{
	"POST /api/deploy/:token":                      "webhook.deploy",
	"POST /settings/concurrency":                   "settings.deploy.update",
	"POST /settings/control-plane-backup":          "control_plane.backup_settings.update",
	"PUT /api/v1/control-plane/backup-settings":    "control_plane.backup_settings.update",
	"POST /settings/control-plane-backup/run":      "control_plane.backup.run",
	"POST /api/v1/control-plane/backup":            "control_plane.backup.run",
	"POST /settings/notifications/cooldown":        "notification.settings.update",
	"PATCH /api/v1/notifications/settings":         "notification.settings.update",
	"POST /settings/two-factor":                    "settings.security.update",
	"PATCH /api/v1/settings/security":              "settings.security.update",
	"GET /services/:kind/:id/terminal/ws":          "terminal.open",
	"GET /api/v1/services/:kind/:id/terminal":      "terminal.open",
	"POST /api/v1/applications/:id/webhook/rotate": "app.webhook.rotate",
}

// auditAction names what a route does, the same for the UI's and the
// API's route of one operation: "POST /apps/:id/deploy" and "POST
// /api/v1/applications/:id/deploy" are both "app.deploy", "POST /apps/:id"
// and "PATCH /api/v1/applications/:id" both "app.update", "POST
// /projects/:id/apps" and "POST /api/v1/applications" both "app.create".
func auditAction(method, route string) string {
	if a, ok := auditOverrides[method+" "+route]; ok {
		return a
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(route, "/api/v1"), "/"), "/")
	noun, collection := "", false
	var rest []string
	for _, s := range segs {
		if strings.HasPrefix(s, ":") {
			collection = false
			continue
		}
		if n, ok := auditNouns[s]; ok {
			noun, rest, collection = n, nil, true
			continue
		}
		if w, ok := auditWords[s]; ok {
			s = w
		}
		rest = append(rest, strings.ReplaceAll(s, "-", "_"))
	}
	if noun == "" && len(rest) > 0 {
		noun, rest = rest[0], rest[1:]
	}
	parts := append([]string{noun}, rest...)
	if len(rest) > 0 {
		if v, ok := auditVerbs[rest[len(rest)-1]]; ok {
			if v == "delete" || v == "revoke" {
				if d, ok := auditDeleteVerb[noun]; ok && len(rest) == 1 {
					v = d
				}
			}
			parts[len(parts)-1] = v
			return strings.Join(parts, ".")
		}
	}
	verb := "update"
	switch {
	case method == http.MethodDelete:
		verb = "delete"
		if d, ok := auditDeleteVerb[noun]; ok && len(rest) == 0 {
			verb = d
		}
	case method == http.MethodPost && len(rest) == 0 && collection:
		verb = "create"
	case method == http.MethodGet:
		verb = "read"
	}
	return strings.Join(append(parts, verb), ".")
}
