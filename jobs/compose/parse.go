package compose

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/types"
	"gopkg.in/yaml.v3"

	convert "dokploy/jobs/compose/internal/swarmconvert"
)

// loading is the state of one Load.
type loading struct {
	src     Source
	fileDir string // cleaned Source.FileDir, "." for the root
	ns      convert.Namespace

	tree *yaml.Node     // the file as written, for line numbers
	dict map[string]any // the parsed file, rewritten before the loader sees it
	cfg  *types.Config  // what the loader made of dict

	// files are the secret and config files read, by kind ("secret",
	// "config") and name.
	files map[string]map[string]objectFile

	builds map[string]*Build // by service name

	errs     []error
	warnings []string
}

// objectFile is a secret or config file read from the checkout.
type objectFile struct {
	rel  string // relative to Dir, as shown in Rendered
	data []byte
}

// parse reads the YAML. It fails on the first problem: nothing else can be
// checked in a file that does not parse.
func (l *loading) parse() error {
	if len(l.src.File) > MaxFileSize {
		return &Error{Filename: l.src.Filename, Msg: "the file is larger than 1 MiB"}
	}
	if len(bytes.TrimSpace(l.src.File)) == 0 {
		return &Error{Filename: l.src.Filename, Msg: "the file is empty"}
	}
	var tree yaml.Node
	if err := yaml.Unmarshal(l.src.File, &tree); err != nil {
		e := l.yamlError(err)
		if line := syntaxErrorLine(l.src.File); line > 0 {
			e.Line = line
		}
		return e
	}
	l.tree = &tree
	dict, err := parseDict(l.src.File)
	if err != nil {
		return l.yamlError(err)
	}
	l.dict = dict
	raw, ok := dict["services"]
	services, isMap := raw.(map[string]any)
	if ok && raw != nil && !isMap {
		return l.errorAt(at("services"), "services must be a mapping of service names to their definitions")
	}
	if len(services) == 0 {
		return l.errorAt(at("services"), "the file defines no services")
	}
	return nil
}

// parseDict is loader.ParseYAML, made safe for what it does not expect:
// yaml.v3 gives map[any]any for a mapping with a non-string key (`80: x`),
// which the loader's unchecked type assertions would panic on.
func parseDict(file []byte) (dict map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the file could not be read: %v", r)
		}
	}()
	dict, err = loader.ParseYAML(file)
	if err != nil {
		return nil, err
	}
	return stringKeys(dict).(map[string]any), nil
}

// stringKeys turns every mapping into a map[string]any, writing non-string
// keys the way they read.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
		return v
	}
	return v
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlError keeps the line of a YAML syntax error and drops the "yaml: "
// noise around it.
func (l *loading) yamlError(err error) *Error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = strings.TrimSpace(msg)
	e := &Error{Filename: l.src.Filename}
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
		e.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		msg = msg[:m[0]] + msg[m[1]:]
	}
	if msg == "top-level object must be a mapping" {
		msg = "the file must be a mapping with a services: key"
	}
	e.Msg = "invalid YAML: " + strings.TrimSpace(msg)
	return e
}

// syntaxErrorLine finds the line of a syntax error. yaml.v3 reports the
// line where the enclosing block starts, which can be far above the
// mistake; the first prefix of the file that fails to parse ends at it.
// Binary search keeps this to a few parses even for a 1 MiB file.
func syntaxErrorLine(file []byte) int {
	lines := bytes.SplitAfter(file, []byte("\n"))
	fails := func(k int) bool {
		var n yaml.Node
		return yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) != nil
	}
	lo, hi := 0, len(lines) // the first lo lines parse, the first hi do not
	if !fails(hi) {
		return 0
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// workingDir is the directory the loader resolves relative paths from. A
// pasted file has none: the placeholder does not exist, so nothing relative
// can ever be found there.
func (l *loading) workingDir() string {
	if l.src.Dir == "" {
		return "/nonexistent/dokploy-pasted-compose-file"
	}
	return filepath.Join(l.src.Dir, filepath.FromSlash(l.fileDir))
}

func isAbs(p string) bool { return filepath.IsAbs(p) }
