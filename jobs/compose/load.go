package compose

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/types"
)

// load runs the docker/cli loader on the rewritten dict: interpolation from
// the stack's env only, schema validation, and conversion to types.Config.
func (l *loading) load() (err error) {
	defer func() {
		// The loader type-asserts freely; hostile input must not crash
		// the control plane.
		if r := recover(); r != nil {
			err = &Error{Filename: l.src.Filename, Msg: fmt.Sprintf("the file could not be loaded: %v", r)}
		}
	}()
	details := types.ConfigDetails{
		WorkingDir:  l.workingDir(),
		ConfigFiles: []types.ConfigFile{{Filename: l.src.Filename, Config: l.dict}},
		Environment: l.src.Env,
	}
	if details.Environment == nil {
		details.Environment = map[string]string{}
	}
	cfg, err := loader.Load(details, func(o *loader.Options) {
		// Keep the loader's type casts (replicas: ${N} is an int), swap
		// where values come from.
		o.Interpolate.LookupValue = l.lookup
		o.Interpolate.Substitute = l.substituteFn
	})
	if err != nil {
		return l.loaderError(err)
	}
	l.cfg = cfg
	return nil
}

var (
	interpolationFormat = regexp.MustCompile(`(?s)^invalid interpolation format for (\S+): (.*)$`)
	interpolationError  = regexp.MustCompile(`(?s)^error while interpolating (\S+): (.*)$`)
	additionalProperty  = regexp.MustCompile(`^Additional property (\S+) is not allowed$`)
)

// loaderError turns what the loader returned into an *Error with the line
// of the value it is about, reworded for a person.
func (l *loading) loaderError(err error) error {
	var forbidden *loader.ForbiddenPropertiesError
	if errors.As(err, &forbidden) {
		keys := sortedNames(forbidden.Properties)
		return &Error{Filename: l.src.Filename, Msg: "unsupported keys: " + strings.Join(keys, ", ")}
	}
	msg := err.Error()
	if m := interpolationFormat.FindStringSubmatch(msg); m != nil {
		return l.errorAt(splitPath(m[1]), "%s: %s", m[1], describeInterpolation(m[2]))
	}
	if m := interpolationError.FindStringSubmatch(msg); m != nil {
		return l.errorAt(splitPath(m[1]), "%s: %s", m[1], describeCast(m[2]))
	}
	if strings.HasPrefix(msg, "unsupported Compose file version") {
		return l.errorAt(at("version"), "%s: Swarm stacks use version 3 files (or none: remove version:)", msg)
	}
	if field, desc, ok := strings.Cut(msg, " "); ok && l.isFilePath(field) {
		return l.schemaError(field, desc)
	}
	return &Error{Filename: l.src.Filename, Msg: strings.TrimSpace(msg)}
}

var (
	templateQuoted = regexp.MustCompile(`^("(?:[^"\\]|\\.)*"); you may need to escape any \$ with another \$$`)
	notANumber     = regexp.MustCompile(`^strconv\.\w+: parsing ("(?:[^"\\]|\\.)*"): invalid syntax$`)
)

// describeInterpolation rewords "invalid interpolation format" details: the
// template package reports an unset ${A?msg} variable the same way.
func describeInterpolation(detail string) string {
	m := templateQuoted.FindStringSubmatch(detail)
	if m == nil {
		return "invalid interpolation format " + detail
	}
	tmpl, err := strconv.Unquote(m[1])
	if err != nil {
		tmpl = m[1]
	}
	if strings.HasPrefix(tmpl, "required variable ") {
		return tmpl
	}
	return fmt.Sprintf("invalid interpolation format %q; write $$ for a literal $", tmpl)
}

// describeCast rewords a failed cast of an interpolated value.
func describeCast(detail string) string {
	detail = strings.TrimPrefix(detail, "failed to cast to expected type: ")
	if m := notANumber.FindStringSubmatch(detail); m != nil {
		return "the value " + m[1] + " is not a number"
	}
	return detail
}

// isFilePath reports whether field is a path into the file, as schema
// errors start with ("services.web.ports.0", "(root)").
func (l *loading) isFilePath(field string) bool {
	if field == "(root)" {
		return true
	}
	top, _, _ := strings.Cut(field, ".")
	_, ok := l.dict[top]
	return ok
}

// schemaError rewords a schema violation: "services.web.ports.0 Does not
// match format 'ports'" becomes `services.web.ports.0: invalid port "abc"`.
func (l *loading) schemaError(field, desc string) error {
	p := splitPath(field)
	if field == "(root)" {
		p, field = nil, "the file"
	}
	if m := additionalProperty.FindStringSubmatch(desc); m != nil {
		return l.errorAt(append(p, m[1]), "%s: unknown key %q", field, m[1])
	}
	value := l.valueAt(p)
	switch desc {
	case "Does not match format 'ports'":
		return l.errorAt(p, "%s: invalid port %q", field, value)
	case "Does not match format 'duration'":
		return l.errorAt(p, "%s: invalid duration %q (write it like 30s or 1m30s)", field, value)
	}
	desc = strings.Replace(desc, "must be a integer", "must be an integer", 1)
	if value != "" && strings.HasPrefix(desc, "must be") {
		desc = fmt.Sprintf("%s, not %q", desc, value)
	}
	return l.errorAt(p, "%s %s", field, lowerFirst(desc))
}

func splitPath(field string) []string { return strings.Split(field, ".") }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
