package docker

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// Port publish modes and protocols accepted in PortSpec.
const (
	PublishHost    = "host"
	PublishIngress = "ingress"
	ProtocolTCP    = "tcp"
	ProtocolUDP    = "udp"
)

// defaultMonitor is how long a new task must stay up before it counts as
// healthy (Swarm's own default monitor period).
const defaultMonitor = 5 * time.Second

// PortSpec publishes a container port on the nodes.
type PortSpec struct {
	Published uint32
	Target    uint32
	Protocol  string // "tcp" (default) or "udp"
	Mode      string // "host" or "ingress"; default host under dnsrr, ingress under vip
}

// HealthCheck overrides the image's HEALTHCHECK. Test uses Docker's form:
// {"CMD", "/bin/probe"}, {"CMD-SHELL", "curl -f …"} or {"NONE"}.
type HealthCheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	// StartInterval is how often it probes during StartPeriod, so a
	// service that is up quickly is seen healthy quickly; 0 = Interval.
	StartInterval time.Duration
	Retries       int
}

// ServiceSpec is everything DeployService needs to run an app.
//
// Image should be a tag unique to the deployment (app:<deployment-id>): Swarm
// only rolls out when the spec changes, so redeploying "app:latest" with new
// content does nothing unless ForceUpdate is set.
type ServiceSpec struct {
	LogDriver       *swarm.Driver     // the tasks' log driver (JSONFileLog); nil: the engine's default
	Name            string            // service name, also the DNS alias on every network
	Image           string            // image reference
	Env             map[string]string // becomes sorted KEY=VALUE; values never logged
	Command         []string          // replaces the image ENTRYPOINT when set
	Args            []string          // replaces the image CMD when set
	Replicas        uint64            // taken literally: 0 means stopped
	MemoryBytes     int64             // limit; 0 = none
	NanoCPUs        int64             // limit; 0 = none
	Labels          map[string]string // on the service and its containers; dokploy.app=Name is added
	Networks        []string          // overlay networks; [DefaultNetwork] when empty
	Ports           []PortSpec
	EndpointMode    string // "vip" or "dnsrr"; Docker.EndpointMode when empty
	StopGracePeriod time.Duration
	HealthCheck     *HealthCheck // nil keeps the image's HEALTHCHECK
	Mounts          []BindMount  // e.g. the read-only health probe binary
	Volumes         []VolumeMount
	StopFirst       bool     // stop the old task before starting the new one (a data volume two engines must never share)
	Constraints     []string // placement, e.g. node.id==… for a service whose volume lives on one node
	MaxPerNode      uint64   // at most this many tasks on one node; 0 = no limit
	ForceUpdate     bool     // roll out new tasks even if nothing changed
	RegistryAuth    *RegistryAuth
	MonitorPeriod   time.Duration // how long new tasks must stay up; 5s when zero
	// OnServing, when set, is called once with the time the first task of
	// the new spec was seen running (healthy, when it has a health check):
	// the new version takes traffic from then on, before the monitor
	// period ends. Not called when the roll-out fails before that.
	OnServing func(at time.Time)
}

// BindMount is a host path mounted into a service's containers.
type BindMount struct {
	Source   string // host path
	Target   string // path inside the container
	ReadOnly bool
}

// VolumeMount is a named volume mounted into a service's containers; the
// engine creates it with Labels on first use.
type VolumeMount struct {
	Name     string
	Target   string
	Labels   map[string]string
	ReadOnly bool
}

