package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// minioBinEnv names the MinIO server binary; make test sets it.
const minioBinEnv = "DOKPLOY_MINIO_BIN"

// defaultMinIOBin is where make minio (scripts/build-go-tool.sh) puts it.
const defaultMinIOBin = "/var/cache/dokploy/bin/minio"

// minioReadyTimeout covers a cold start on a loaded machine.
const minioReadyTimeout = 60 * time.Second

// MinIO is a MinIO server run for one test: a real S3 endpoint on
// 127.0.0.1 with its data in the test's temporary directory.
type MinIO struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string

	bin, dir          string
	addr, consoleAddr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	out  *tailBuffer
}

// StartMinIO starts a MinIO server with random root credentials and waits
// until it is ready; t.Cleanup stops it. Without the binary the test
// skips, or fails under DOKPLOY_INTEGRATION=1.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	m := &MinIO{
		AccessKey:   "test" + randomHex(t, 8),
		SecretKey:   randomHex(t, 20),
		bin:         minioBin(t),
		dir:         t.TempDir(),
		addr:        fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
		consoleAddr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
	}
	m.Endpoint = "http://" + m.addr
	t.Cleanup(m.Kill)
	m.start(t)
	return m
}

// minioBin returns the MinIO binary, skipping or failing when it is missing.
func minioBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(minioBinEnv)
	if bin == "" {
		bin = defaultMinIOBin
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		if integration() {
			t.Fatalf("MinIO server binary %s is missing (DOKPLOY_INTEGRATION=1): `make minio` builds it", bin)
		}
		t.Skipf("MinIO server binary %s is missing: `make minio` builds it", bin)
	}
	return bin
}

// start runs the server process and waits for it to be ready.
func (m *MinIO) start(t testing.TB) {
	t.Helper()
	out := &tailBuffer{max: 40}
	cmd := exec.Command(m.bin, "server", m.dir, "--address", m.addr, "--console-address", m.consoleAddr)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start MinIO %s: %v", m.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done, m.out = cmd, done, out
	m.mu.Unlock()
	m.waitReady(t)
}

// waitReady polls until MinIO's readiness probe answers 200 and an S3
// request succeeds, failing early with the server's output when the
// process exits. After a restart the probe answers before the object
// layer has loaded, and S3 calls then fail with "Server not initialized".
func (m *MinIO) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(minioReadyTimeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			t.Fatalf("MinIO exited before it was ready; its last output:\n%s", m.out)
		default:
		}
		if last = m.probe(t); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("MinIO not ready after %s (last answer: %s); its last output:\n%s", minioReadyTimeout, last, m.out)
}

// probe returns "" when MinIO serves S3 requests, else what it answered.
func (m *MinIO) probe(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "health probe: " + resp.Status
	}
	if _, err := m.client(t, 1).ListBuckets(ctx); err != nil {
		return "list buckets: " + err.Error()
	}
	// The root key works before the IAM sub-system has loaded; until it
	// has, other keys get XMinioIAMNotInitialized instead of an answer
	// about the key. Wait until an unknown key is refused as unknown.
	stranger, err := minio.New(m.addr, &minio.Options{
		Creds: credentials.NewStaticV4("dokploy-probe-unknown", "dokploy-probe-unknown-secret", ""), BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		t.Fatalf("MinIO client: %v", err)
	}
	if _, err := stranger.ListBuckets(ctx); minio.ToErrorResponse(err).Code == "XMinioIAMNotInitialized" {
		return "IAM not initialized yet"
	}
	return ""
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. Safe to call twice; Restart brings it back.
func (m *MinIO) Kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart kills the server if it runs and starts it again on the same
// address, credentials and data.
func (m *MinIO) Restart(t testing.TB) {
	t.Helper()
	m.Kill()
	m.start(t)
}

// Client returns a minio-go client with the root credentials, for tests
// that inspect the server directly.
func (m *MinIO) Client(t testing.TB) *minio.Client {
	t.Helper()
	return m.client(t, 0)
}

// client is Client with minio-go's retries per request (0: its default).
func (m *MinIO) client(t testing.TB, retries int) *minio.Client {
	t.Helper()
	c, err := minio.New(m.addr, &minio.Options{
		Creds:        credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   retries,
	})
	if err != nil {
		t.Fatalf("MinIO client: %v", err)
	}
	return c
}

// Bucket creates a bucket with a fresh random name and returns the name.
func (m *MinIO) Bucket(t testing.TB) string {
	t.Helper()
	name := "test-" + randomHex(t, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket %s on MinIO: %v", name, err)
	}
	return name
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// tailBuffer keeps the last max lines written to it, so a failing start
// can show why without holding a long-running server's whole log.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial.Write(p)
	for {
		line, err := b.partial.ReadString('\n')
		if err != nil {
			// No newline yet: keep the rest for the next write.
			b.partial.Reset()
			b.partial.WriteString(line)
			break
		}
		b.lines = append(b.lines, strings.TrimRight(line, "\n"))
		if len(b.lines) > b.max {
			b.lines = b.lines[1:]
		}
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.lines[:len(b.lines):len(b.lines)] // append must not write into b.lines
	if b.partial.Len() > 0 {
		lines = append(lines, b.partial.String())
	}
	return strings.Join(lines, "\n")
}
