package compose

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/types"
)

// check enforces the rules on the loaded (interpolated) file: checking
// after interpolation means `privileged: ${P}` cannot slip through.
func (l *loading) check(ctx context.Context) {
	sort.Slice(l.cfg.Services, func(i, j int) bool { return l.cfg.Services[i].Name < l.cfg.Services[j].Name })
	l.checkVolumeDefs()
	l.checkNetworkDefs()
	l.checkObjectDefs("secret", secretDefs(l.cfg.Secrets))
	l.checkObjectDefs("config", configDefs(l.cfg.Configs))
	l.builds = map[string]*Build{}
	for i := range l.cfg.Services {
		if ctx.Err() != nil {
			return
		}
		l.checkService(ctx, &l.cfg.Services[i])
	}
}

// refuse records a feature that needs an administrator's permission.
func (l *loading) refuse(p []string, what, why, allow string) {
	l.fail(p, "%s is refused (%s); an administrator can allow %s for this stack in its Settings", what, why, allow)
}

// checkService checks one service.
func (l *loading) checkService(ctx context.Context, svc *types.ServiceConfig) {
	name := svc.Name
	l.checkImage(ctx, svc)
	l.checkMounts(svc)
	allow := l.src.Allow
	if svc.Privileged && !allow.Privileged {
		l.refuse(at("services", name, "privileged"), fmt.Sprintf("service %q: privileged: true", name),
			"a privileged container is root on the host", "privileged services")
	}
	l.checkNamespaces(svc)
	l.checkServiceNetworks(svc)
	l.checkCapabilities(svc)
	if svc.CredentialSpec != (types.CredentialSpecConfig{}) {
		l.fail(at("services", name, "credential_spec"), "service %q: credential_spec is for Windows services, which this platform does not run", name)
	}
	l.checkReferences(name, "secret", secretRefs(svc.Secrets), func(s string) bool { _, ok := l.cfg.Secrets[s]; return ok })
	l.checkReferences(name, "config", configRefs(svc.Configs), func(s string) bool { _, ok := l.cfg.Configs[s]; return ok })
	l.warnEmptyEnv(svc)
}

// warnEmptyEnv names the environment entries written without a value
// ("FOO" or "FOO:") that the stack's env does not fill: the loader left
// them unset, which is rarely what was meant.
func (l *loading) warnEmptyEnv(svc *types.ServiceConfig) {
	for _, k := range sortedNames(svc.Environment) {
		if svc.Environment[k] == nil {
			l.warn("service %q: environment variable %q has no value and the stack's environment does not set it", svc.Name, k)
		}
	}
}

// checkImage requires an image or a build, and validates the image name.
func (l *loading) checkImage(ctx context.Context, svc *types.ServiceConfig) {
	name := svc.Name
	if img, ok := l.src.Images[name]; ok {
		if _, err := reference.ParseAnyReference(img); err != nil {
			l.fail(at("services", name), "service %q: the image %q to deploy is not a valid image reference", name, img)
		}
		return // its build, if any, is skipped
	}
	hasBuild := l.hasKey(name, "build")
	if svc.Image == "" && !hasBuild {
		l.fail(at("services", name), "service %q needs image: (an image to run) or build: (a directory of the repository to build)", name)
		return
	}
	if svc.Image != "" {
		if _, err := reference.ParseAnyReference(svc.Image); err != nil {
			l.fail(at("services", name, "image"), "service %q: image %q is not a valid image reference", name, svc.Image)
		}
	}
	if hasBuild {
		l.checkBuild(ctx, svc)
	}
}

// hasKey reports whether the service sets key in the file as written.
func (l *loading) hasKey(service, key string) bool {
	services, _ := l.dict["services"].(map[string]any)
	svc, _ := services[service].(map[string]any)
	_, ok := svc[key]
	return ok
}

// socketNames are the base names of sockets that control the container
// runtime: binding one is root on the host.
var socketNames = map[string]bool{"docker.sock": true, "containerd.sock": true}

// isRuntimeSocket reports whether a host path is (or, through symlinks,
// leads to) the Docker or containerd socket.
func isRuntimeSocket(src string) bool {
	for _, p := range []string{src, evalSymlinks(src)} {
		p = path.Clean(filepath.ToSlash(p))
		if socketNames[path.Base(p)] || p == "/var/run/docker.sock" || p == "/run/docker.sock" {
			return true
		}
	}
	return false
}

func evalSymlinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// checkMounts refuses host bind mounts unless allowed, and the runtime
// socket unless that too is allowed.
func (l *loading) checkMounts(svc *types.ServiceConfig) {
	name := svc.Name
	for i, v := range svc.Volumes {
		p := at("services", name, "volumes", fmt.Sprint(i))
		switch v.Type {
		case "bind", "npipe":
			l.checkBind(p, name, v.Source)
		case "cluster":
			l.fail(p, "service %q: cluster (CSI) volumes are not supported; use a named volume", name)
		case "volume", "":
			if v.Source != "" {
				if _, ok := l.cfg.Volumes[v.Source]; !ok {
					l.fail(p, "service %q uses the volume %q, which the top-level volumes: does not define", name, v.Source)
				}
			}
		}
	}
}

