package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// termSession is a row of GET /api/v1/terminal-sessions.
type termSession struct {
	ID          int64      `json:"id"`
	UserID      *int64     `json:"user_id"`
	UserEmail   string     `json:"user_email"`
	TokenID     *int64     `json:"token_id"`
	TokenName   string     `json:"token_name"`
	ServiceKind string     `json:"service_kind"`
	ServiceID   int64      `json:"service_id"`
	ContainerID string     `json:"container_id"`
	Replica     int        `json:"replica"`
	Node        string     `json:"node"`
	Shell       string     `json:"shell"`
	RemoteAddr  string     `json:"remote_addr"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at"`
	BytesIn     int64      `json:"bytes_in"`
	BytesOut    int64      `json:"bytes_out"`
}

// termReady is the server's first text frame once the shell runs.
type termReady struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Shell     string `json:"shell"`
	Replica   int    `json:"replica"`
	Container string `json:"container_id"`
	SessionID int64  `json:"session_id"`
}

// TestTerminal drives the web terminal with a WebSocket client against
// the real binary and Docker: a signed-in browser session runs a command,
// resizes the TTY, and closing the socket ends the shell in the container;
// the session is recorded. A scratch image says it has no shell; no
// session, a foreign Origin and a bad replica are refused; an API token
// works on the API endpoint.
func TestTerminal(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	shellImage := termBusyboxImage(t)
	scratchImage := resScratchImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	server := c.serve(t, "serve")
	c.login(t)
	project := c.newProject(t)
	app, _ := c.newApp(t, project, map[string]any{"type": "image", "image": shellImage})
	bare, _ := c.newApp(t, project, map[string]any{"type": "image", "image": scratchImage})
	for _, id := range []int64{app, bare} {
		if d := c.waitFinished(t, c.deploy(t, id), 3*time.Minute); d.Status != "done" {
			t.Fatalf("deploy %d: %s %s", id, d.Status, d.Error)
		}
	}
	browser := testkit.Login(t, c.URL, resAdminEmail, resAdminPassword)
	ui := func(id int64, query string) string {
		return fmt.Sprintf("ws%s/services/app/%d/terminal/ws?%s", strings.TrimPrefix(c.URL, "http"), id, query)
	}
	origin := http.Header{"Origin": {c.URL}}

	t.Run("no session is refused without an upgrade", func(t *testing.T) {
		_, resp, err := termDial(testkit.NewClient(t), ui(app, ""), origin)
		if err == nil || resp == nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Fatalf("anonymous: err %v, response %+v", err, resp)
		}
	})
	t.Run("a foreign Origin is refused", func(t *testing.T) {
		for _, h := range []http.Header{{"Origin": {"http://evil.example"}}, {}} {
			_, resp, err := termDial(browser, ui(app, ""), h)
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("Origin %q: err %v, response %+v", h.Get("Origin"), err, resp)
			}
		}
	})
	t.Run("an unknown service is 404", func(t *testing.T) {
		_, resp, err := termDial(browser, ui(999999, ""), origin)
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown app: err %v, response %+v", err, resp)
		}
	})

	var opened termReady
	t.Run("a shell runs, resizes and ends with the socket", func(t *testing.T) {
		conn, _, err := termDial(browser, ui(app, "cols=80&rows=24"), origin)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer func() { _ = conn.CloseNow() }()
		r := termReader(t, conn)
		opened = r.ready
		if opened.Type != "ready" || opened.Shell != "sh" || opened.Replica != 1 || opened.Container == "" {
			t.Fatalf("ready %+v (the image has sh, not bash)", opened)
		}
		r.send(t, "echo hi-$((40+2))\r")
		r.waitFor(t, "hi-42")
		termResize(t, conn, 100, 30)
		r.send(t, "stty size\r")
		r.waitFor(t, "30 100")
		if ps := termShells(t, opened.Container); len(ps) != 1 {
			t.Fatalf("want one shell in the container while the terminal is open, got %q", ps)
		}
		open := c.termSession(t, opened.SessionID)
		if open.EndedAt != nil || open.UserEmail != resAdminEmail || open.ContainerID != opened.Container || open.TokenID != nil {
			t.Errorf("open session %+v", open)
		}
		if err := conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Logf("close: %v", err)
		}
		ended := c.waitTermEnded(t, opened.SessionID)
		if ended.BytesIn < int64(len("echo hi-$((40+2))\rstty size\r")) || ended.BytesOut == 0 ||
			ended.Replica != 1 || ended.Shell != "sh" || ended.RemoteAddr != "127.0.0.1" || ended.Node == "" ||
			ended.ServiceKind != "app" || ended.ServiceID != app || !ended.EndedAt.After(ended.StartedAt) {
			t.Errorf("ended session %+v", ended)
		}
		if ps := termShells(t, opened.Container); len(ps) != 0 {
			t.Errorf("the shell outlived the socket: %q", ps)
		}
	})

	t.Run("a scratch image has no shell", func(t *testing.T) {
		conn, _, err := termDial(browser, ui(bare, ""), origin)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer func() { _ = conn.CloseNow() }()
		r := termReader(t, conn)
		if r.ready.Type != "error" || !strings.Contains(r.ready.Message, "This image has no shell (bash or sh)") {
			t.Errorf("message %+v", r.ready)
		}
		r.waitFor(t, "This image has no shell (bash or sh)")
		r.waitClosed(t)
	})

	t.Run("a replica that does not run is said so", func(t *testing.T) {
		conn, _, err := termDial(browser, ui(app, "replica=3"), origin)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer func() { _ = conn.CloseNow() }()
		r := termReader(t, conn)
		if r.ready.Type != "error" || !strings.Contains(r.ready.Message, "no running replica 3") {
			t.Errorf("message %+v", r.ready)
		}
	})

	t.Run("an API token opens the API endpoint", func(t *testing.T) {
		url := fmt.Sprintf("ws%s/api/v1/services/app/%d/terminal", strings.TrimPrefix(c.URL, "http"), app)
		if _, resp, err := termDial(testkit.NewClient(t), url, http.Header{"Authorization": {"Bearer dkp_wrong"}}); err == nil ||
			resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong token: err %v, response %+v", err, resp)
		}
		conn, _, err := termDial(testkit.NewClient(t), url, http.Header{"Authorization": {"Bearer " + c.token}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer func() { _ = conn.CloseNow() }()
		r := termReader(t, conn)
		r.send(t, "echo via-$((6*7))-token\r")
		r.waitFor(t, "via-42-token")
		_ = conn.Close(websocket.StatusNormalClosure, "")
		s := c.waitTermEnded(t, r.ready.SessionID)
		if s.TokenID == nil || s.TokenName != "resilience" || s.UserEmail != resAdminEmail {
			t.Errorf("token session %+v", s)
		}
		var list struct {
			Sessions []termSession `json:"sessions"`
		}
		c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/terminal-sessions?kind=app&id=%d", app), nil, http.StatusOK, &list)
		// Two sessions so far: the refused ones (no shell, no replica 3) opened none.
		if len(list.Sessions) != 2 || list.Sessions[0].ID != s.ID || list.Sessions[1].ID != opened.SessionID {
			t.Errorf("the app's sessions, newest first: %+v", list.Sessions)
		}
	})

	t.Run("a message over 64 KiB closes the session", func(t *testing.T) {
		conn, _, err := termDial(browser, ui(app, ""), origin)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer func() { _ = conn.CloseNow() }()
		r := termReader(t, conn)
		if r.ready.Type != "ready" {
			t.Fatalf("ready %+v", r.ready)
		}
		_ = conn.Write(context.Background(), websocket.MessageBinary, make([]byte, 65<<10))
		select {
		case err := <-r.closed:
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Errorf("closed with %v, want status 1009 (message too big)", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the server kept the socket open")
		}
		if s := c.waitTermEnded(t, r.ready.SessionID); s.BytesIn != 0 {
			t.Errorf("the oversized message reached the shell: %+v", s)
		}
		if ps := termShells(t, r.ready.Container); len(ps) != 0 {
			t.Errorf("the shell outlived the socket: %q", ps)
		}
	})

	t.Run("the app page links its terminal", func(t *testing.T) {
		resp, err := browser.Get(fmt.Sprintf("%s/apps/%d", c.URL, app))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		testkit.MustContain(t, string(raw), fmt.Sprintf(`href="/services/app/%d/terminal">Terminal</a>`, app))
	})

	t.Run("the terminal page lists the sessions", func(t *testing.T) {
		resp, err := browser.Get(fmt.Sprintf("%s/services/app/%d/terminal", c.URL, app))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		body := string(raw)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page: %d %s", resp.StatusCode, testkit.Truncate(body))
		}
		testkit.MustContain(t, body, "Terminal sessions", `id="terminal-replica"`, `<option value="1" selected>`, opened.Container[:12], "/static/terminal.js")
		// The page's own part has no inline script (a CSP with script-src 'self' is coming).
		_, main, _ := strings.Cut(body, `<main class="wrap">`)
		main, _, _ = strings.Cut(main, "</main>")
		testkit.MustNotContain(t, main, "<script>", "onclick=", "onchange=")
	})

	// Last: it stops the server.
	t.Run("stopping the server ends the open shells", func(t *testing.T) {
		conn, _, err := termDial(browser, ui(app, ""), origin)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer func() { _ = conn.CloseNow() }()
		r := termReader(t, conn)
		if r.ready.Type != "ready" || len(termShells(t, r.ready.Container)) != 1 {
			t.Fatalf("ready %+v", r.ready)
		}
		server.killed = true // stopped here, not by the cleanup
		if err := server.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-server.exited:
		case <-time.After(resStopWithin):
			_ = server.cmd.Process.Kill()
			t.Fatalf("the server did not exit within %s of SIGTERM", resStopWithin)
		}
		if code := server.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit status %d after SIGTERM:\n%s", code, server.log.String())
		}
		var reason string
		var ended bool
		if err := c.db.QueryRow(`SELECT end_reason, ended_at IS NOT NULL FROM terminal_sessions WHERE id = $1`, r.ready.SessionID).Scan(&reason, &ended); err != nil {
			t.Fatal(err)
		}
		if !ended || reason != "the server is shutting down" {
			t.Errorf("session end: %v %q", ended, reason)
		}
		if ps := termShells(t, r.ready.Container); len(ps) != 0 {
			t.Errorf("the shell outlived the server: %q", ps)
		}
	})
}

