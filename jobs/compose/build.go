package compose

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/docker/cli/cli/compose/types"

	"dokploy/jobs/internal/safefile"
)

// checkBuild resolves a service's build: inside the checkout and records
// what to build.
func (l *loading) checkBuild(ctx context.Context, svc *types.ServiceConfig) {
	name := svc.Name
	p := at("services", name, "build")
	if l.src.Dir == "" {
		l.fail(p, "service %q has build: but this stack has no repository to build from; use an image or a git source", name)
		return
	}
	b := svc.Build
	written := b.Context
	if written == "" {
		written = "."
	}
	contextDir, ok := l.buildContext(p, name, written)
	if !ok {
		return
	}
	dockerfile, ok := l.buildDockerfile(ctx, p, name, contextDir, written, b.Dockerfile)
	if !ok {
		return
	}
	network, ok := l.buildNetwork(p, name, b.Network)
	if !ok {
		return
	}
	l.warnBuildIgnored(name, b)
	l.builds[name] = &Build{
		Context:    contextDir,
		Dockerfile: dockerfile,
		Args:       l.buildArgs(b.Args),
		Target:     b.Target,
		Network:    network,
	}
}

// buildContext resolves the context directory relative to the checkout,
// refusing URLs, absolute paths and anything that leads out of it.
func (l *loading) buildContext(p []string, service, written string) (string, bool) {
	if strings.Contains(written, "://") || strings.HasPrefix(written, "git@") {
		l.fail(p, "service %q: build context %q must be a directory of the repository, not a URL", service, written)
		return "", false
	}
	if path.IsAbs(written) || isAbs(written) {
		l.fail(p, "service %q: build context %q is an absolute path; write it relative to the compose file", service, written)
		return "", false
	}
	rel := path.Clean(path.Join(l.fileDir, written))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		l.fail(p, "service %q: build context %q is outside the repository", service, written)
		return "", false
	}
	err := safefile.CheckDir(l.src.Dir, rel)
	switch {
	case err == nil:
		return rel, true
	case errors.Is(err, fs.ErrNotExist):
		l.fail(p, "service %q: build context %q does not exist in the repository", service, written)
	case errors.Is(err, safefile.ErrOutside):
		l.fail(p, "service %q: build context %q is refused: it leads outside the repository (through a symlink or ..)", service, written)
	default:
		l.fail(p, "service %q: build context %q is not a directory of the repository", service, written)
	}
	return "", false
}

// buildDockerfile checks that the Dockerfile exists inside the checkout;
// it is returned relative to the context, as a builder takes it.
func (l *loading) buildDockerfile(ctx context.Context, p []string, service, contextDir, writtenContext, dockerfile string) (string, bool) {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if path.IsAbs(dockerfile) || isAbs(dockerfile) {
		l.fail(p, "service %q: dockerfile %q is an absolute path; write it relative to the build context", service, dockerfile)
		return "", false
	}
	rel := path.Clean(path.Join(contextDir, dockerfile))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		l.fail(p, "service %q: dockerfile %q is outside the repository", service, dockerfile)
		return "", false
	}
	_, err := safefile.ReadFile(ctx, l.src.Dir, rel, safefile.MaxSize)
	switch {
	case err == nil:
		return path.Clean(dockerfile), true
	case ctx.Err() != nil:
		return "", false
	case errors.Is(err, fs.ErrNotExist):
		l.fail(p, "service %q: the Dockerfile %q does not exist in the build context %q", service, dockerfile, writtenContext)
	case errors.Is(err, safefile.ErrOutside):
		l.fail(p, "service %q: the Dockerfile %q is refused: it leads outside the repository (through a symlink or ..)", service, dockerfile)
	case errors.Is(err, safefile.ErrTooLarge):
		l.fail(p, "service %q: the Dockerfile %q is larger than 1 MiB", service, dockerfile)
	default:
		l.fail(p, "service %q: the Dockerfile %q is not a regular file", service, dockerfile)
	}
	return "", false
}

// buildNetwork allows the host network for a build only with the host
// namespaces permission: a build step on it reaches the host's services.
func (l *loading) buildNetwork(p []string, service, network string) (string, bool) {
	switch network {
	case "", "default":
		return "", true
	case hostValue:
		if !l.src.Allow.HostNamespaces {
			l.refuse(append(p, "network"), "service "+quote(service)+": build.network: host",
				"build steps would share the host's network", "host namespaces")
			return "", false
		}
		return hostValue, true
	}
	l.warn("service %q: build.network %q is ignored: builds use the default network", service, network)
	return "", true
}

// warnBuildIgnored names the build options the platform does not pass on.
func (l *loading) warnBuildIgnored(service string, b types.BuildConfig) {
	for _, o := range []struct {
		key string
		set bool
	}{
		{"cache_from", len(b.CacheFrom) > 0},
		{"extra_hosts", len(b.ExtraHosts) > 0},
		{"labels", len(b.Labels) > 0},
	} {
		if o.set {
			l.warn("service %q: build.%s is ignored", service, o.key)
		}
	}
}

// buildArgs keeps the args that have a value; one written without a value
// takes it from the stack's env, like Compose takes it from the shell.
func (l *loading) buildArgs(args types.MappingWithEquals) map[string]string {
	out := map[string]string{}
	for k, v := range args {
		switch {
		case v != nil:
			out[k] = *v
		case l.src.Env != nil:
			if env, ok := l.src.Env[k]; ok {
				out[k] = env
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
