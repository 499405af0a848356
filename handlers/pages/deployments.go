package pages

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
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
	if _, err := s.w.Write(sseFrame(id, event, data)); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// sseFrame renders one event the way send writes it.
func sseFrame(id, event, data string) []byte {
	parts := sseLineBreak.Split(data, -1)
	n := len(id) + len(event) + len(data) + 16 + 7*len(parts)
	b := make([]byte, 0, n)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, '\n')
	for _, line := range parts {
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

// sseLineBreak matches what ends a line in an event stream.
var sseLineBreak = regexp.MustCompile(`\r\n|\r|\n`)

func logLineHTML(line string) string {
	return `<div class="line">` + html.EscapeString(line) + `</div>`
}

// StreamDeploymentLogs sends stored lines in order, then new ones as the
// worker stores them, then eof with the status once the deployment
// finished. Each event's id is the line's sequence number, so a
// reconnecting browser resumes after Last-Event-ID (or ?after=) without
// gaps or repeats. The lines come from the deployment's shared hub (see
// logfollow.go), not from a query per browser.
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
	hub := h.logs.join(id)
	defer h.logs.leave(hub)
	err = hub.waitReady(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return err
	}
	sse, serr := startSSE(c)
	if serr != nil || err != nil {
		return serr // the database is down or the client gone; the browser reconnects
	}
	f := &logFollower{sse: sse, rc: http.NewResponseController(c.Response()), after: after, wrote: time.Now()}
	f.follow(ctx, hub, h.logs.src)
	return nil
}

// LogPollers is the number of deployment logs polled for followers now.
func (h *Handler) LogPollers() int { return int(h.logs.pollers.Load()) }

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
