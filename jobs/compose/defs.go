package compose

import (
	"strconv"
	"strings"

	"github.com/docker/cli/cli/compose/types"
)

// platformNetwork is the network every service is attached to by the
// platform; a file may name it as external.
const platformNetwork = "dokploy-network"

// ownName reports whether a custom name: keeps an object inside the stack.
// Stack names have no '_', so the prefix "<stack>_" is this stack's alone.
func (l *loading) ownName(name string) bool {
	return name == "" || strings.HasPrefix(name, l.src.Stack+"_")
}

// checkVolumeDefs checks the top-level volumes: a stack may only use
// volumes of its own, and a volume must not be a bind mount in disguise.
func (l *loading) checkVolumeDefs() {
	for _, name := range sortedNames(l.cfg.Volumes) {
		v := l.cfg.Volumes[name]
		if v.External.External {
			l.fail(at("volumes", name), "volume %q is external: a stack may only use its own volumes (remove external: and the stack gets a volume of its own)", name)
			continue
		}
		if !l.ownName(v.Name) {
			l.fail(at("volumes", name, "name"), "volume %q: the name %q is refused: a stack may only use its own volumes, whose names start with %q", name, v.Name, l.src.Stack+"_")
		}
		l.checkVolumeDriver(name, v)
	}
}

// checkVolumeDriver refuses driver options that mount a host path: the
// local driver with "o: bind" or a device, or any option of a volume
// plugin (which may mount whatever its options say).
func (l *loading) checkVolumeDriver(name string, v types.VolumeConfig) {
	host, ok := hostPathOf(v)
	if !ok {
		return
	}
	allow := l.src.Allow
	p := at("volumes", name, "driver_opts")
	what := "volume " + quote(name) + ": driver_opts that mount the host path " + quote(host)
	if host == "" {
		what = "volume " + quote(name) + ": driver_opts of the volume plugin " + quote(v.Driver)
	}
	if host != "" && isRuntimeSocket(host) && !(allow.BindMounts && allow.DockerSocket) {
		l.refuse(p, what, "it gives full control of the host", "the Docker socket (together with bind mounts)")
		return
	}
	if !allow.BindMounts {
		l.refuse(p, what, "it is a bind mount of the host's files", "bind mounts")
	}
}

// hostPathOf reports whether a volume definition reaches the host's files,
// and which path when known.
func hostPathOf(v types.VolumeConfig) (string, bool) {
	if len(v.DriverOpts) == 0 {
		return "", false
	}
	if v.Driver != "" && v.Driver != "local" {
		return "", true
	}
	device := v.DriverOpts["device"]
	for _, o := range strings.Split(v.DriverOpts["o"], ",") {
		if o = strings.TrimSpace(o); o == "bind" || o == "rbind" {
			return device, true
		}
	}
	if device == "" || (v.DriverOpts["type"] == "tmpfs" && device == "tmpfs") {
		return "", false
	}
	return device, true
}

// checkNetworkDefs checks the top-level networks: only dokploy-network may
// be external (and the host network when host namespaces are allowed), and
// a created network must be the stack's own.
func (l *loading) checkNetworkDefs() {
	allow := l.src.Allow
	for _, name := range sortedNames(l.cfg.Networks) {
		n := l.cfg.Networks[name]
		p := at("networks", name)
		if n.External.External {
			switch {
			case n.Name == platformNetwork:
			case n.Name == hostValue && allow.HostNamespaces:
			case n.Name == hostValue:
				l.refuse(p, "network "+quote(name)+": attaching to the host network", "it shares the host's network namespace", "host namespaces")
			default:
				l.fail(p, "network %q is external (%q): a stack may only use its own networks and %s", name, n.Name, platformNetwork)
			}
			continue
		}
		if !l.ownName(n.Name) {
			l.fail(at("networks", name, "name"), "network %q: the name %q is refused: a stack may only use its own networks, whose names start with %q", name, n.Name, l.src.Stack+"_")
		}
		if n.Driver == hostValue && !allow.HostNamespaces {
			l.refuse(at("networks", name, "driver"), "network "+quote(name)+": driver: host", "it shares the host's network namespace", "host namespaces")
		}
	}
}

// checkObjectDefs checks the top-level secrets or configs: each must be a
// file of the repository; external ones could be another stack's or the
// platform's.
func (l *loading) checkObjectDefs(kind string, defs map[string]types.FileObjectConfig) {
	for _, name := range sortedNames(defs) {
		o := defs[name]
		p := at(kind+"s", name)
		switch {
		case o.External.External:
			l.fail(p, "%s %q is external: a stack may only use its own %ss (define it with file: and a file of the repository)", kind, name, kind)
		case o.Driver != "":
			l.fail(at(kind+"s", name, "driver"), "%s %q: %s drivers are not supported (define it with file: and a file of the repository)", kind, name, kind)
		case !l.hasFile(kind, name):
			l.fail(p, "%s %q has no file: (the file of the repository that holds its content)", kind, name)
		case len(l.ns.Scope(name))+1+hashLen > maxObjectName:
			l.fail(p, "%s %q: its Swarm name %q would be longer than %d characters; use a shorter name", kind, name, l.ns.Scope(name)+"_<hash>", maxObjectName)
		case o.Name != "":
			l.warn("%s %q: name: is ignored: the stack names it after its content, like %q", kind, name, l.ns.Scope(name)+"_<hash>")
		}
	}
}

func (l *loading) hasFile(kind, name string) bool {
	_, ok := l.files[kind][name]
	return ok
}

func secretDefs(m map[string]types.SecretConfig) map[string]types.FileObjectConfig {
	out := make(map[string]types.FileObjectConfig, len(m))
	for k, v := range m {
		out[k] = types.FileObjectConfig(v)
	}
	return out
}

func configDefs(m map[string]types.ConfigObjConfig) map[string]types.FileObjectConfig {
	out := make(map[string]types.FileObjectConfig, len(m))
	for k, v := range m {
		out[k] = types.FileObjectConfig(v)
	}
	return out
}

func quote(s string) string { return strconv.Quote(s) }
