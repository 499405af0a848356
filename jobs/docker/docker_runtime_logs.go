package docker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
)

// LogQuery selects a service's log lines: the last Tail (< 0: all), from
// Since (zero: any time), and with Follow on until ctx ends.
type LogQuery struct {
	Tail   int
	Since  time.Time
	Follow bool
}

// LogLine is one line of a service's output.
type LogLine struct {
	TS      time.Time `json:"ts"`
	Replica int       `json:"replica"` // the task slot, 0 when unknown
	Stream  string    `json:"stream"`  // stdout or stderr
	Text    string    `json:"text"`    // control characters removed
}

// ServiceLogLines calls each with every line of the service's output, in
// the engine's order, until the stream ends, ctx ends or each fails.
func (d *Docker) ServiceLogLines(ctx context.Context, name string, q LogQuery, each func(LogLine) error) error {
	tail := "all"
	if q.Tail >= 0 {
		tail = strconv.Itoa(q.Tail)
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: q.Follow, Tail: tail, Timestamps: true, Details: true}
	if !q.Since.IsZero() {
		opts.Since = strconv.FormatInt(q.Since.Unix(), 10)
	}
	rc, err := d.cli.ServiceLogs(ctx, name, opts)
	if err != nil {
		return fmt.Errorf("logs of service %s: %w", name, err)
	}
	defer rc.Close()
	slots := &taskSlots{d: d, service: name}
	var mu sync.Mutex
	var cbErr error
	emit := func(stream string) *lineWriter {
		return &lineWriter{line: func(b []byte) error {
			mu.Lock()
			defer mu.Unlock()
			l := parseLogLine(string(b))
			l.Stream = stream
			l.Replica = slots.slot(ctx, l.Replica, string(b))
			if err := each(l); err != nil {
				cbErr = err
				return err
			}
			return nil
		}}
	}
	out, errw := emit("stdout"), emit("stderr")
	_, err = stdcopy.StdCopy(out, errw, rc)
	if cbErr != nil {
		return cbErr
	}
	_ = out.flush()
	_ = errw.flush()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of service %s: %w", name, err)
	}
	return cbErr
}

// lineWriter splits what is written into lines.
type lineWriter struct {
	buf  []byte
	line func([]byte) error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if err := w.line(w.buf[:i]); err != nil {
			return 0, err
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 1<<20 { // one over-long line: cut it
		err := w.line(w.buf)
		w.buf = nil
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *lineWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	b := w.buf
	w.buf = nil
	return w.line(b)
}

// parseLogLine reads "<RFC3339Nano> <details> <text>" (Timestamps and
// Details on); Replica carries -1 for the slot lookup to fill.
func parseLogLine(s string) LogLine {
	l := LogLine{Replica: -1}
	if ts, rest, ok := strings.Cut(s, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.TS, s = t, rest
		}
	}
	if strings.HasPrefix(s, "com.docker.swarm.") {
		_, s, _ = strings.Cut(s, " ")
	}
	l.Text = SanitizeLogText(s)
	return l
}

// SanitizeLogText drops control characters (CR, ESC, …) but tabs, so a
// line cannot move the cursor, forge an event or a line of its own.
func SanitizeLogText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0) {
			return r
		}
		return -1
	}, s)
}

// taskSlots maps the task ID in a line's details to the task's slot.
type taskSlots struct {
	d       *Docker
	service string
	byTask  map[string]int
	loaded  time.Time
}

func (t *taskSlots) slot(ctx context.Context, _ int, raw string) int {
	id := detail(raw, "com.docker.swarm.task.id")
	if id == "" {
		return 0
	}
	if n, ok := t.byTask[id]; ok {
		return n
	}
	if time.Since(t.loaded) < 2*time.Second {
		return 0
	}
	t.loaded = time.Now()
	tasks, err := t.d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", t.service))})
	if err != nil {
		return 0
	}
	t.byTask = map[string]int{}
	for _, task := range tasks {
		t.byTask[task.ID] = task.Slot
	}
	return t.byTask[id]
}

// detail finds key=value in the details part of a raw line.
func detail(raw, key string) string {
	i := strings.Index(raw, key+"=")
	if i < 0 {
		return ""
	}
	v := raw[i+len(key)+1:]
	if j := strings.IndexAny(v, ", "); j >= 0 {
		v = v[:j]
	}
	return v
}
