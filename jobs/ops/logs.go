package ops

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
)

// Runtime log limits.
const (
	DefaultLogTail = 200
	MaxLogTail     = 10000
	MaxLogPattern  = 200
)

// LogFilter selects the runtime log lines of one service, for the pages
// and the API alike.
type LogFilter struct {
	Tail       int
	Since      time.Time
	Q          string         // substring, case-insensitive
	Re         *regexp.Regexp // with regex=1, instead of the substring
	Timestamps bool
	Replica    int    // task slot, 0: all
	Service    string // the compose service, for stacks
}

var composeServiceName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// ParseLogFilter reads tail, since, q, regex, timestamps, replica and
// service with get (a query parameter lookup); errors name the field.
func ParseLogFilter(get func(string) string, now time.Time) (LogFilter, error) {
	f := LogFilter{Tail: DefaultLogTail, Timestamps: true}
	errs := FieldErrors{}
	if v := strings.TrimSpace(get("tail")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLogTail {
			errs["tail"] = "tail must be a whole number from 1 to 10000"
		}
		f.Tail = n
	}
	if v := strings.TrimSpace(get("since")); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			f.Since = t
		} else {
			errs["since"] = "since must be a duration like 5m, 1h or 24h, or an RFC3339 time like 2024-05-01T10:00:00Z"
		}
	}
	f.Q = get("q")
	if len(f.Q) > MaxLogPattern {
		errs["q"] = "the search is limited to 200 characters"
	}
	switch v := get("regex"); v {
	case "", "0", "false":
	case "1", "true":
		if f.Q != "" && errs["q"] == "" {
			re, err := regexp.Compile("(?i)" + f.Q)
			if err != nil {
				errs["q"] = "not a valid regular expression: " + err.Error()
			}
			f.Re = re
		}
	default:
		errs["regex"] = "regex must be 1 or 0"
	}
	switch v := get("timestamps"); v {
	case "", "1", "true", "on":
	case "0", "false", "off":
		f.Timestamps = false
	default:
		errs["timestamps"] = "timestamps must be 1 or 0"
	}
	if v := strings.TrimSpace(get("replica")); v != "" && v != "all" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs["replica"] = "replica must be a task slot number from 1"
		}
		f.Replica = n
	}
	if v := strings.TrimSpace(get("service")); v != "" {
		if !composeServiceName.MatchString(v) {
			errs["service"] = "service must name a service of the compose file"
		}
		f.Service = v
	}
	if len(errs) > 0 {
		return f, errs
	}
	return f, nil
}

// Match reports whether the line passes the search and replica filters.
func (f LogFilter) Match(l docker.LogLine) bool {
	if f.Replica > 0 && l.Replica != f.Replica {
		return false
	}
	switch {
	case f.Re != nil:
		return f.Re.MatchString(l.Text)
	case f.Q != "":
		return strings.Contains(strings.ToLower(l.Text), strings.ToLower(f.Q))
	}
	return true
}

// Format renders a line as text, with its timestamp and replica when asked.
func (f LogFilter) Format(l docker.LogLine) string {
	var b strings.Builder
	if f.Timestamps && !l.TS.IsZero() {
		b.WriteString(l.TS.UTC().Format(time.RFC3339Nano) + " ")
	}
	if l.Replica > 0 {
		b.WriteString("[" + strconv.Itoa(l.Replica) + "] ")
	}
	b.WriteString(l.Text)
	return b.String()
}

// LogTarget resolves the Swarm service name whose logs are shown: kind is
// app, database or compose (then f.Service names the compose service).
func (s *Service) LogTarget(ctx context.Context, kind string, id int64, f LogFilter) (name, label string, err error) {
	switch kind {
	case db.KindApp:
		a, err := s.store.App(ctx, id)
		if err != nil {
			return "", "", err
		}
		return a.AppName, a.AppName, nil
	case db.KindDatabase:
		d, err := s.store.Database(ctx, id)
		if err != nil {
			return "", "", err
		}
		return d.Name, d.Name, nil
	case db.KindCompose:
		c, err := s.store.Compose(ctx, id)
		if err != nil {
			return "", "", err
		}
		if f.Service == "" {
			return "", "", fieldError("service", "service is required for a compose stack: name one of its services")
		}
		return c.Name + "_" + f.Service, c.Name + "-" + f.Service, nil
	}
	return "", "", db.ErrNotFound
}

// RuntimeLogs calls each with the service's lines that pass f; with follow
// it keeps going until ctx ends. Without follow it reads the last f.Tail
// lines of the engine (the search applies to those).
func (s *Service) RuntimeLogs(ctx context.Context, name string, f LogFilter, follow bool, each func(docker.LogLine) error) error {
	q := docker.LogQuery{Tail: f.Tail, Since: f.Since, Follow: follow}
	return s.runner.ServiceLogLines(ctx, name, q, func(l docker.LogLine) error {
		if !f.Match(l) {
			return nil
		}
		return each(l)
	})
}
