package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// AuditFilterKeys are the query parameters of the audit page, its export
// and the API, in the order links carry them.
var AuditFilterKeys = []string{"user", "project", "resource", "action", "since", "until"}

// AuditQuery reads the audit filters of the request's query: user (an id
// or an email), project (an id), resource, action (and the actions under
// it), since and until (a date, 2026-12-04, a local time, 2026-12-04T18:30,
// or RFC 3339), before and after (event ids) and limit. The filter keeps
// the request to what it may see: a member, their projects' events and
// their own.
func AuditQuery(c echo.Context) (db.AuditFilter, error) {
	q := c.QueryParams()
	f := db.AuditFilter{Resource: strings.TrimSpace(q.Get("resource")), Action: strings.TrimSpace(q.Get("action"))}
	if ids := VisibleProjects(c); ids != nil {
		f.Visible = ids
		if a := Access(c); a != nil {
			f.ViewerID = a.UserID
		}
	}
	if u := strings.TrimSpace(q.Get("user")); u != "" {
		if id, err := strconv.ParseInt(u, 10, 64); err == nil {
			f.ActorUserID = id
		} else {
			f.ActorEmail = u
		}
	}
	ints := map[string]*int64{"project": &f.ProjectID, "before": &f.BeforeID, "after": &f.AfterID}
	for k, dst := range ints {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, Error(http.StatusUnprocessableEntity, k, k+" must be a number")
			}
			*dst = n
		}
	}
	for k, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			t, err := parseAuditTime(v)
			if err != nil {
				return f, Error(http.StatusUnprocessableEntity, k, k+" must be a date (2026-12-04), a time (2026-12-04T18:30) or RFC 3339")
			}
			*dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return f, Error(http.StatusUnprocessableEntity, "limit", "limit must be 1 to 100")
		}
		f.Limit = n
	}
	return f, nil
}

// parseAuditTime reads a filter's time; dates and local times are UTC.
func parseAuditTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, strconv.ErrSyntax
}

// AuditFilterQuery is the request's filters as a query string, for
// links and polls that keep them.
func AuditFilterQuery(c echo.Context) url.Values {
	v := url.Values{}
	for _, k := range AuditFilterKeys {
		if s := strings.TrimSpace(c.QueryParam(k)); s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// StreamAudit writes every event f selects as JSON lines, newest first,
// reading a batch at a time so a long history is never held in memory.
func (d *Deps) StreamAudit(c echo.Context, f db.AuditFilter, filename string) error {
	f.Limit, f.BeforeID = 500, max(f.BeforeID, 0)
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	if filename != "" {
		w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	}
	rc := http.NewResponseController(w.Writer)
	_ = rc.SetWriteDeadline(time.Time{})
	started := false
	enc := json.NewEncoder(w)
	for {
		evs, err := d.Store.AuditEvents(c.Request().Context(), f)
		if err != nil {
			if !started {
				return err
			}
			return nil // the body is half sent: the missing lines say it
		}
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
		}
		for i := range evs {
			if err := enc.Encode(&evs[i]); err != nil {
				return nil
			}
		}
		w.Flush()
		if len(evs) < f.Limit {
			return nil
		}
		f.BeforeID = evs[len(evs)-1].ID
	}
}