// checkBind checks one host bind mount.
func (l *loading) checkBind(p []string, service, src string) {
	shown := l.shownPath(src)
	if l.src.Dir == "" && strings.HasPrefix(src, l.workingDir()+"/") {
		l.fail(p, "service %q: the bind mount %q is relative, but this stack has no repository for it to be relative to", service, shown)
		return
	}
	allow := l.src.Allow
	if isRuntimeSocket(src) && !(allow.BindMounts && allow.DockerSocket) {
		l.refuse(p, fmt.Sprintf("service %q: binding the container runtime socket %q", service, shown),
			"it gives full control of the host", "the Docker socket (together with bind mounts)")
		return
	}
	if !allow.BindMounts {
		l.refuse(p, fmt.Sprintf("service %q: the bind mount of the host path %q", service, shown),
			"it gives the service access to the host's files", "bind mounts")
	}
}

// shownPath writes a path inside the compose file's directory relatively,
// as the user wrote it.
func (l *loading) shownPath(src string) string {
	wd := l.workingDir()
	if rel, ok := strings.CutPrefix(src, wd+"/"); ok {
		return "./" + filepath.ToSlash(rel)
	}
	if src == wd {
		return "."
	}
	return src
}

// hostValue is the value that shares a namespace with the host.
const hostValue = "host"

// checkNamespaces refuses sharing the host's namespaces. Swarm ignores
// these keys today; refusing them keeps a file from becoming dangerous the
// day it does not, and keeps the intent visible.
func (l *loading) checkNamespaces(svc *types.ServiceConfig) {
	if l.src.Allow.HostNamespaces {
		return
	}
	for _, ns := range []struct{ key, value string }{
		{"network_mode", svc.NetworkMode},
		{"pid", svc.Pid},
		{"ipc", svc.Ipc},
		{"userns_mode", svc.UserNSMode},
		{"cgroupns_mode", svc.CgroupNSMode},
	} {
		if ns.value == hostValue {
			l.refuse(at("services", svc.Name, ns.key), fmt.Sprintf("service %q: %s: host", svc.Name, ns.key),
				"it shares the host's namespace with the container", "host namespaces")
		}
	}
}

// checkServiceNetworks requires the networks a service joins to be defined.
func (l *loading) checkServiceNetworks(svc *types.ServiceConfig) {
	for _, n := range sortedNames(svc.Networks) {
		if _, ok := l.cfg.Networks[n]; !ok && n != "default" {
			l.fail(at("services", svc.Name, "networks", n), "service %q joins the network %q, which the top-level networks: does not define", svc.Name, n)
		}
	}
}

// unconfined are security_opt values that switch off the confinement of
// the container.
func unconfined(opt string) bool {
	o := strings.ToLower(strings.ReplaceAll(opt, "=", ":"))
	switch o {
	case "seccomp:unconfined", "apparmor:unconfined", "label:disable", "systempaths:unconfined":
		return true
	}
	return false
}

// checkCapabilities refuses added capabilities, devices and unconfined
// security options, which all widen what the container may do to the host.
func (l *loading) checkCapabilities(svc *types.ServiceConfig) {
	if l.src.Allow.Capabilities {
		return
	}
	name := svc.Name
	const allow = "added capabilities and devices"
	if len(svc.CapAdd) > 0 {
		l.refuse(at("services", name, "cap_add"), fmt.Sprintf("service %q: cap_add (%s)", name, strings.Join(svc.CapAdd, ", ")),
			"capabilities let the container act on the host", allow)
	}
	if len(svc.Devices) > 0 {
		l.refuse(at("services", name, "devices"), fmt.Sprintf("service %q: devices (%s)", name, strings.Join(svc.Devices, ", ")),
			"it gives the container the host's devices", allow)
	}
	for i, opt := range svc.SecurityOpt {
		if unconfined(opt) {
			l.refuse(at("services", name, "security_opt", fmt.Sprint(i)), fmt.Sprintf("service %q: security_opt %q", name, opt),
				"it removes the container's confinement", allow)
		}
	}
}

// checkReferences requires the secrets or configs a service uses to be
// defined at the top level.
func (l *loading) checkReferences(service, kind string, sources []string, defined func(string) bool) {
	for i, s := range sources {
		if !defined(s) {
			l.fail(at("services", service, kind+"s", fmt.Sprint(i)), "service %q uses the %s %q, which the top-level %ss: does not define", service, kind, s, kind)
		}
	}
}

func secretRefs(refs []types.ServiceSecretConfig) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Source
	}
	return out
}

func configRefs(refs []types.ServiceConfigObjConfig) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Source
	}
	return out
}
