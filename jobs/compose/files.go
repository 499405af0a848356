package compose

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/docker/cli/cli/compose/template"

	"dokploy/jobs/internal/safefile"
)

// readFiles reads, confined to the checkout, every file the loader or
// convert would otherwise os.Open wherever the file points: env_file
// entries (merged into environment here) and secret/config files.
func (l *loading) readFiles(ctx context.Context) {
	services, _ := l.dict["services"].(map[string]any)
	for _, name := range sortedNames(services) {
		if ctx.Err() != nil {
			return
		}
		if svc, ok := services[name].(map[string]any); ok {
			l.mergeEnvFiles(ctx, name, svc)
		}
	}
	l.files = map[string]map[string]objectFile{}
	for _, kind := range []string{"secret", "config"} {
		l.readObjectFiles(ctx, kind)
	}
}

// resolvePath turns a path written in the file (relative to the compose
// file's directory) into one relative to the checkout, refusing what is
// absolute or leads out of it. what names the entry for messages.
func (l *loading) resolvePath(p []string, what, written string) (string, bool) {
	if l.src.Dir == "" {
		l.fail(p, "%s reads the file %q, but this stack has no repository to read it from; use a git source, or put the values in the file or the stack's environment", what, written)
		return "", false
	}
	if written == "" {
		l.fail(p, "%s: the file path is empty", what)
		return "", false
	}
	if strings.HasPrefix(written, "~") {
		l.fail(p, "%s: the file %q is in a home directory; only files of the repository can be read, written relative to the compose file", what, written)
		return "", false
	}
	if path.IsAbs(written) || isAbs(written) {
		l.fail(p, "%s: the file %q is an absolute path; only files of the repository can be read, written relative to the compose file", what, written)
		return "", false
	}
	rel := path.Clean(path.Join(l.fileDir, written))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		l.fail(p, "%s: the file %q is outside the repository", what, written)
		return "", false
	}
	return rel, true
}

// readRepoFile reads rel from the checkout with safefile, describing a
// failure for a person. A missing optional file is no failure.
func (l *loading) readRepoFile(ctx context.Context, p []string, what, written, rel string, optional bool) ([]byte, bool) {
	data, err := safefile.ReadFile(ctx, l.src.Dir, rel, safefile.MaxSize)
	switch {
	case err == nil:
		return data, true
	case ctx.Err() != nil:
		return nil, false
	case optional && errors.Is(err, fs.ErrNotExist):
		return nil, false
	case errors.Is(err, fs.ErrNotExist):
		l.fail(p, "%s: the file %q does not exist in the repository", what, written)
	case errors.Is(err, safefile.ErrOutside):
		l.fail(p, "%s: the file %q is refused: it leads outside the repository (through a symlink or ..)", what, written)
	case errors.Is(err, safefile.ErrNotRegular):
		l.fail(p, "%s: %q is not a regular file", what, written)
	case errors.Is(err, safefile.ErrTooLarge):
		l.fail(p, "%s: the file %q is larger than 1 MiB", what, written)
	default:
		l.fail(p, "%s: cannot read %q: %v", what, written, err)
	}
	return nil, false
}

// substitute interpolates a path written in the file the way the loader
// would interpolate it, since these are read before the loader runs.
func (l *loading) substitute(p []string, s string) (string, bool) {
	l.noteUnset(s)
	out, err := template.Substitute(s, l.lookup)
	if err != nil {
		l.fail(p, "%s: %s", strings.Join(p, "."), describeTemplateError(err))
		return "", false
	}
	return out, true
}

// readObjectFiles reads the file: of each top-level secret or config and
// takes file: out of the dict, so that nothing after this reads it again.
func (l *loading) readObjectFiles(ctx context.Context, kind string) {
	section, _ := l.dict[kind+"s"].(map[string]any)
	l.files[kind] = map[string]objectFile{}
	for _, name := range sortedNames(section) {
		if ctx.Err() != nil {
			return
		}
		def, _ := section[name].(map[string]any)
		written, ok := def["file"].(string)
		if !ok {
			continue
		}
		p := at(kind+"s", name, "file")
		what := fmt.Sprintf("%s %q", kind, name)
		if written, ok = l.substitute(p, written); !ok {
			continue
		}
		rel, ok := l.resolvePath(p, what, written)
		if !ok {
			continue
		}
		data, ok := l.readRepoFile(ctx, p, what, written, rel, false)
		if !ok {
			continue
		}
		l.files[kind][name] = objectFile{rel: rel, data: data}
		delete(def, "file")
	}
}
