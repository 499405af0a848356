package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"gopkg.in/yaml.v3"

	convert "dokploy/jobs/compose/internal/swarmconvert"
)

const (
	// hashLen is how much of the content's sha256 a secret or config name
	// carries: a changed file gets a new object, since Swarm objects are
	// immutable.
	hashLen = 10
	// maxObjectName is Swarm's limit on secret and config names.
	maxObjectName = 64
	// defaultNetworkDriver is what `docker stack deploy` creates networks
	// with when the file names no driver.
	defaultNetworkDriver = "overlay"
)

// prepare applies what the user did not write but is deployed: image
// overrides, the injected environment, and secret/config paths as written.
func (l *loading) prepare() {
	for i := range l.cfg.Services {
		svc := &l.cfg.Services[i]
		if img, ok := l.src.Images[svc.Name]; ok {
			svc.Image = img
			delete(l.builds, svc.Name)
		}
		if l.src.InjectEnv {
			injectEnv(svc, l.src.Env)
		}
	}
	for name, f := range l.files["secret"] {
		s := l.cfg.Secrets[name]
		s.File = f.rel
		l.cfg.Secrets[name] = s
	}
	for name, f := range l.files["config"] {
		c := l.cfg.Configs[name]
		c.File = f.rel
		l.cfg.Configs[name] = c
	}
}

// injectEnv adds the stack's env to a service; what it sets itself wins.
func injectEnv(svc *types.ServiceConfig, env map[string]string) {
	if svc.Environment == nil {
		svc.Environment = types.MappingWithEquals{}
	}
	for k, v := range env {
		if have, ok := svc.Environment[k]; !ok || have == nil {
			svc.Environment[k] = &v
		}
	}
}

// convert makes the Swarm specs.
func (l *loading) convert() (*Project, error) {
	// Rendered first: convert adds its stack labels to the config's maps.
	rendered, err := render(l.cfg)
	if err != nil {
		return nil, &Error{Filename: l.src.Filename, Msg: fmt.Sprintf("the loaded file could not be written back: %v", err)}
	}
	p := &Project{Stack: l.src.Stack, Rendered: rendered}
	secretNames := map[string]string{}
	for _, name := range sortedNames(l.files["secret"]) {
		spec := l.secretSpec(name, l.cfg.Secrets[name])
		secretNames[name] = spec.Name
		p.Secrets = append(p.Secrets, spec)
	}
	configNames := map[string]string{}
	for _, name := range sortedNames(l.files["config"]) {
		spec := l.configSpec(name, l.cfg.Configs[name])
		configNames[name] = spec.Name
		p.Configs = append(p.Configs, spec)
	}
	p.Networks = l.networks()
	volumes := map[string]bool{}
	for _, svc := range l.cfg.Services {
		s, err := l.service(svc, secretNames, configNames)
		if err != nil {
			return nil, err
		}
		p.Services = append(p.Services, s)
		p.Ports = append(p.Ports, publishedPorts(svc)...)
		for _, m := range s.Spec.TaskTemplate.ContainerSpec.Mounts {
			if m.Type == mount.TypeVolume && m.Source != "" {
				volumes[m.Source] = true
			}
		}
	}
	p.Volumes = sortedNames(volumes)
	return p, nil
}

// objectName is "<stack>_<name>_<hash of content>".
func (l *loading) objectName(name string, data []byte) string {
	sum := sha256.Sum256(data)
	return l.ns.Scope(name) + "_" + hex.EncodeToString(sum[:])[:hashLen]
}

func (l *loading) annotations(name string, data []byte, labels types.Labels) swarm.Annotations {
	return swarm.Annotations{
		Name:   l.objectName(name, data),
		Labels: convert.AddStackLabel(l.ns, maps.Clone(map[string]string(labels))),
	}
}

func (l *loading) secretSpec(name string, s types.SecretConfig) swarm.SecretSpec {
	data := l.files["secret"][name].data
	spec := swarm.SecretSpec{Annotations: l.annotations(name, data, s.Labels), Data: data}
	if s.TemplateDriver != "" {
		spec.Templating = &swarm.Driver{Name: s.TemplateDriver}
	}
	return spec
}

func (l *loading) configSpec(name string, c types.ConfigObjConfig) swarm.ConfigSpec {
	data := l.files["config"][name].data
	spec := swarm.ConfigSpec{Annotations: l.annotations(name, data, c.Labels), Data: data}
	if c.TemplateDriver != "" {
		spec.Templating = &swarm.Driver{Name: c.TemplateDriver}
	}
	return spec
}

