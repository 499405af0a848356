// Package linewriter cuts a byte stream (build output, git progress) into
// lines for a LogFunc. It is shared by jobs/docker and jobs/git.
package linewriter

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Writer is an io.Writer that cuts its input into lines and sends each
// one to a log function. Lines ending in '\r' are terminal progress updates
// (git's "Receiving objects: 42%"); they are rate-limited so a clone does not
// produce hundreds of near-identical lines, while '\n'-terminated lines
// always pass.
type Writer struct {
	mu        sync.Mutex
	log       func(string)
	buf       []byte
	throttle  time.Duration
	lastCRLog time.Time
}

// New returns a Writer sending lines to log (nil discards them) and letting
// through at most one progress line per throttle.
func New(log func(string), throttle time.Duration) *Writer {
	return &Writer{log: log, throttle: throttle}
}

// Write implements io.Writer. It never fails.
func (w *Writer) Write(p []byte) (int, error) {
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
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf), false)
		w.buf = nil
	}
}

func (w *Writer) emit(text string, progress bool) {
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
	if w.log != nil {
		w.log(text)
	}
}