// termBusyboxImage builds an image of the test app with busybox's sh (and
// no bash); it is removed in t.Cleanup.
func termBusyboxImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	deployBuildTestApp(t, filepath.Join(dir, "app"))
	bb, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Fatalf("a static busybox is needed at /usr/bin/busybox: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n" +
		"COPY app /app\nENV PORT=8080 MESSAGE=terminal\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "dokploy-term-app-" + srvRandomHex(4) + ":1"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", tag, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
	return tag
}

func termDial(client *http.Client, url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client, HTTPHeader: h})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return conn, resp, err
}

func termResize(t *testing.T, conn *websocket.Conn, cols, rows int) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": "resize", "cols": cols, "rows": rows})
	if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatalf("resize: %v", err)
	}
}

// termStream collects what a terminal socket receives.
type termStream struct {
	conn   *websocket.Conn
	ready  termReady
	output chan string
	closed chan error
	seen   strings.Builder
}

// termReader reads the first text frame (ready or error), then collects
// the binary frames in the background.
func termReader(t *testing.T, conn *websocket.Conn) *termStream {
	t.Helper()
	s := &termStream{conn: conn, output: make(chan string, 256), closed: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for s.ready.Type == "" {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("no ready or error message: %v (output so far %q)", err, s.seen.String())
		}
		if typ == websocket.MessageText {
			if err := json.Unmarshal(data, &s.ready); err != nil {
				t.Fatalf("text frame %q: %v", data, err)
			}
		} else {
			s.seen.Write(data)
		}
	}
	go func() {
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				s.closed <- err
				close(s.output)
				return
			}
			if typ == websocket.MessageBinary {
				s.output <- string(data)
			}
		}
	}()
	return s
}