func mounts(binds []BindMount, volumes []VolumeMount) []mount.Mount {
	if binds == nil && volumes == nil {
		return nil
	}
	out := make([]mount.Mount, 0, len(binds)+len(volumes))
	for _, m := range binds {
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, v := range volumes {
		out = append(out, mount.Mount{Type: mount.TypeVolume, Source: v.Name, Target: v.Target, ReadOnly: v.ReadOnly,
			VolumeOptions: &mount.VolumeOptions{Labels: v.Labels}})
	}
	return out
}

// ErrServiceFailed is returned (wrapped) when a service's tasks fail to start.
var ErrServiceFailed = errors.New("service failed to start")

// serviceName follows Swarm's rule: a DNS label of at most 63 characters.
var serviceName = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// DeployService creates the service or updates it in place, then waits until
// every desired task of the new spec is running (healthy, if the image has a
// HEALTHCHECK) and has stayed up for MonitorPeriod. Task state changes go to
// log. If tasks fail, it returns ErrServiceFailed with the task's error and
// its last lines of output; an update that fails is rolled back by Swarm.
// Waiting is bounded by ctx (10 minutes when ctx has no deadline).
func (d *Docker) DeployService(ctx context.Context, spec ServiceSpec, log LogFunc) error {
	if err := validateServiceSpec(spec); err != nil {
		return err
	}
	mode := spec.EndpointMode
	if mode == "" {
		mode = d.EndpointMode(ctx)
	}
	endpoint, hostPorts, err := endpointSpec(mode, spec.Ports)
	if err != nil {
		return fmt.Errorf("service %s: %w", spec.Name, err)
	}
	if hostPorts && spec.Replicas > 1 {
		log.printf("Warning: %d replicas with host-mode ports need %d nodes; extra replicas stay pending", spec.Replicas, spec.Replicas)
	}
	auth, err := spec.RegistryAuth.encode()
	if err != nil {
		return err
	}
	want := swarmServiceSpec(spec, endpoint, hostPorts)

	id, err := d.createOrUpdate(ctx, spec, want, auth, log)
	if err != nil {
		return err
	}
	return d.waitConverged(ctx, id, spec, log)
}

func validateServiceSpec(spec ServiceSpec) error {
	if !serviceName.MatchString(spec.Name) {
		return fmt.Errorf("invalid service name %q: use letters, digits and '-', at most 63 characters", spec.Name)
	}
	if err := ValidateImageRef(spec.Image); err != nil {
		return err
	}
	for k := range spec.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("invalid environment variable name %q", k)
		}
	}
	switch spec.EndpointMode {
	case "", EndpointModeVIP, EndpointModeDNSRR:
		return nil
	}
	return fmt.Errorf("invalid endpoint mode %q", spec.EndpointMode)
}

// endpointSpec builds the published ports. Ingress needs the VIP/IPVS
// routing mesh, so it is refused under dnsrr. hostPorts reports whether any
// port is host-mode: then old and new task cannot run side by side on a node.
func endpointSpec(mode string, ports []PortSpec) (*swarm.EndpointSpec, bool, error) {
	spec := &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	defaultPublish := PublishIngress
	if mode == EndpointModeDNSRR {
		spec.Mode = swarm.ResolutionModeDNSRR
		defaultPublish = PublishHost
	}
	hostPorts := false
	for _, p := range ports {
		publish, proto := p.Mode, p.Protocol
		if publish == "" {
			publish = defaultPublish
		}
		if proto == "" {
			proto = ProtocolTCP
		}
		switch {
		case p.Target == 0 || p.Target > 65535 || p.Published > 65535:
			return nil, false, fmt.Errorf("invalid port %d:%d", p.Published, p.Target)
		case proto != ProtocolTCP && proto != ProtocolUDP:
			return nil, false, fmt.Errorf("port %d: protocol must be tcp or udp, not %q", p.Target, proto)
		case publish != PublishHost && publish != PublishIngress:
			return nil, false, fmt.Errorf("port %d: publish mode must be host or ingress, not %q", p.Target, publish)
		case publish == PublishIngress && mode == EndpointModeDNSRR:
			return nil, false, fmt.Errorf("port %d: ingress publishing needs VIP endpoint mode, but this engine uses dnsrr (no IPVS); publish it in host mode", p.Published)
		}
		hostPorts = hostPorts || publish == PublishHost
		spec.Ports = append(spec.Ports, swarm.PortConfig{
			Protocol:      swarm.PortConfigProtocol(proto),
			TargetPort:    p.Target,
			PublishedPort: p.Published,
			PublishMode:   swarm.PortConfigPublishMode(publish),
		})
	}
	return spec, hostPorts, nil
}

