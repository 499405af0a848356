package pages

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/views"
)

// auditPageSize is how many events the page shows at once.
const auditPageSize = 50

// auditPage is the Audit page: the events the user may see with the
// filters of the query, newest first.
type auditPage struct {
	Events    []db.AuditEvent
	Form      *views.Form
	Projects  []db.Project
	Resources []string
	Query     string // the filters, for links and the poll
	Newest    int64  // the newest id shown; the poll asks for what is newer
	Older     int64  // before= of the next page, 0 on the last
	Paged     bool   // an older page: no live updates
	Filtered  bool
}

// auditResources are the kinds the resource filter offers.
var auditResources = []string{"project", "environment", "service", "deployment", "domain", "backup", "backup-run",
	"user", "token", "account", "settings", "destination", "notification", "alert_rule", "certificate"}

// ShowAuditPage serves GET /audit. With HX-Request and after= it answers
// the live poll: the newer rows, inserted above the others, or 204.
func (h *Handler) ShowAuditPage(c echo.Context) error {
	ctx := c.Request().Context()
	f, ferr := web.AuditQuery(c)
	p := &auditPage{Form: views.NewForm(), Resources: auditResources, Query: web.AuditFilterQuery(c).Encode(), Paged: f.BeforeID > 0}
	for _, k := range web.AuditFilterKeys {
		p.Form.Values[k] = c.QueryParam(k)
		p.Filtered = p.Filtered || p.Form.Values[k] != ""
	}
	if ferr != nil {
		if e, ok := ferr.(*web.APIError); ok {
			p.Form.Errors[e.Field] = e.Message
		} else {
			return ferr
		}
	}
	if f.AfterID > 0 && web.IsHTMX(c) {
		if ferr != nil {
			return c.NoContent(http.StatusNoContent)
		}
		f.Limit = auditPageSize
		evs, err := h.Store.AuditEvents(ctx, f)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return c.NoContent(http.StatusNoContent)
		}
		p.Events, p.Newest = evs, evs[0].ID
		return h.Partial(c, http.StatusOK, "audit_new", p)
	}
	var err error
	if p.Projects, err = h.Store.ProjectNames(ctx, web.VisibleProjects(c)); err != nil {
		return err
	}
	if ferr == nil {
		f.Limit = auditPageSize
		if p.Events, err = h.Store.AuditEvents(ctx, f); err != nil {
			return err
		}
	}
	if len(p.Events) > 0 {
		p.Newest = p.Events[0].ID
		if len(p.Events) == auditPageSize {
			p.Older = p.Events[len(p.Events)-1].ID
		}
	} else if !p.Paged {
		p.Newest = f.AfterID
	}
	return h.Page(c, http.StatusOK, "audit", &views.Page{Title: "Audit log", Active: "audit", Data: p})
}

// ExportAudit serves GET /audit/export.jsonl: every event the filters
// select, as JSON lines.
func (h *Handler) ExportAudit(c echo.Context) error {
	f, err := web.AuditQuery(c)
	if err != nil {
		return err
	}
	f.BeforeID, f.AfterID = 0, 0
	return h.StreamAudit(c, f, "audit-"+time.Now().UTC().Format("20060102-150405")+".jsonl")
}
