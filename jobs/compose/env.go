package compose

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/docker/cli/cli/compose/template"
)

// lookup is the only source of ${VAR} values and of environment entries
// written without a value: the stack's env. The control plane's own
// environment holds its secrets and must never leak into a user's stack.
func (l *loading) lookup(key string) (string, bool) {
	v, ok := l.src.Env[key]
	return v, ok
}

// substituteFn is the loader's Substitute, noting unset variables first.
func (l *loading) substituteFn(s string, m template.Mapping) (string, error) {
	l.noteUnset(s)
	return template.Substitute(s, m)
}

var varRef = regexp.MustCompile(`\$(\$|\{[^}]*\}|[_a-zA-Z][_a-zA-Z0-9]*)`)
var varName = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*`)

// noteUnset warns about each variable s uses that the stack's env does not
// set and that has no default (${A:-x}) or required marker (${A?msg}, which
// fails on its own).
func (l *loading) noteUnset(s string) {
	if !strings.Contains(s, "$") {
		return
	}
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		ref := m[1]
		if ref == "$" {
			continue // $$ is a literal $
		}
		ref = strings.TrimSuffix(strings.TrimPrefix(ref, "{"), "}")
		name := varName.FindString(ref)
		if name == "" || ref != name {
			continue // a default or a required marker follows the name
		}
		if _, ok := l.src.Env[name]; !ok {
			l.warn("variable %q is not set; using \"\"", name)
		}
	}
}

// describeTemplateError rewords the template package's errors.
func describeTemplateError(err error) string {
	var invalid *template.InvalidTemplateError
	if errors.As(err, &invalid) {
		return fmt.Sprintf("invalid interpolation format %q; write $$ for a literal $", invalid.Template)
	}
	return err.Error()
}

// envFileRef is one entry of env_file.
type envFileRef struct {
	path     []string // in the compose file, for messages
	file     string
	required bool
}

// mergeEnvFiles reads the service's env_file entries from the checkout and
// merges them into its environment (the service's own entries win, a later
// file wins over an earlier one), then removes env_file: the loader would
// open the paths itself, anywhere on the host.
func (l *loading) mergeEnvFiles(ctx context.Context, name string, svc map[string]any) {
	raw, ok := svc["env_file"]
	if !ok {
		return
	}
	delete(svc, "env_file")
	refs, ok := l.envFileRefs(name, raw)
	if !ok {
		return
	}
	fromFiles := map[string]any{}
	var order []string
	for _, ref := range refs {
		vars, ok := l.readEnvFile(ctx, name, ref)
		if !ok {
			continue
		}
		for _, v := range vars {
			if _, seen := fromFiles[v.key]; !seen {
				order = append(order, v.key)
			}
			fromFiles[v.key] = nil
			if v.value != nil {
				// The loader interpolates environment values; a file's
				// values are literal.
				fromFiles[v.key] = strings.ReplaceAll(*v.value, "$", "$$")
			}
		}
	}
	env, ok := environmentMap(svc["environment"])
	if !ok {
		return // malformed: the schema will say how
	}
	for _, k := range order {
		if _, own := env[k]; !own {
			env[k] = fromFiles[k]
		}
	}
	if len(env) > 0 {
		svc["environment"] = env
	}
}

// envFileRefs lists env_file's entries: a string, a list of strings, or (in
// the Compose Specification) objects with path and required.
func (l *loading) envFileRefs(service string, raw any) ([]envFileRef, bool) {
	base := at("services", service, "env_file")
	if s, ok := raw.(string); ok {
		return []envFileRef{{path: base, file: s, required: true}}, true
	}
	list, ok := raw.([]any)
	if !ok {
		l.fail(base, "service %q: env_file must be a file name or a list of them", service)
		return nil, false
	}
	refs := make([]envFileRef, 0, len(list))
	for i, item := range list {
		p := append(append([]string(nil), base...), fmt.Sprint(i))
		switch item := item.(type) {
		case string:
			refs = append(refs, envFileRef{path: p, file: item, required: true})
		case map[string]any:
			file, _ := item["path"].(string)
			required, isBool := item["required"].(bool)
			if _, set := item["required"]; !set {
				required, isBool = true, true
			}
			if file == "" || !isBool {
				l.fail(p, "service %q: an env_file entry needs path: (a file name) and optionally required: true or false", service)
				return nil, false
			}
			refs = append(refs, envFileRef{path: p, file: file, required: required})
		default:
			l.fail(p, "service %q: an env_file entry must be a file name", service)
			return nil, false
		}
	}
	return refs, true
}

// readEnvFile reads and parses one env_file entry.
func (l *loading) readEnvFile(ctx context.Context, service string, ref envFileRef) ([]envVar, bool) {
	what := fmt.Sprintf("service %q: env_file", service)
	file, ok := l.substitute(ref.path, ref.file)
	if !ok {
		return nil, false
	}
	rel, ok := l.resolvePath(ref.path, what, file)
	if !ok {
		return nil, false
	}
	data, ok := l.readRepoFile(ctx, ref.path, what, file, rel, !ref.required)
	if !ok {
		return nil, false
	}
	vars, err := parseEnvFile(data)
	if err != nil {
		l.fail(ref.path, "%s %q: %v", what, file, err)
		return nil, false
	}
	return vars, true
}

// environmentMap returns a service's environment as a mapping, converting
// the list form ("K=V", or "K" for a value taken from the stack's env).
// It returns false for a form the schema will refuse.
func environmentMap(raw any) (map[string]any, bool) {
	switch raw := raw.(type) {
	case nil:
		return map[string]any{}, true
	case map[string]any:
		return raw, true
	case []any:
		env := make(map[string]any, len(raw))
		for _, item := range raw {
			s, ok := item.(string)
			if !ok {
				return nil, false
			}
			k, v, hasValue := strings.Cut(s, "=")
			if hasValue {
				env[k] = v
			} else {
				env[k] = nil
			}
		}
		return env, true
	}
	return nil, false
}
