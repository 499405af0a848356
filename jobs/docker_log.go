package jobs

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
)

// LogFunc receives one line of human-readable progress (no trailing newline).
// Every long-running function in the Docker and Git layer reports through it;
// the caller decides where lines go (the deployment log). Lines never contain
// secret values. A nil LogFunc discards everything.
type LogFunc func(line string)

// printf formats a line and sends it to the log, tolerating a nil LogFunc.
func (l LogFunc) printf(format string, args ...any) {
	if l != nil {
		l(fmt.Sprintf(format, args...))
	}
}

// line sends one line, tolerating a nil LogFunc.
func (l LogFunc) line(s string) {
	if l != nil {
		l(s)
	}
}

// lineWriter is an io.Writer that cuts its input into lines and sends each
// one to a LogFunc. Lines ending in '\r' are terminal progress updates (git's
// "Receiving objects: 42%"); they are rate-limited so a clone does not produce
// hundreds of near-identical lines, while '\n'-terminated lines always pass.
type lineWriter struct {
	mu        sync.Mutex
	log       LogFunc
	buf       []byte
	throttle  time.Duration
	lastCRLog time.Time
}

func newLineWriter(log LogFunc, throttle time.Duration) *lineWriter {
	return &lineWriter{log: log, throttle: throttle}
}

// Write implements io.Writer. It never fails.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexAny(w.buf, "\r\n")
		if i < 0 {
			break
		}
		text, sep := string(w.buf[:i]), w.buf[i]
		w.buf = w.buf[i+1:]
		w.emit(text, sep == '\r')
	}
	return len(p), nil
}

// Flush sends a trailing partial line, if any.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf), false)
		w.buf = nil
	}
}

func (w *lineWriter) emit(text string, progress bool) {
	text = strings.TrimRight(text, " \t")
	if text == "" {
		return
	}
	if progress {
		now := time.Now()
		if now.Sub(w.lastCRLog) < w.throttle {
			return
		}
		w.lastCRLog = now
	}
	w.log.line(text)
}