func (s *termStream) send(t *testing.T, keys string) {
	t.Helper()
	if err := s.conn.Write(context.Background(), websocket.MessageBinary, []byte(keys)); err != nil {
		t.Fatalf("type %q: %v", keys, err)
	}
}

// waitFor reads until the output holds want on a line of its own making
// (the typed command's echo has want only as an expression).
func (s *termStream) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if strings.Contains(s.seen.String(), want) {
			return
		}
		select {
		case chunk, ok := <-s.output:
			if !ok {
				t.Fatalf("the socket closed before %q; output:\n%q", want, s.seen.String())
			}
			s.seen.WriteString(chunk)
		case <-deadline:
			t.Fatalf("no %q within 15s; output:\n%q", want, s.seen.String())
		}
	}
}

func (s *termStream) waitClosed(t *testing.T) {
	t.Helper()
	for {
		select {
		case _, ok := <-s.output:
			if !ok {
				err := <-s.closed
				if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
					t.Errorf("closed with %v", err)
				}
				return
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the server did not close the socket")
		}
	}
}

// termShells lists the shell processes in the container (ps run straight
// by Docker, not through a shell).
func termShells(t *testing.T, container string) []string {
	t.Helper()
	out, err := exec.Command("docker", "exec", container, "ps", "-o", "pid,args").CombinedOutput()
	if err != nil {
		t.Fatalf("ps in %s: %v %s", container, err, out)
	}
	var shells []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[1] == "sh" || f[1] == "/bin/sh" || f[1] == "bash") {
			shells = append(shells, strings.TrimSpace(line))
		}
	}
	return shells
}

func (c *resCluster) termSession(t *testing.T, id int64) termSession {
	t.Helper()
	var list struct {
		Sessions []termSession `json:"sessions"`
	}
	c.mustAPI(t, "GET", "/api/v1/terminal-sessions?limit=500", nil, http.StatusOK, &list)
	for _, s := range list.Sessions {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("session %d is not listed: %+v", id, list.Sessions)
	return termSession{}
}

// waitTermEnded polls the session until its end is recorded (the server
// records it once the shell has ended).
func (c *resCluster) waitTermEnded(t *testing.T, id int64) termSession {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := c.termSession(t, id)
		if s.EndedAt != nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal(errors.New("the session's end was not recorded within 20s"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
