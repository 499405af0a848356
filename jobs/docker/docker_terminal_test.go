package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// busyboxDockerfile has sh (busybox's) but no bash.
const busyboxDockerfile = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n" +
	"COPY app /app\nENV PORT=8080\nCMD [\"/app\"]\n"

// TestTerminal_ShellResizeAndClose opens a terminal in a busybox-based
// service (sh, no bash), runs a command, resizes the TTY, and checks that
// Close ends the shell process.
func TestTerminal_ShellResizeAndClose(t *testing.T) {
	d := testDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := testName(t)
	dir := appContext(t, busyboxDockerfile)
	b, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Fatalf("a static busybox is needed at /usr/bin/busybox: %v", err)
	}
	mustWrite(t, filepath.Join(dir, "busybox"), string(b))
	if err := os.Chmod(filepath.Join(dir, "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Build(ctx, BuildSpec{Dir: dir, Tags: []string{name + ":1"}}, nil); err != nil {
		t.Fatalf("build: %v", err)
	}
	cleanupService(t, d, name)
	if err := d.DeployService(ctx, ServiceSpec{Name: name, Image: name + ":1", Replicas: 1, StopGracePeriod: time.Second}, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	reps, err := d.ServiceReplicas(ctx, name)
	if err != nil || len(reps) != 1 || reps[0].Slot != 1 || !reps[0].Local || reps[0].Node == "" {
		t.Fatalf("replicas %+v, %v", reps, err)
	}
	if _, err := PickReplica(name, reps, 2); !errors.Is(err, ErrNoRunningTask) {
		t.Errorf("replica 2: %v", err)
	}
	term, err := d.OpenTerminal(ctx, reps[0].Container, 80, 24)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer term.Close()
	if term.Shell != "sh" {
		t.Errorf("shell %q, want sh (the image has no bash)", term.Shell)
	}
	out := &syncBuffer{}
	go func() { _, _ = io.Copy(out, term) }()
	if _, err := term.Write([]byte("echo hi-$((40+2))\r")); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "hi-42")
	if _, err := term.Write([]byte("stty size\r")); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "24 80") // the size it opened with
	if err := term.Resize(ctx, 100, 30); err != nil {
		t.Fatalf("resize: %v", err)
	}
	if _, err := term.Write([]byte("stty size\r")); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "30 100")
	if up, err := term.Running(ctx); err != nil || !up {
		t.Fatalf("running before close: %v %v", up, err)
	}
	if err := term.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if up, err := term.Running(ctx); err != nil || up {
		t.Errorf("the shell still runs after Close: %v %v", up, err)
	}
	ps, err := d.ExecInContainer(ctx, reps[0].Container, ExecSpec{Cmd: []string{"ps", "-o", "pid,args"}})
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	for _, line := range strings.Split(ps, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[1] == "sh" || f[1] == "/bin/sh") {
			t.Errorf("a shell is left in the container after Close:\n%s", ps)
		}
	}
}

// TestTerminal_NoShell: a FROM scratch image has no shell to run.
func TestTerminal_NoShell(t *testing.T) {
	d := testDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := testName(t)
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nENV PORT=8080\nCMD [\"/app\"]\n"),
		Tags: []string{name + ":1"}}, nil); err != nil {
		t.Fatalf("build: %v", err)
	}
	cleanupService(t, d, name)
	if err := d.DeployService(ctx, ServiceSpec{Name: name, Image: name + ":1", Replicas: 1, StopGracePeriod: time.Second}, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	reps, err := d.ServiceReplicas(ctx, name)
	if err != nil || len(reps) != 1 {
		t.Fatalf("replicas %+v, %v", reps, err)
	}
	if _, err := d.OpenTerminal(ctx, reps[0].Container, 80, 24); !errors.Is(err, ErrNoShell) {
		t.Fatalf("open in a scratch image: %v, want ErrNoShell", err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the terminal's output:\n%q", want, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