// networks converts the networks the services join, as `docker stack
// deploy` does; external ones exist already and are left out.
func (l *loading) networks() map[string]network.CreateOptions {
	used := map[string]struct{}{}
	for _, svc := range l.cfg.Services {
		if len(svc.Networks) == 0 {
			used["default"] = struct{}{}
		}
		for n := range svc.Networks {
			used[n] = struct{}{}
		}
	}
	nets, _ := convert.Networks(l.ns, l.cfg.Networks, used)
	for name, opts := range nets {
		if opts.Driver == "" {
			opts.Driver = defaultNetworkDriver
			nets[name] = opts
		}
	}
	return nets
}

// service converts one service.
func (l *loading) service(svc types.ServiceConfig, secretNames, configNames map[string]string) (Service, error) {
	secrets := make([]*swarm.SecretReference, 0, len(svc.Secrets))
	for _, s := range svc.Secrets {
		f := fileTarget(types.FileReferenceConfig(s))
		secrets = append(secrets, &swarm.SecretReference{
			File:       &swarm.SecretReferenceFileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode},
			SecretName: secretNames[s.Source],
		})
	}
	sort.SliceStable(secrets, func(i, j int) bool { return secrets[i].SecretName < secrets[j].SecretName })
	configs := make([]*swarm.ConfigReference, 0, len(svc.Configs))
	for _, c := range svc.Configs {
		f := fileTarget(types.FileReferenceConfig(c))
		configs = append(configs, &swarm.ConfigReference{
			File:       &swarm.ConfigReferenceFileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode},
			ConfigName: configNames[c.Source],
		})
	}
	sort.SliceStable(configs, func(i, j int) bool { return configs[i].ConfigName < configs[j].ConfigName })
	spec, err := convert.Service(apiVersion, l.ns, svc, l.cfg.Networks, l.cfg.Volumes, secrets, configs)
	if err != nil {
		return Service{}, l.errorAt(at("services", svc.Name), "service %q: %v", svc.Name, err)
	}
	return Service{Name: svc.Name, Spec: spec, Build: l.builds[svc.Name], TargetPorts: targetPorts(svc)}, nil
}

// fileTarget mirrors convert's convertFileObject: the file is named after
// the source unless a target is given, owned by root, mode 0444.
func fileTarget(r types.FileReferenceConfig) swarm.SecretReferenceFileTarget {
	f := swarm.SecretReferenceFileTarget{Name: r.Target, UID: r.UID, GID: r.GID, Mode: 0o444}
	if f.Name == "" {
		f.Name = r.Source
	}
	if f.UID == "" {
		f.UID = "0"
	}
	if f.GID == "" {
		f.GID = "0"
	}
	if r.Mode != nil {
		f.Mode = os.FileMode(*r.Mode)
	}
	return f
}

// publishedPorts lists the ports a service publishes on the nodes.
func publishedPorts(svc types.ServiceConfig) []PublishedPort {
	var out []PublishedPort
	for _, port := range svc.Ports {
		if port.Published == 0 {
			continue
		}
		pp := PublishedPort{Service: svc.Name, Published: port.Published, Target: port.Target,
			Protocol: strings.ToLower(port.Protocol), Mode: port.Mode}
		if pp.Protocol == "" {
			pp.Protocol = "tcp"
		}
		if pp.Mode == "" {
			pp.Mode = "ingress"
		}
		out = append(out, pp)
	}
	return out
}

// maxExpand bounds how many ports an expose: range adds: the ports are
// suggestions for a UI, not a firewall rule.
const maxExpand = 100

// targetPorts are the container ports a service declares, sorted.
func targetPorts(svc types.ServiceConfig) []uint32 {
	set := map[uint32]bool{}
	for _, port := range svc.Ports {
		if port.Target != 0 {
			set[port.Target] = true
		}
	}
	for _, e := range svc.Expose {
		e, _, _ = strings.Cut(e, "/")
		lo, hi, isRange := strings.Cut(e, "-")
		from, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		if err != nil || from == 0 {
			continue
		}
		to := from
		if isRange {
			if to, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 16); err != nil || to < from || to-from >= maxExpand {
				to = from
			}
		}
		for p := from; p <= to; p++ {
			set[uint32(p)] = true
		}
	}
	out := make([]uint32, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// render writes the loaded config back as YAML, as `docker stack config`
// does, so that a user sees exactly what was deployed.
func render(cfg *types.Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
