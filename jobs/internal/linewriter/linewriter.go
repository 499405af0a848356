// Package linewriter cuts a byte stream (build output, git progress) into
// lines for a LogFunc. It is shared by jobs/docker and jobs/git.
package linewriter

import (
	"bytes"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxLine is the longest line passed on, in bytes. A longer line is cut
// there and CutMarker appended; the rest of it, up to the next line break,
// is dropped as it arrives, so a 50 MB line costs no more memory than a
// 16 KiB one.
const MaxLine = 16 << 10

// CutMarker ends a line that was cut at MaxLine.
const CutMarker = " … [line cut at 16 KiB]"

// Writer is an io.Writer that cuts its input into lines and sends each
// one to a log function. Lines ending in '\r' are terminal progress updates
// (git's "Receiving objects: 42%"); they are rate-limited so a clone does not
// produce hundreds of near-identical lines, while '\n'-terminated lines
// always pass. Lines are cut at MaxLine.
type Writer struct {
	mu        sync.Mutex
	log       func(string)
	buf       []byte // the current line so far, at most MaxLine bytes
	cutting   bool   // the current line was cut: drop input up to its end
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
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if w.cutting {
			if i < 0 {
				break // still inside the cut line
			}
			w.cutting = false
			p = p[i+1:]
			continue
		}
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if len(w.buf)+len(seg) > MaxLine {
			w.buf = append(w.buf, seg[:MaxLine-len(w.buf)]...)
			w.emit(cut(w.buf), false)
			w.buf = w.buf[:0]
			if i < 0 {
				w.cutting = true
				break
			}
			p = p[i+1:]
			continue
		}
		w.buf = append(w.buf, seg...)
		if i < 0 {
			break
		}
		w.emit(string(w.buf), p[i] == '\r')
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Flush sends a trailing partial line, if any.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf), false)
	}
	w.buf = nil
	w.cutting = false
}

// Cut returns s cut at MaxLine with CutMarker, or s when it is short
// enough. For lines that reach the log some other way than a Writer.
func Cut(s string) string {
	if len(s) <= MaxLine {
		return s
	}
	return cut([]byte(s[:MaxLine]))
}

// cut turns the first MaxLine bytes of a line into the cut line, dropping
// a character the cut split in two.
func cut(b []byte) string {
	for k := 1; k <= utf8.UTFMax && k <= len(b); k++ {
		if utf8.RuneStart(b[len(b)-k]) {
			if !utf8.FullRune(b[len(b)-k:]) {
				b = b[:len(b)-k]
			}
			break
		}
	}
	return strings.TrimRight(string(b), " \t") + CutMarker
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