func swarmServiceSpec(spec ServiceSpec, endpoint *swarm.EndpointSpec, hostPorts bool) swarm.ServiceSpec {
	labels := map[string]string{LabelApp: spec.Name}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	networks := spec.Networks
	if len(networks) == 0 {
		networks = []string{DefaultNetwork}
	}
	attach := make([]swarm.NetworkAttachmentConfig, 0, len(networks))
	for _, n := range networks {
		attach = append(attach, swarm.NetworkAttachmentConfig{Target: n, Aliases: []string{spec.Name}})
	}
	monitor := spec.MonitorPeriod
	if monitor <= 0 {
		monitor = defaultMonitor
	}
	// Start-first keeps the old task serving until the new one runs; a
	// host-mode port cannot be bound twice on one node, so those stop first.
	order := swarm.UpdateOrderStartFirst
	if hostPorts || spec.StopFirst {
		order = swarm.UpdateOrderStopFirst
	}
	replicas := spec.Replicas
	restartDelay := 5 * time.Second
	var unlimited uint64 // 0 = keep restarting: a crash at night must not leave the app down for good

	out := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:       spec.Image,
				Labels:      labels,
				Command:     spec.Command,
				Args:        spec.Args,
				Env:         envList(spec.Env),
				Healthcheck: healthConfig(spec.HealthCheck),
				Mounts:      mounts(spec.Mounts, spec.Volumes),
			},
			Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{
				NanoCPUs:    spec.NanoCPUs,
				MemoryBytes: spec.MemoryBytes,
			}},
			RestartPolicy: &swarm.RestartPolicy{
				Condition:   swarm.RestartPolicyConditionAny,
				Delay:       &restartDelay,
				MaxAttempts: &unlimited,
			},
			Networks:  attach,
			Placement: placement(spec.Constraints, spec.MaxPerNode),
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig: &swarm.UpdateConfig{
			Parallelism:   1,
			FailureAction: swarm.UpdateFailureActionRollback,
			Monitor:       monitor,
			Order:         order,
		},
		RollbackConfig: &swarm.UpdateConfig{
			Parallelism:   1,
			FailureAction: swarm.UpdateFailureActionPause,
			Monitor:       monitor,
			Order:         order,
		},
		EndpointSpec: endpoint,
	}
	out.TaskTemplate.LogDriver = spec.LogDriver
	if spec.StopGracePeriod > 0 {
		grace := spec.StopGracePeriod
		out.TaskTemplate.ContainerSpec.StopGracePeriod = &grace
	}
	return out
}

func placement(constraints []string, maxPerNode uint64) *swarm.Placement {
	if len(constraints) == 0 && maxPerNode == 0 {
		return nil
	}
	return &swarm.Placement{Constraints: constraints, MaxReplicas: maxPerNode}
}

// envList turns a map into sorted KEY=VALUE pairs: a stable order keeps the
// spec identical between deploys, so Swarm does not roll out for nothing.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func healthConfig(h *HealthCheck) *container.HealthConfig {
	if h == nil {
		return nil
	}
	return &container.HealthConfig{
		Test:          h.Test,
		Interval:      h.Interval,
		Timeout:       h.Timeout,
		StartPeriod:   h.StartPeriod,
		StartInterval: h.StartInterval,
		Retries:       h.Retries,
	}
}

// createOrUpdate creates the service, or updates it keeping its version
// index and ForceUpdate counter. It returns the service ID.
func (d *Docker) createOrUpdate(ctx context.Context, spec ServiceSpec, want swarm.ServiceSpec, auth string, log LogFunc) (string, error) {
	existing, _, err := d.cli.ServiceInspectWithRaw(ctx, spec.Name, swarm.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		log.printf("Creating service %s (%s)", spec.Name, spec.Image)
		resp, err := d.cli.ServiceCreate(ctx, want, swarm.ServiceCreateOptions{EncodedRegistryAuth: auth})
		if err != nil {
			return "", fmt.Errorf("create service %s: %w", spec.Name, err)
		}
		logWarnings(log, resp.Warnings)
		return resp.ID, nil
	}
	if err != nil {
		return "", fmt.Errorf("inspect service %s: %w", spec.Name, err)
	}
	log.printf("Updating service %s (%s)", spec.Name, spec.Image)
	err = d.updateService(ctx, spec.Name, auth, log, func(cur *swarm.ServiceSpec) {
		force := cur.TaskTemplate.ForceUpdate
		if spec.ForceUpdate {
			force++
		}
		*cur = want
		cur.TaskTemplate.ForceUpdate = force
	})
	return existing.ID, err
}

// updateService applies mutate to the current spec and updates the service,
// retrying when another writer bumped the version in between.
func (d *Docker) updateService(ctx context.Context, name, auth string, log LogFunc, mutate func(*swarm.ServiceSpec)) error {
	const attempts = 3
	var err error
	for range attempts {
		var svc swarm.Service
		svc, _, err = d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect service %s: %w", name, err)
		}
		spec := svc.Spec
		mutate(&spec)
		var resp swarm.ServiceUpdateResponse
		resp, err = d.cli.ServiceUpdate(ctx, svc.ID, svc.Version, spec, swarm.ServiceUpdateOptions{EncodedRegistryAuth: auth})
		if err == nil {
			logWarnings(log, resp.Warnings)
			return nil
		}
		if !strings.Contains(err.Error(), "update out of sequence") {
			break
		}
	}
	return fmt.Errorf("update service %s: %w", name, err)
}

func logWarnings(log LogFunc, warnings []string) {
	for _, w := range warnings {
		log.printf("Warning: %s", w)
	}
}

// JSONFileLog is the json-file log driver rotating at maxSize (like 10m)
// keeping maxFile files, so a chatty service cannot fill the disk.
func JSONFileLog(maxSize string, maxFile int) *swarm.Driver {
	return &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": maxSize, "max-file": strconv.Itoa(maxFile)}}
}
