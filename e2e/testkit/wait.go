package testkit

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogRecorder collects log lines (pass its Log as a LogFunc); safe for
// concurrent use.
type LogRecorder struct {
	mu    sync.Mutex
	lines []string
}

// Log records one line.
func (r *LogRecorder) Log(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

// All returns the lines recorded so far, joined by newlines.
func (r *LogRecorder) All() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// Contains reports whether the recorded log contains s.
func (r *LogRecorder) Contains(s string) bool {
	return strings.Contains(r.All(), s)
}

// WaitBody polls url until it answers exactly want, for at most 30 seconds
// (2 seconds a request), and fails the test with the last answer otherwise.
func WaitBody(t testing.TB, url, want string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if last = string(b); last == want {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("GET %s: last answer %q, want %q", url, last, want)
}
