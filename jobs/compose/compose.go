// Package compose loads a user's Docker Compose file for deployment as a
// Docker Swarm stack. It uses the loader behind `docker stack deploy`
// (github.com/docker/cli/cli/compose) but never lets it touch the host: the
// file is hostile input, written by anyone who can push to a repository or
// paste into the UI, and nothing in it may give root on the host or read a
// host file. So Load
//
//   - interpolates ${VAR} only from the stack's own environment,
//   - reads env_file and secret/config files itself, confined to the
//     checkout (the loader and convert would os.Open any path),
//   - refuses what could escape a container (bind mounts, privileged, host
//     namespaces, added capabilities, ...) unless an administrator allowed it,
//   - refuses external volumes, secrets and configs, which could reach
//     another stack's or the platform's data,
//
// and converts the result to Swarm API specs for the caller to create.
package compose

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	convert "dokploy/jobs/compose/internal/swarmconvert"
)

// MaxFileSize bounds the compose file: real ones are a few KiB, a bigger
// one is an attack or a mistake.
const MaxFileSize = 1 << 20

// Source is what a deploy loads.
type Source struct {
	Stack     string            // Swarm stack name (namespace): a DNS label, lowercase a-z0-9-, max 63
	File      []byte            // the compose YAML as the user wrote it
	Filename  string            // for messages, e.g. "docker-compose.yml" (default "compose file")
	Dir       string            // absolute path of the git checkout; "" for a file pasted in the UI
	FileDir   string            // directory of the compose file inside Dir, slash-separated, relative ("" or "." = root)
	Env       map[string]string // the stack's env: the only source of ${VAR} values
	InjectEnv bool              // also add every Env entry to every service's environment (a key the service sets itself wins)
	Allow     Permissions       // what an administrator allowed for this stack
	Images    map[string]string // optional: service name → image to use instead of building/declared image (rollback)
}

// Permissions are the dangerous features an administrator allowed for one
// stack. Each of them can give the stack's author root on the host.
type Permissions struct {
	BindMounts     bool // host path bind mounts (and local-driver volumes with driver_opts that bind a host path)
	DockerSocket   bool // binding /var/run/docker.sock, /run/docker.sock or any docker.sock/containerd.sock (needs BindMounts too)
	Privileged     bool // privileged: true
	HostNamespaces bool // network_mode/pid/ipc/userns_mode "host", or attaching to the external "host" network
	Capabilities   bool // cap_add (and devices, security_opt that disable confinement)
}

// Project is a loaded, validated and converted compose file.
type Project struct {
	Stack    string
	Services []Service                        // sorted by Name
	Networks map[string]network.CreateOptions // scoped names ("<stack>_default", ...); external networks are not included
	Secrets  []swarm.SecretSpec               // file-based secrets, Annotations.Name = "<stack>_<name>_<hash>"
	Configs  []swarm.ConfigSpec               // same rule for configs
	Volumes  []string                         // named-volume names the stack uses ("<stack>_<vol>"), sorted
	Ports    []PublishedPort                  // every published port
	Warnings []string                         // human sentences
	Rendered []byte                           // the interpolated, normalised file as it will be deployed
}

// Service is one converted compose service.
type Service struct {
	Name        string            // compose service name (short)
	Spec        swarm.ServiceSpec // scoped name "<stack>_<name>"; secret/config references carry names, not IDs
	Build       *Build            // non-nil when the service has build: and no Images override
	TargetPorts []uint32          // container ports it declares (ports: targets and expose:), sorted
}

// Build is what to build for a service, confined to the checkout.
type Build struct {
	Context    string            // relative to Source.Dir, slash-separated, cleaned ("." for the root); inside Dir
	Dockerfile string            // relative to Context (default "Dockerfile")
	Args       map[string]string // build args (interpolated)
	Target     string
	Network    string // "host" when the file asks for it and HostNamespaces is allowed, else ""
}

// PublishedPort is a port a service publishes on the nodes.
type PublishedPort struct {
	Service   string
	Published uint32
	Target    uint32
	Protocol  string // tcp|udp|sctp
	Mode      string // ingress|host
}

// apiVersion is the Engine API version convert.Service targets: any recent
// one puts networks in TaskTemplate, which is what service updates need.
const apiVersion = "1.47"

// Load parses, validates and converts src. A problem in the file is an
// *Error, or several joined with errors.Join; a cancelled ctx returns
// ctx.Err().
func Load(ctx context.Context, src Source) (*Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := newLoad(src)
	if err != nil {
		return nil, err
	}
	return l.run(ctx)
}

// SetImage sets the image of a built service, once it is built and pushed.
func SetImage(p *Project, service, image string) {
	for i := range p.Services {
		s := &p.Services[i]
		if s.Name != service {
			continue
		}
		if s.Spec.TaskTemplate.ContainerSpec == nil {
			s.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
		}
		s.Spec.TaskTemplate.ContainerSpec.Image = image
		if s.Spec.Labels == nil {
			s.Spec.Labels = map[string]string{}
		}
		s.Spec.Labels[convert.LabelImage] = image
	}
}

// newLoad checks the parts of src that are the caller's, not the file's.
func newLoad(src Source) (*loading, error) {
	if err := ValidateStackName(src.Stack); err != nil {
		return nil, err
	}
	if src.Filename == "" {
		src.Filename = "compose file"
	}
	fileDir := path.Clean("/" + src.FileDir)[1:]
	if fileDir == "" {
		fileDir = "."
	}
	if src.FileDir != "" && path.Clean(src.FileDir) != fileDir {
		return nil, fmt.Errorf("compose file directory %q must be a relative path inside the repository", src.FileDir)
	}
	if src.Dir != "" && !isAbs(src.Dir) {
		return nil, fmt.Errorf("checkout directory %q must be absolute", src.Dir)
	}
	return &loading{src: src, fileDir: fileDir, ns: convert.NewNamespace(src.Stack)}, nil
}

// run is Load's pipeline. Problems of one stage are collected and returned
// together, so a user sees every refused feature at once; a later stage only
// runs on a file the earlier ones accepted.
func (l *loading) run(ctx context.Context) (*Project, error) {
	if err := l.parse(); err != nil {
		return nil, err
	}
	l.precheck()
	if err := l.failed(); err != nil {
		return nil, err
	}
	l.readFiles(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.failed(); err != nil {
		return nil, err
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	l.check(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.failed(); err != nil {
		return nil, err
	}
	l.prepare()
	p, err := l.convert()
	if err != nil {
		return nil, err
	}
	p.Warnings = l.warnings
	return p, nil
}

// failed returns the collected problems, if any.
func (l *loading) failed() error {
	if len(l.errs) == 0 {
		return nil
	}
	// In the order of the file, as a person reads it.
	sort.SliceStable(l.errs, func(i, j int) bool { return lineOfErr(l.errs[i]) < lineOfErr(l.errs[j]) })
	return errors.Join(l.errs...)
}

func lineOfErr(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// warn records a warning once.
func (l *loading) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	for _, have := range l.warnings {
		if have == w {
			return
		}
	}
	l.warnings = append(l.warnings, w)
}

// sortedNames returns the keys of m, sorted, so that messages come in a
// stable order.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
