package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"
)

// terminalPing keeps proxies from taking an open terminal for idle.
const terminalPing = 30 * time.Second

// terminalMessage is a text frame of the terminal protocol: the browser
// sends resize; the server sends ready and error.
type terminalMessage struct {
	Type      string `json:"type"`
	Cols      uint   `json:"cols,omitempty"`
	Rows      uint   `json:"rows,omitempty"`
	Message   string `json:"message,omitempty"`
	Shell     string `json:"shell,omitempty"`
	Replica   int    `json:"replica,omitempty"`
	Container string `json:"container_id,omitempty"`
	Node      string `json:"node,omitempty"`
	SessionID int64  `json:"session_id,omitempty"`
}

// terminalSet holds the open terminals, so that shutting the server down
// ends their shells (the engine would leave them running).
type terminalSet struct {
	mu   sync.Mutex
	stop map[int64]func()
	wg   sync.WaitGroup
}

func (s *terminalSet) add(id int64, stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop == nil {
		s.stop = map[int64]func(){}
	}
	s.stop[id] = stop
	s.wg.Add(1)
}

func (s *terminalSet) done(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.stop, id)
	s.wg.Done()
}

// CloseTerminals ends every open terminal session (its shell and its
// record) and waits for them, at most until ctx ends. The server's
// Shutdown does not wait for WebSockets: call it after.
func (h *Handler) CloseTerminals(ctx context.Context) {
	h.terminals.mu.Lock()
	for _, stop := range h.terminals.stop {
		stop()
	}
	h.terminals.mu.Unlock()
	done := make(chan struct{})
	go func() { h.terminals.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// terminalUI serves GET /services/:kind/:id/terminal/ws for the pages.
func (h *Handler) terminalUI(c echo.Context) error { return h.serveTerminal(c) }

// terminalAPI serves GET /api/v1/services/{kind}/{id}/terminal.
func (h *Handler) terminalAPI(c echo.Context) error { return h.serveTerminal(c) }

// serveTerminal is the one implementation of both terminal endpoints: it
// upgrades to a WebSocket and connects it to a shell in the service's
// container. Binary frames carry the terminal's bytes both ways; a text
// frame {"type":"resize","cols":N,"rows":M} resizes it. The session is
// recorded, and the shell ends when the socket closes or idles.
func (h *Handler) serveTerminal(c echo.Context) error {
	r := c.Request()
	viaToken, _ := c.Get(web.CtxViaToken).(bool)
	// Browsers send cookies with cross-site WebSocket handshakes: a
	// session needs the page's own origin. A token is no ambient credential.
	if !viaToken && !sameOrigin(r) {
		return web.Error(http.StatusForbidden, "", "the terminal opens only from this dashboard's own pages (Origin does not match)")
	}
	target, err := ops.ParseTerminalTarget(c.Param("kind"), c.Param("id"), c.QueryParam)
	if err != nil {
		return err
	}
	if _, _, err := h.Ops.TerminalService(r.Context(), target); err != nil {
		return err
	}
	cols, rows := sizeParam(c.QueryParam("cols"), 80), sizeParam(c.QueryParam("rows"), 24)
	who := ops.TerminalUser{User: web.CurrentUser(c), RemoteAddr: h.clientIP(r)}
	if viaToken {
		if id, ok := c.Get(web.CtxTokenID).(int64); ok {
			who.TokenID = &id
		}
		who.TokenName, _ = c.Get(web.CtxTokenName).(string)
	}

	// The server's read and write deadlines must not cut a long session.
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(c.Response(), r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
	if err != nil {
		return nil // Accept has answered
	}
	defer func() { _ = conn.CloseNow() }()
	conn.SetReadLimit(ops.TerminalMaxMessage)
	c.Response().Committed = true

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	openCtx, openCancel := context.WithTimeout(ctx, 30*time.Second)
	ts, err := h.Ops.OpenTerminal(openCtx, target, who, cols, rows)
	openCancel()
	if err != nil {
		msg := terminalError(err)
		_ = conn.Write(ctx, websocket.MessageBinary, []byte("\r\n\x1b[31m"+msg+"\x1b[0m\r\n"))
		_ = writeJSON(ctx, conn, terminalMessage{Type: "error", Message: msg})
		_ = conn.Close(websocket.StatusNormalClosure, "no terminal")
		return nil
	}
	h.auditTerminal(ctx, c, target, ts.Record.Replica, ts.Record.ID)
	_ = writeJSON(ctx, conn, terminalMessage{Type: "ready", Shell: ts.Shell, Replica: ts.Record.Replica,
		Container: ts.Record.ContainerID, Node: ts.Record.Node, SessionID: ts.Record.ID})

	reason := make(chan string, 4)
	var once sync.Once
	h.terminals.add(ts.Record.ID, func() { once.Do(func() { reason <- "the server is shutting down" }) })
	defer h.terminals.done(ts.Record.ID)
	go func() { reason <- pumpOutput(ctx, conn, ts) }()
	go func() { reason <- pumpInput(ctx, conn, ts) }()
	go func() {
		t := time.NewTicker(terminalPing)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				err := conn.Ping(pctx)
				pcancel()
				if err != nil && ctx.Err() == nil {
					reason <- "the connection stopped answering"
					return
				}
			}
		}
	}()
	why := <-reason
	cancel()
	if err := ts.Close(why); err != nil {
		slog.Error("terminal session did not end cleanly", "session", ts.Record.ID, "err", err)
	}
	_ = conn.Close(websocket.StatusNormalClosure, why)
	return nil
}

// pumpOutput sends what the shell prints; it returns when the shell
// exits or the socket fails.
func pumpOutput(ctx context.Context, conn *websocket.Conn, ts *ops.TerminalSession) string {
	buf := make([]byte, 32<<10)
	for {
		n, err := ts.Read(buf)
		if n > 0 {
			if werr := conn.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
				return "closed by the client"
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "the shell exited"
			}
			return "the shell's stream ended: " + err.Error()
		}
	}
}

