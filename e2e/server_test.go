package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// Bounded waits of the server helper.
const (
	srvBuildTimeout    = 5 * time.Minute
	srvSetupTimeout    = 30 * time.Second // until the setup link is printed
	srvHealthTimeout   = 30 * time.Second // until /api/health answers 200
	srvShutdownTimeout = 20 * time.Second // from SIGTERM to exit
)

// The binary is built once per test process into srvBuildDir; TestMain
// removes the directory (srvRemoveBuild).
var (
	srvBuildOnce sync.Once
	srvBuildDir  string
	srvBinPath   string
	srvBuildErr  error
)

// srvBinary builds the real dokploy binary (CGO_ENABLED=0 go build, as the
// product is built) the first time it is called and returns its path.
func srvBinary(t testing.TB) string {
	t.Helper()
	root := testkit.RepoRoot(t)
	srvBuildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = "/usr/local/go/bin/go"
		}
		if srvBuildDir, err = os.MkdirTemp("", "dokploy-e2e-bin-"); err != nil {
			srvBuildErr = err
			return
		}
		bin := filepath.Join(srvBuildDir, "dokploy")
		ctx, cancel := context.WithTimeout(context.Background(), srvBuildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			srvBuildErr = fmt.Errorf("go build in %s: %v\n%s", root, err, out)
			return
		}
		srvBinPath = bin
	})
	if srvBuildErr != nil {
		t.Fatalf("build dokploy: %v", srvBuildErr)
	}
	return srvBinPath
}

// srvRemoveBuild deletes the built binary; TestMain calls it after the tests.
func srvRemoveBuild() {
	if srvBuildDir != "" {
		_ = os.RemoveAll(srvBuildDir)
	}
}

// srvRandomHex returns 2n random hex characters.
func srvRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// srvLog collects the server's stdout and stderr for failure reports and
// spots the setup link on stdout.
type srvLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte // stdout bytes after the last newline
	setup   chan string
	sent    bool
}

func (l *srvLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// srvStdout scans complete stdout lines for the setup link.
type srvStdout struct{ l *srvLog }

func (w srvStdout) Write(p []byte) (int, error) {
	l := w.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if l.sent || !strings.Contains(line, "/setup?token=") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if strings.Contains(f, "/setup?token=") {
				l.setup <- f // buffered, sent once
				l.sent = true
				break
			}
		}
	}
	return len(p), nil
}

// srvStderr only records.
type srvStderr struct{ l *srvLog }

func (w srvStderr) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.buf.Write(p)
	return len(p), nil
}

// srvServer is one running `dokploy serve`.
type srvServer struct {
	URL         string // base URL, no trailing slash
	SetupURL    string // the one-time link printed on stdout
	DataDir     string
	DatabaseURL string
	log         *srvLog
}

// Logs returns everything the server printed so far.
func (s *srvServer) Logs() string { return s.log.String() }

// srvStart builds (once) and starts `dokploy serve` on a free port with a
// fresh database, waits for the setup link and a healthy /api/health, and
// stops it with SIGTERM in t.Cleanup, failing the test unless it exits 0.
//
// The deploy worker is off by default (DOKPLOY_WORKER=false): the binary
// has no Redis namespace setting yet, so a worker here would share the
// "dokploy" namespace with any dev server on this machine, take its deploy
// jobs and overwrite its concurrency limit. extraEnv ("K=V") is applied
// last and can turn it on.
func srvStart(t testing.TB, extraEnv ...string) *srvServer {
	t.Helper()
	dbtest.Integration(t)
	bin := srvBinary(t)
	dbURL := dbtest.NewDatabaseURL(t) // dropped in its own cleanup, after the server stops
	port := testkit.FreePort(t)
	s := &srvServer{
		URL:         fmt.Sprintf("http://127.0.0.1:%d", port),
		DataDir:     t.TempDir(),
		DatabaseURL: dbURL,
		log:         &srvLog{setup: make(chan string, 1)},
	}
	env := []string{}
	for _, kv := range os.Environ() {
		// The developer's own settings must not leak into the test server.
		if !strings.HasPrefix(kv, "DOKPLOY_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"DOKPLOY_ADDR="+fmt.Sprintf("127.0.0.1:%d", port),
		"DOKPLOY_PUBLIC_URL="+s.URL,
		"DOKPLOY_DATA_DIR="+s.DataDir,
		"DOKPLOY_SECRET_KEY="+srvRandomHex(20),
		"DOKPLOY_DATABASE_URL="+dbURL,
		"DOKPLOY_REDIS_URL="+dbtest.RedisURL(),
		// Not read by the binary yet; isolates the queue once it is.
		"DOKPLOY_REDIS_NAMESPACE=dokploy-e2e-"+dbtest.RandomSuffix(),
		"DOKPLOY_WORKER=false",
		// The test server must not take over the machine's dokploy-traefik
		// container and ports 80/443 (e2e/routing_test.go runs its own Traefik).
		"DOKPLOY_TRAEFIK=off",
	)
	env = append(env, extraEnv...)

	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout = srvStdout{s.log}
	cmd.Stderr = srvStderr{s.log}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
			t.Errorf("dokploy serve exited before the test ended (%v); output:\n%s", waitErr, s.Logs())
			return
		default:
		}
		stopping := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("send SIGTERM to dokploy serve: %v", err)
		}
		select {
		case <-exited:
		case <-time.After(srvShutdownTimeout):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("dokploy serve did not exit within %s of SIGTERM; killed. Output:\n%s", srvShutdownTimeout, s.Logs())
			return
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("dokploy serve exited with code %d after SIGTERM (want 0): %v; output:\n%s", code, waitErr, s.Logs())
			return
		}
		t.Logf("dokploy serve exited 0 %s after SIGTERM", time.Since(stopping).Round(time.Millisecond))
		if t.Failed() {
			t.Logf("dokploy serve output:\n%s", s.Logs())
		}
	})

	select {
	case link := <-s.log.setup:
		s.SetupURL = link
	case <-exited:
		t.Fatalf("dokploy serve exited before printing the setup link (%v); output:\n%s", waitErr, s.Logs())
	case <-time.After(srvSetupTimeout):
		t.Fatalf("no line with /setup?token= on stdout within %s; output:\n%s", srvSetupTimeout, s.Logs())
	}
	if !strings.HasPrefix(s.SetupURL, s.URL+"/setup?token=") {
		t.Fatalf("setup link %q does not start with %s/setup?token=", s.SetupURL, s.URL)
	}
	s.waitHealthy(t, exited)
	return s
}

// waitHealthy polls /api/health until it answers 200.
func (s *srvServer) waitHealthy(t testing.TB, exited <-chan struct{}) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(srvHealthTimeout)
	var last string
	for {
		resp, err := client.Get(s.URL + "/api/health")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			t.Fatalf("dokploy serve exited while waiting for /api/health; output:\n%s", s.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/health not 200 within %s (are PostgreSQL, Redis and Docker swarm up? run scripts/provision.sh); last: %s", srvHealthTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
