package pages

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"dokploy/handlers/web"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

// deploymentPage is the log page of one entry of a service's operations
// history: an app's deployment, or a database's deploy, start, stop,
// restart or password change.
type deploymentPage struct {
	Deployment *db.Deployment
	App        *db.App          // set for an app's deployment
	Database   *db.Database     // set for a database's operation
	Compose    *db.ComposeStack // set for a compose stack's operation
	Heading    string           // "Deployment #12", "Stop #13"
	BackURL    string           // the service's page
	BackName   string
	CSRF       string
}

func (h *Handler) loadDeployment(c echo.Context) (*deploymentPage, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	d, err := h.Store.Deployment(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &deploymentPage{Deployment: d, CSRF: web.CSRF(c), Heading: fmt.Sprintf("Deployment #%d", d.ID)}
	if d.ServiceKind == db.KindDatabase {
		if p.Database, err = h.Store.Database(ctx, d.ServiceID); err != nil {
			return nil, err
		}
		p.Heading = fmt.Sprintf("%s #%d", operationLabel(d.Action), d.ID)
		p.BackURL, p.BackName = fmt.Sprintf("/databases/%d", p.Database.ID), p.Database.Name
		return p, nil
	}
	if d.ServiceKind == db.KindCompose {
		if p.Compose, err = h.Store.Compose(ctx, d.ServiceID); err != nil {
			return nil, err
		}
		p.Heading = fmt.Sprintf("%s #%d", operationLabel(d.Action), d.ID)
		if d.RollbackOf != nil {
			p.Heading = fmt.Sprintf("Rollback #%d", d.ID)
		}
		p.BackURL, p.BackName = fmt.Sprintf("/compose/%d", p.Compose.ID), p.Compose.DisplayName
		return p, nil
	}
	if p.App, err = h.Store.App(ctx, d.ServiceID); err != nil {
		return nil, err
	}
	p.BackURL, p.BackName = fmt.Sprintf("/apps/%d", p.App.ID), p.App.Name
	return p, nil
}

// operationLabel names an operation for people.
func operationLabel(action string) string {
	switch action {
	case db.ActionStart:
		return "Start"
	case db.ActionStop:
		return "Stop"
	case db.ActionRestart:
		return "Restart"
	case db.ActionPassword:
		return "Password change"
	}
	return "Deploy"
}

func (h *Handler) ShowDeploymentPage(c echo.Context) error {
	p, err := h.loadDeployment(c)
	if err != nil {
		return err
	}
	title := p.Heading + " · " + p.BackName
	return h.Page(c, http.StatusOK, "deployment", &views.Page{Title: title, Active: "projects", Data: p})
}

func (h *Handler) ShowDeploymentStatusPartial(c echo.Context) error {
	p, err := h.loadDeployment(c)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "deployment_status", p)
}

func (h *Handler) CancelDeployment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if _, err := h.Ops.CancelDeployment(c.Request().Context(), id); err != nil {
		return err
	}
	return h.ShowDeploymentStatusPartial(c)
}

// sseWriter writes Server-Sent Events.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(c echo.Context) (*sseWriter, error) {
	w := c.Response()
	f, ok := w.Writer.(http.Flusher)
	if !ok {
		return nil, echo.NewHTTPError(http.StatusInternalServerError, "streaming unsupported")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sseWriter{w: w, f: f}, nil
}

// send writes one event. id and event are ours; data may carry anything a
// log line holds, so every line break in it (CR, LF or CRLF, each of which
// ends an SSE line) starts another data: line of the same event: no output
// of an app can end the event or forge another.
func (s *sseWriter) send(id, event, data string) error {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + event + "\n")
	for _, line := range sseLineBreak.Split(data, -1) {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// sseLineBreak matches what ends a line in an event stream.
var sseLineBreak = regexp.MustCompile(`\r\n|\r|\n`)

func logLineHTML(line string) string {
	return `<div class="line">` + html.EscapeString(line) + `</div>`
}

// StreamDeploymentLogs sends stored lines in order, then new ones as the
// worker stores them. Each event's id is the line's sequence number, so a
// reconnecting browser resumes after Last-Event-ID without gaps or repeats.
func (h *Handler) StreamDeploymentLogs(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	after := 0
	if v := c.Request().Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.Atoi(v)
	} else if v := c.QueryParam("after"); v != "" {
		after, _ = strconv.Atoi(v)
	}
	sse, err := startSSE(c)
	if err != nil {
		return err
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	keepalive := time.Now()
	for {
		lines, err := h.Store.Logs(ctx, id, after, 500)
		if err != nil {
			return nil // client gone or database down; the browser reconnects
		}
		for _, l := range lines {
			if err := sse.send(strconv.Itoa(l.Seq), "line", logLineHTML(l.Line)); err != nil {
				return nil
			}
			after = l.Seq
		}
		if len(lines) == 500 {
			continue
		}
		d, err := h.Store.Deployment(ctx, id)
		if err != nil {
			return nil
		}
		if d.Finished() {
			// Re-read once: lines stored between the two queries must not be lost.
			if more, _ := h.Store.Logs(ctx, id, after, 1); len(more) == 0 {
				_ = sse.send("", "eof", d.Status)
				return nil
			}
			continue
		}
		if time.Since(keepalive) > 15*time.Second {
			if _, err := fmt.Fprint(sse.w, ": keepalive\n\n"); err != nil {
				return nil
			}
			sse.f.Flush()
			keepalive = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// StreamRuntimeLogs follows the app's container output.
func (h *Handler) StreamRuntimeLogs(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.streamServiceLogs(c, a.AppName)
}

// streamServiceLogs follows the output of the Swarm service name, any kind:
// "line" events, then "eof" when Docker ends the stream. The query takes
// the API's filters (tail, since, q, regex, timestamps, replica); the
// lines come from the same code as GET /api/v1/services/{kind}/{id}/logs.
func (h *Handler) streamServiceLogs(c echo.Context, name string) error {
	ctx := c.Request().Context()
	f, ferr := ops.ParseLogFilter(c.QueryParam, time.Now())
	sse, err := startSSE(c)
	if err != nil {
		return err
	}
	if ferr != nil {
		_ = sse.send("", "line", logLineHTML("No runtime logs: "+ferr.Error()))
		_ = sse.send("", "eof", "")
		return nil
	}
	err = h.Ops.RuntimeLogs(ctx, name, f, true, func(l docker.LogLine) error {
		return sse.send("", "line", logLineHTML(f.Format(l)))
	})
	if err != nil && ctx.Err() == nil {
		_ = sse.send("", "line", logLineHTML("No runtime logs: "+err.Error()))
	}
	_ = sse.send("", "eof", "")
	return nil
}

func (h *Handler) RollbackDeployment(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	d, err := h.Ops.Rollback(c.Request().Context(), id, web.CurrentUser(c).Email)
	if err != nil {
		return err
	}
	return web.Redirect(c, fmt.Sprintf("/deployments/%d", d.ID))
}
