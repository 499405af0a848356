package docker

import (
	"fmt"
)

// LogFunc receives one line of human-readable progress (no trailing newline).
// Every long-running function in the Docker layer reports through it;
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