// pumpInput types the binary frames and applies resizes; it returns when
// the socket closes or has been idle for ops.TerminalIdleTimeout.
func pumpInput(ctx context.Context, conn *websocket.Conn, ts *ops.TerminalSession) string {
	idle := time.NewTimer(ops.TerminalIdleTimeout)
	defer idle.Stop()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	idled := make(chan struct{})
	go func() {
		select {
		case <-idle.C:
			close(idled)
			rcancel()
		case <-rctx.Done():
		}
	}()
	for {
		typ, data, err := conn.Read(rctx)
		if err != nil {
			select {
			case <-idled:
				return fmt.Sprintf("idle for %s", ops.TerminalIdleTimeout)
			default:
			}
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				return "a message over the size limit"
			}
			return "closed by the client"
		}
		idle.Reset(ops.TerminalIdleTimeout)
		if typ == websocket.MessageBinary {
			if _, err := ts.Write(data); err != nil {
				return "the shell's input closed"
			}
			continue
		}
		var m terminalMessage
		if json.Unmarshal(data, &m) == nil && m.Type == "resize" && m.Cols > 0 && m.Rows > 0 && m.Cols <= 1000 && m.Rows <= 1000 {
			rsCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = ts.Resize(rsCtx, m.Cols, m.Rows)
			cancel()
		}
	}
}

func writeJSON(ctx context.Context, conn *websocket.Conn, m terminalMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

// terminalError says in the terminal why it did not open.
func terminalError(err error) string {
	switch {
	case errors.Is(err, docker.ErrNoShell):
		return "This image has no shell (bash or sh), so a terminal cannot open in it. Add one to the image (a busybox or Debian base has sh) to use the terminal."
	case errors.Is(err, docker.ErrReplicaElsewhere): // "replica 2 runs on node X; …"
		msg := strings.TrimSuffix(err.Error(), ": "+docker.ErrReplicaElsewhere.Error())
		return strings.ToUpper(msg[:1]) + msg[1:] + "."
	case errors.Is(err, docker.ErrNoRunningTask):
		return "No terminal: " + strings.TrimSuffix(err.Error(), ": "+docker.ErrNoRunningTask.Error()) + "."
	}
	slog.Error("terminal did not open", "err", err)
	return "The terminal could not open: " + err.Error()
}

// sameOrigin reports whether the request's Origin names the host it was
// sent to (an absent Origin is refused: browsers always send one).
func sameOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// sizeParam reads a terminal dimension, def when absent or out of range.
func sizeParam(v string, def uint) uint {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > 1000 {
		return def
	}
	return uint(n)
}

// auditTerminal records a terminal session as it opens (its handler runs
// as long as the session does).
func (h *Handler) auditTerminal(ctx context.Context, c echo.Context, target ops.TerminalTarget, replica int, sessionID int64) {
	e := h.auditEvent(c, "terminal.open")
	e.Status, e.Resource, e.ResourceID = http.StatusSwitchingProtocols, string(db.ResService), &target.ID
	e.Detail = fmt.Sprintf("%s, replica %d, session %d", target.Kind, replica, sessionID)
	if p, err := h.Store.ProjectOf(ctx, db.ResService, target.ID); err == nil {
		e.ProjectID = &p
	}
	h.recordAudit(c, e)
}
