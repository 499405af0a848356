package compose

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem in the file; Line is 1-based, 0 when unknown.
type Error struct {
	Filename string
	Line     int
	Msg      string
}

// Error reads like "docker-compose.yml line 7: services.web.ports.0: invalid
// port "abc"", the way an editor would point at it.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.Filename, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Filename, e.Msg)
}

// errorAt makes an Error for the value at path (keys and list indexes) of
// the file as written.
func (l *loading) errorAt(p []string, format string, args ...any) *Error {
	return &Error{Filename: l.src.Filename, Line: l.lineOf(p), Msg: fmt.Sprintf(format, args...)}
}

// fail records a problem at path.
func (l *loading) fail(p []string, format string, args ...any) {
	l.errs = append(l.errs, l.errorAt(p, format, args...))
}

// at builds a path; it reads better at call sites than a slice literal.
func at(parts ...string) []string { return parts }

// lineOf is the line of the value at p in the file as written, or of the
// nearest enclosing value that exists (0 when the file has no node tree).
func (l *loading) lineOf(p []string) int {
	if l.tree == nil {
		return 0
	}
	line, _ := locate(l.tree, p, 0)
	return line
}

// valueAt returns the scalar at p as written, for messages ("invalid port
// "abc""); "" when p does not lead to a scalar.
func (l *loading) valueAt(p []string) string {
	if l.tree == nil {
		return ""
	}
	_, n := locate(l.tree, p, 0)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// maxDepth bounds the walk: aliases could otherwise make it long.
const maxDepth = 64

// locate walks the node tree along p. It returns the line of the deepest
// part of p found (the key's line for a mapping entry, the item's for a
// list entry) and the node of p when all of p was found. Keys may contain
// dots (labels like "traefik.http.routers"), while the loader's paths join
// parts with dots, so a mapping tries the longest key first.
func locate(n *yaml.Node, p []string, depth int) (int, *yaml.Node) {
	n = resolve(n)
	if n == nil || depth > maxDepth {
		return 0, nil
	}
	if len(p) == 0 {
		return n.Line, n
	}
	switch n.Kind {
	case yaml.MappingNode:
		return locateKey(n, p, depth)
	case yaml.SequenceNode:
		i, err := strconv.Atoi(p[0])
		if err != nil || i < 0 || i >= len(n.Content) {
			return n.Line, nil // "[]" in an interpolation path: the list itself
		}
		line, found := locate(n.Content[i], p[1:], depth+1)
		if line == 0 {
			line = n.Content[i].Line
		}
		return line, found
	}
	return n.Line, nil
}

func locateKey(n *yaml.Node, p []string, depth int) (int, *yaml.Node) {
	for j := len(p); j >= 1; j-- {
		key, value := lookupKey(n, strings.Join(p[:j], "."), depth)
		if key == nil {
			continue
		}
		if j == len(p) {
			return key.Line, resolve(value)
		}
		line, found := locate(value, p[j:], depth+1)
		if line == 0 {
			line = key.Line
		}
		return line, found
	}
	return n.Line, nil
}

// lookupKey finds key in a mapping, including entries merged in with "<<".
func lookupKey(n *yaml.Node, key string, depth int) (*yaml.Node, *yaml.Node) {
	if depth > maxDepth {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i].Tag != "!!merge" {
			return n.Content[i], n.Content[i+1]
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag != "!!merge" {
			continue
		}
		for _, m := range mergedMaps(n.Content[i+1]) {
			if k, v := lookupKey(m, key, depth+1); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// mergedMaps lists the mappings a "<<" value brings in (one, or a list).
func mergedMaps(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.MappingNode {
		return []*yaml.Node{v}
	}
	var out []*yaml.Node
	if v.Kind == yaml.SequenceNode {
		for _, c := range v.Content {
			if c = resolve(c); c != nil && c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
	}
	return out
}

// resolve steps into documents and follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < maxDepth; i++ {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		default:
			return n
		}
	}
	return n
}
