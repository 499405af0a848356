package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

// auditPage is a page of the audit log: next_before pages back (null on
// the last page).
type auditPage struct {
	Items      []db.AuditEvent `json:"items"`
	Limit      int             `json:"limit"`
	NextBefore *int64          `json:"next_before"`
}

// ListAudit serves GET /api/v1/audit: the events the caller may see,
// newest first, with the page's filters.
func (h *Handler) ListAudit(c echo.Context) error {
	f, err := web.AuditQuery(c)
	if err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	evs, err := h.Store.AuditEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	p := auditPage{Items: evs, Limit: f.Limit}
	if len(evs) == f.Limit {
		p.NextBefore = &evs[len(evs)-1].ID
	}
	return c.JSON(http.StatusOK, p)
}

// ExportAudit serves GET /api/v1/audit/export: every event the filters
// select, as JSON lines.
func (h *Handler) ExportAudit(c echo.Context) error {
	f, err := web.AuditQuery(c)
	if err != nil {
		return err
	}
	return h.StreamAudit(c, f, "")
}
