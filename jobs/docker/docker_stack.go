package docker

// Compose stacks on Swarm: what `docker stack deploy` does, through the SDK,
// plus the waiting, pruning and removal the CLI leaves to the user.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
)

// LabelStack marks every object of a compose stack (services, networks,
// secrets, configs, built images).
const LabelStack = "dokploy.stack"

// StackNamespaceLabel is the label docker stack deploy (and docker/cli's
// convert package) puts on stack objects.
const StackNamespaceLabel = "com.docker.stack.namespace"

// stackKind is LabelKind on the services of a stack.
const stackKind = "compose"

const (
	// stackParallelism bounds how many services are waited on (or removed)
	// at once, so a large stack does not flood the engine with polls.
	stackParallelism = 4
	// stackObjectWait bounds the retries of removing a network or volume
	// whose containers Swarm is still taking down.
	stackObjectWait = 30 * time.Second
)

// StackSpec is a compose file converted to Swarm objects (what docker/cli's
// convert package produces), ready for DeployStack.
type StackSpec struct {
	Name         string                           // stack name, a DNS label
	Networks     map[string]network.CreateOptions // scoped names (<stack>_default, ...) → options; created when missing
	Secrets      []swarm.SecretSpec               // names are content-hashed by the caller: created when missing, never updated
	Configs      []swarm.ConfigSpec               // same
	Services     []swarm.ServiceSpec              // scoped names (<stack>_<svc>); secret/config references by name
	RegistryAuth *RegistryAuth                    // optional, for pulling private images
	ForceUpdate  bool                             // roll out new tasks even when a spec did not change (redeploy/restart)
	Labels       map[string]string                // extra labels for every service (e.g. dokploy.deployment=<id>)
	LogDriver    *swarm.Driver                    // for services whose file sets no logging
}

// StackServiceState is the live state of one service of a stack.
type StackServiceState struct {
	Name      string // scoped, e.g. shop_web
	Service   string // short, e.g. web
	Image     string // the spec's image without digest
	Mode      string // "replicated" or "global"
	Desired   uint64
	Running   uint64   // tasks in state running
	Exiting   uint64   // tasks told to shut down whose container still runs
	Health    string   // "healthy", "unhealthy", "starting", or "" without health check
	Ports     []string // e.g. "8080→80/tcp (host)"
	LastError string   // the newest failed/rejected task's error, "" when none
	UpdatedAt time.Time
}

// stackName is a DNS label without underscore: the underscore separates
// the stack from the service in scoped names, so it must stay unambiguous.
var stackName = serviceName

// DeployStack creates or updates every object of the stack, then waits until
// every service converged (as DeployService does for one), logging task
// state changes prefixed with the short service name. Services of the stack
// that are no longer in spec are removed first; secrets and configs of the
// stack no longer referenced by any of its services, and its networks no
// longer in spec, are removed once the update succeeded (a failed update
// may have rolled back to them).
func (d *Docker) DeployStack(ctx context.Context, spec StackSpec, log LogFunc) error {
	if err := validateStackSpec(spec); err != nil {
		return err
	}
	log = serialized(log)
	auth, err := spec.RegistryAuth.encode()
	if err != nil {
		return err
	}
	if err := d.ensureStackNetworks(ctx, spec.Name, spec.Networks, log); err != nil {
		return err
	}
	if err := d.ensureStackSecrets(ctx, spec.Name, spec.Secrets, log); err != nil {
		return err
	}
	if err := d.ensureStackConfigs(ctx, spec.Name, spec.Configs, log); err != nil {
		return err
	}
	wants, err := d.stackServiceSpecs(ctx, spec, log)
	if err != nil {
		return err
	}
	if err := d.pruneStackServices(ctx, spec.Name, wants, log); err != nil {
		return err
	}
	for _, want := range wants {
		if err := d.applyStackService(ctx, want, spec.ForceUpdate, auth, log); err != nil {
			return err
		}
	}
	names := make([]string, len(wants))
	for i, w := range wants {
		names[i] = w.Name
	}
	if err := d.waitStackServices(ctx, spec.Name, names, log); err != nil {
		return err
	}
	d.pruneStackObjects(ctx, spec, log)
	log.printf("Stack %s is running (%d services)", spec.Name, len(wants))
	return nil
}

func validateStackSpec(spec StackSpec) error {
	if err := validateStackName(spec.Name); err != nil {
		return err
	}
	if len(spec.Services) == 0 {
		return fmt.Errorf("stack %s has no services: the compose file must define at least one", spec.Name)
	}
	seen := map[string]bool{}
	for _, s := range spec.Services {
		if err := validateStackService(spec.Name, s); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("service %s appears twice in stack %s", s.Name, spec.Name)
		}
		seen[s.Name] = true
	}
	for name := range spec.Networks {
		if name == "" {
			return fmt.Errorf("stack %s: a network has no name", spec.Name)
		}
	}
	for _, s := range spec.Secrets {
		if s.Name == "" {
			return fmt.Errorf("stack %s: a secret has no name", spec.Name)
		}
	}
	for _, c := range spec.Configs {
		if c.Name == "" {
			return fmt.Errorf("stack %s: a config has no name", spec.Name)
		}
	}
	return nil
}

func validateStackName(name string) error {
	if !stackName.MatchString(name) {
		return fmt.Errorf("invalid stack name %q: use letters, digits and '-' (a DNS label of at most 63 characters)", name)
	}
	return nil
}

// validateStackService checks the scoped name Swarm will also use as DNS
// name, and what the service runs.
func validateStackService(stack string, s swarm.ServiceSpec) error {
	short, ok := strings.CutPrefix(s.Name, stack+"_")
	if !ok {
		return fmt.Errorf("service %q is not part of stack %s: name it %s_<service>", s.Name, stack, stack)
	}
	if !serviceName.MatchString(short) || len(s.Name) > 63 {
		return fmt.Errorf("invalid service name %q: after %s_ use letters, digits and '-', and keep the whole name at most 63 characters", s.Name, stack)
	}
	if s.TaskTemplate.ContainerSpec == nil {
		return fmt.Errorf("service %s has no container (image) to run", short)
	}
	if err := ValidateImageRef(s.TaskTemplate.ContainerSpec.Image); err != nil {
		return fmt.Errorf("service %s: %w", short, err)
	}
	if s.Mode.ReplicatedJob != nil || s.Mode.GlobalJob != nil {
		return fmt.Errorf("service %s: job modes are not supported in stacks; use mode replicated or global", short)
	}
	return nil
}

// shortName is the compose service name inside the stack.
func shortName(stack, scoped string) string {
	return strings.TrimPrefix(scoped, stack+"_")
}

// stackLabels merges base, the caller's extra labels and the stack's own;
// the stack's win, since removal and listing find objects by them.
func stackLabels(stack string, base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra)+2)
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	out[LabelStack] = stack
	out[StackNamespaceLabel] = stack
	return out
}

// ensureStackNetworks creates the stack's networks that do not exist yet.
// Existing ones are left as they are: changing a network means recreating
// it, which would cut every container off.
func (d *Docker) ensureStackNetworks(ctx context.Context, stack string, nets map[string]network.CreateOptions, log LogFunc) error {
	names := make([]string, 0, len(nets))
	for name := range nets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		exists, err := d.networkExists(ctx, name)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		opts := nets[name]
		if opts.Driver == "" {
			opts.Driver = "overlay"
		}
		opts.Attachable = true // so one-off containers (and Traefik) can join it
		opts.Labels = stackLabels(stack, opts.Labels, nil)
		log.printf("Creating network %s", name)
		if _, err := d.cli.NetworkCreate(ctx, name, opts); err != nil {
			return fmt.Errorf("create network %s: %w", name, err)
		}
	}
	return nil
}

// networkExists looks the name up exactly: the engine's name filter (and
// NetworkInspect) also match other networks by prefix or ID.
func (d *Docker) networkExists(ctx context.Context, name string) (bool, error) {
	list, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return false, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range list {
		if n.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// ensureStackSecrets creates the secrets that are missing. Names carry a
// hash of the content, so an existing name already holds that content; and
// Swarm secrets cannot be updated anyway.
func (d *Docker) ensureStackSecrets(ctx context.Context, stack string, specs []swarm.SecretSpec, log LogFunc) error {
	for _, s := range specs {
		_, found, err := d.secretByName(ctx, s.Name)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		s.Labels = stackLabels(stack, s.Labels, nil)
		log.printf("Creating secret %s", s.Name)
		if _, err := d.cli.SecretCreate(ctx, s); err != nil && !cerrdefs.IsConflict(err) {
			return fmt.Errorf("create secret %s: %w", s.Name, err)
		}
	}
	return nil
}

// ensureStackConfigs is ensureStackSecrets for configs.
func (d *Docker) ensureStackConfigs(ctx context.Context, stack string, specs []swarm.ConfigSpec, log LogFunc) error {
	for _, c := range specs {
		_, found, err := d.configByName(ctx, c.Name)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		c.Labels = stackLabels(stack, c.Labels, nil)
		log.printf("Creating config %s", c.Name)
		if _, err := d.cli.ConfigCreate(ctx, c); err != nil && !cerrdefs.IsConflict(err) {
			return fmt.Errorf("create config %s: %w", c.Name, err)
		}
	}
	return nil
}

// secretByName finds a secret by exact name (inspect would also accept an
// ID prefix).
func (d *Docker) secretByName(ctx context.Context, name string) (swarm.Secret, bool, error) {
	list, err := d.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return swarm.Secret{}, false, fmt.Errorf("list secrets: %w", err)
	}
	for _, s := range list {
		if s.Spec.Name == name {
			return s, true, nil
		}
	}
	return swarm.Secret{}, false, nil
}

func (d *Docker) configByName(ctx context.Context, name string) (swarm.Config, bool, error) {
	list, err := d.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return swarm.Config{}, false, fmt.Errorf("list configs: %w", err)
	}
	for _, c := range list {
		if c.Spec.Name == name {
			return c, true, nil
		}
	}
	return swarm.Config{}, false, nil
}

// stackServiceSpecs turns the caller's specs into the ones to send: labels,
// networks, endpoint, defaults and resolved secret and config IDs.
func (d *Docker) stackServiceSpecs(ctx context.Context, spec StackSpec, log LogFunc) ([]swarm.ServiceSpec, error) {
	mode := d.EndpointMode(ctx)
	secrets, configs := map[string]string{}, map[string]string{}
	out := make([]swarm.ServiceSpec, 0, len(spec.Services))
	for _, in := range spec.Services {
		short := shortName(spec.Name, in.Name)
		want, err := stackServiceSpec(spec.Name, spec.Labels, in, mode)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", short, err)
		}
		if want.TaskTemplate.LogDriver == nil && spec.LogDriver != nil {
			drv := *spec.LogDriver
			want.TaskTemplate.LogDriver = &drv
		}
		if stackSwitchedPorts(in, want) {
			log.printf("%s: ports published in ingress mode are published in host mode: this engine has no IPVS, so no routing mesh (dnsrr)", short)
		}
		if hostPortCount(want) > 0 && replicas(want) > 1 {
			log.printf("%s: Warning: %d replicas with host-mode ports need %d nodes; extra replicas stay pending", short, replicas(want), replicas(want))
		}
		if err := d.resolveReferences(ctx, &want, secrets, configs); err != nil {
			return nil, fmt.Errorf("service %s: %w", short, err)
		}
		out = append(out, want)
	}
	return out, nil
}

// stackServiceSpec is the engine-free part of stackServiceSpecs. It works
// on a deep copy so the caller's spec (and its maps) stay untouched.
func stackServiceSpec(stack string, extra map[string]string, in swarm.ServiceSpec, defaultMode string) (swarm.ServiceSpec, error) {
	out, err := copyServiceSpec(in)
	if err != nil {
		return out, err
	}
	out.Labels = stackLabels(stack, out.Labels, extra)
	out.Labels[LabelKind] = stackKind
	cs := out.TaskTemplate.ContainerSpec
	cs.Labels = stackLabels(stack, cs.Labels, extra)
	cs.Labels[LabelKind] = stackKind
	out.TaskTemplate.Networks = withDefaultNetwork(out.TaskTemplate.Networks)
	out.EndpointSpec = stackEndpoint(out.EndpointSpec, defaultMode)
	stackDefaults(&out)
	return out, nil
}

// copyServiceSpec deep-copies through JSON, the form the spec travels in
// to the engine anyway.
func copyServiceSpec(in swarm.ServiceSpec) (swarm.ServiceSpec, error) {
	var out swarm.ServiceSpec
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		return out, fmt.Errorf("copy service spec: %w", err)
	}
	return out, nil
}

// withDefaultNetwork attaches DefaultNetwork, where Traefik reaches the
// service by its scoped name, so no alias is added there.
func withDefaultNetwork(nets []swarm.NetworkAttachmentConfig) []swarm.NetworkAttachmentConfig {
	for _, n := range nets {
		if n.Target == DefaultNetwork {
			return nets
		}
	}
	return append(nets, swarm.NetworkAttachmentConfig{Target: DefaultNetwork})
}

// stackEndpoint fills the endpoint mode the compose file left open. Under
// dnsrr, ingress publishing is impossible (it needs the VIP mesh), so such
// ports are published on the node running the task instead.
func stackEndpoint(in *swarm.EndpointSpec, defaultMode string) *swarm.EndpointSpec {
	out := in
	if out == nil {
		out = &swarm.EndpointSpec{}
	}
	if out.Mode == "" {
		out.Mode = swarm.ResolutionMode(defaultMode)
	}
	if out.Mode != swarm.ResolutionModeDNSRR {
		return out
	}
	for i := range out.Ports {
		if out.Ports[i].PublishMode == "" || out.Ports[i].PublishMode == swarm.PortConfigPublishModeIngress {
			out.Ports[i].PublishMode = swarm.PortConfigPublishModeHost
		}
	}
	return out
}

// stackSwitchedPorts reports whether stackEndpoint turned an ingress port
// of in into a host port in out.
func stackSwitchedPorts(in, out swarm.ServiceSpec) bool {
	if in.EndpointSpec == nil || out.EndpointSpec == nil {
		return false
	}
	for i, p := range in.EndpointSpec.Ports {
		if p.PublishMode != swarm.PortConfigPublishModeHost && out.EndpointSpec.Ports[i].PublishMode == swarm.PortConfigPublishModeHost {
			return true
		}
	}
	return false
}

func hostPortCount(s swarm.ServiceSpec) int {
	n := 0
	if s.EndpointSpec != nil {
		for _, p := range s.EndpointSpec.Ports {
			if p.PublishMode == swarm.PortConfigPublishModeHost {
				n++
			}
		}
	}
	return n
}

// replicas is the replicated count (0 for global services).
func replicas(s swarm.ServiceSpec) uint64 {
	if r := s.Mode.Replicated; r != nil && r.Replicas != nil {
		return *r.Replicas
	}
	return 0
}

// stackDefaults gives what the compose file left out the same rollout and
// restart behaviour as a single-app deploy (see swarmServiceSpec).
func stackDefaults(s *swarm.ServiceSpec) {
	if s.Mode.Replicated == nil && s.Mode.Global == nil {
		one := uint64(1)
		s.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	}
	if r := s.Mode.Replicated; r != nil && r.Replicas == nil {
		one := uint64(1)
		r.Replicas = &one
	}
	// A host-mode port cannot be bound twice on one node, so those stop first.
	order := swarm.UpdateOrderStartFirst
	if hostPortCount(*s) > 0 {
		order = swarm.UpdateOrderStopFirst
	}
	if s.UpdateConfig == nil {
		s.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionRollback, Monitor: defaultMonitor, Order: order}
	}
	if s.RollbackConfig == nil {
		s.RollbackConfig = &swarm.UpdateConfig{Parallelism: 1, FailureAction: swarm.UpdateFailureActionPause, Monitor: defaultMonitor, Order: order}
	}
	if s.TaskTemplate.RestartPolicy == nil {
		delay := 5 * time.Second
		s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay}
	}
}

// resolveReferences fills the IDs of the secrets and configs the service
// names; Swarm needs both name and ID. ids caches lookups across services.
func (d *Docker) resolveReferences(ctx context.Context, s *swarm.ServiceSpec, secretIDs, configIDs map[string]string) error {
	cs := s.TaskTemplate.ContainerSpec
	for _, ref := range cs.Secrets {
		if ref.SecretID != "" {
			continue
		}
		if id, ok := secretIDs[ref.SecretName]; ok {
			ref.SecretID = id
			continue
		}
		sec, found, err := d.secretByName(ctx, ref.SecretName)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("secret %s not found: declare it in the compose file, or create it (docker secret create) if it is external", ref.SecretName)
		}
		secretIDs[ref.SecretName], ref.SecretID = sec.ID, sec.ID
	}
	for _, ref := range cs.Configs {
		if ref.ConfigID != "" {
			continue
		}
		if id, ok := configIDs[ref.ConfigName]; ok {
			ref.ConfigID = id
			continue
		}
		cfg, found, err := d.configByName(ctx, ref.ConfigName)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("config %s not found: declare it in the compose file, or create it (docker config create) if it is external", ref.ConfigName)
		}
		configIDs[ref.ConfigName], ref.ConfigID = cfg.ID, cfg.ID
	}
	return nil
}

// applyStackService creates the service or updates it in place, keeping
// its ForceUpdate counter so an unchanged service is not restarted.
func (d *Docker) applyStackService(ctx context.Context, want swarm.ServiceSpec, force bool, auth string, log LogFunc) error {
	image := want.TaskTemplate.ContainerSpec.Image
	_, _, err := d.cli.ServiceInspectWithRaw(ctx, want.Name, swarm.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		log.printf("Creating service %s (%s)", want.Name, image)
		resp, err := d.cli.ServiceCreate(ctx, want, swarm.ServiceCreateOptions{EncodedRegistryAuth: auth})
		if err != nil {
			return fmt.Errorf("create service %s: %w", want.Name, err)
		}
		logWarnings(log, resp.Warnings)
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect service %s: %w", want.Name, err)
	}
	log.printf("Updating service %s (%s)", want.Name, image)
	return d.updateService(ctx, want.Name, auth, log, func(cur *swarm.ServiceSpec) {
		counter := cur.TaskTemplate.ForceUpdate
		if force {
			counter++
		}
		*cur = want
		cur.TaskTemplate.ForceUpdate = counter
	})
}

// pruneStackServices removes the services of the stack that are not in
// wants, before the others update: their host ports are then free for the
// new spec.
func (d *Docker) pruneStackServices(ctx context.Context, stack string, wants []swarm.ServiceSpec, log LogFunc) error {
	keep := map[string]bool{}
	for _, w := range wants {
		keep[w.Name] = true
	}
	current, err := d.stackServiceList(ctx, stack)
	if err != nil {
		return err
	}
	var gone []string
	for _, svc := range current {
		if !keep[svc.Spec.Name] {
			gone = append(gone, svc.Spec.Name)
		}
	}
	return runBounded(ctx, len(gone), func(ctx context.Context, i int) error {
		log.printf("Removing service %s (no longer in the stack)", gone[i])
		return d.RemoveService(ctx, gone[i])
	})
}

// pruneStackObjects removes the stack's secrets and configs no service of
// it references any more, and its networks no longer in spec. Failing here
// does not fail the deploy, which already succeeded: what is left is
// retried on the next deploy.
func (d *Docker) pruneStackObjects(ctx context.Context, spec StackSpec, log LogFunc) {
	services, err := d.stackServiceList(ctx, spec.Name)
	if err != nil {
		log.printf("Warning: could not list the services of stack %s to prune old secrets: %v", spec.Name, err)
		return
	}
	used := map[string]bool{}
	for _, svc := range services {
		if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				used["secret/"+r.SecretID], used["secret/"+r.SecretName] = true, true
			}
			for _, r := range cs.Configs {
				used["config/"+r.ConfigID], used["config/"+r.ConfigName] = true, true
			}
		}
	}
	byLabel := filters.NewArgs(filters.Arg("label", LabelStack+"="+spec.Name))
	if secrets, err := d.cli.SecretList(ctx, swarm.SecretListOptions{Filters: byLabel}); err == nil {
		for _, s := range secrets {
			if !used["secret/"+s.ID] && !used["secret/"+s.Spec.Name] {
				logRemoval("secret", s.Spec.Name, d.cli.SecretRemove(ctx, s.ID), log)
			}
		}
	}
	if configs, err := d.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: byLabel}); err == nil {
		for _, c := range configs {
			if !used["config/"+c.ID] && !used["config/"+c.Spec.Name] {
				logRemoval("config", c.Spec.Name, d.cli.ConfigRemove(ctx, c.ID), log)
			}
		}
	}
	if nets, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: byLabel}); err == nil {
		for _, n := range nets {
			if _, ok := spec.Networks[n.Name]; !ok {
				logRemoval("network", n.Name, d.removeNetwork(ctx, n.ID), log)
			}
		}
	}
}

// logRemoval logs the outcome of removing an obsolete stack object.
func logRemoval(kind, name string, err error, log LogFunc) {
	switch {
	case err == nil:
		log.printf("Removed %s %s (no longer used by the stack)", kind, name)
	case cerrdefs.IsNotFound(err):
	default:
		log.printf("Warning: could not remove %s %s (the next deploy retries): %v", kind, name, err)
	}
}

// removeNetwork retries for a while: the containers of a service that was
// just removed leave its networks a moment later.
func (d *Docker) removeNetwork(ctx context.Context, id string) error {
	deadline := time.Now().Add(stackObjectWait)
	for {
		err := d.cli.NetworkRemove(ctx, id)
		if err == nil || cerrdefs.IsNotFound(err) || time.Now().After(deadline) {
			return err
		}
		sleepCtx(ctx, convergePoll)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// stackServiceList returns the services of the stack, found by LabelStack
// or, for stacks deployed by docker stack deploy, the namespace label.
func (d *Docker) stackServiceList(ctx context.Context, stack string) ([]swarm.Service, error) {
	byID := map[string]swarm.Service{}
	for _, label := range []string{LabelStack, StackNamespaceLabel} {
		list, err := d.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", label+"="+stack))})
		if err != nil {
			return nil, fmt.Errorf("list services of stack %s: %w", stack, err)
		}
		for _, svc := range list {
			byID[svc.ID] = svc
		}
	}
	out := make([]swarm.Service, 0, len(byID))
	for _, svc := range byID {
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// waitStackServices waits, at most stackParallelism at a time, until each
// named service's current spec converged. The first failure stops the
// others' waiting and is returned naming the service.
func (d *Docker) waitStackServices(ctx context.Context, stack string, names []string, log LogFunc) error {
	return runBounded(ctx, len(names), func(ctx context.Context, i int) error {
		short := shortName(stack, names[i])
		if err := d.waitStackService(ctx, names[i], prefixed(log, short)); err != nil {
			return fmt.Errorf("service %s: %w", short, err)
		}
		return nil
	})
}

// waitStackService waits for the service's current spec like waitCurrent
// does, but also for global services and at once for 0 replicas.
func (d *Docker) waitStackService(ctx context.Context, name string, log LogFunc) error {
	svc, _, err := d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect service %s: %w", name, err)
	}
	target, err := d.convergeTarget(ctx, svc)
	if err != nil {
		return err
	}
	if target.Replicas == 0 {
		log.printf("Service %s has no replicas to start", name)
		return nil
	}
	return d.waitConverged(ctx, svc.ID, target, log)
}

// convergeTarget is what waitConverged should see running: the replica
// count, or for a global service one task per eligible node.
func (d *Docker) convergeTarget(ctx context.Context, svc swarm.Service) (ServiceSpec, error) {
	target := ServiceSpec{Name: svc.Spec.Name, Replicas: replicas(svc.Spec)}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		target.Image = cs.Image
	}
	if u := svc.Spec.UpdateConfig; u != nil {
		target.MonitorPeriod = u.Monitor
	}
	if svc.Spec.Mode.Global != nil {
		n, err := d.eligibleNodes(ctx, svc.Spec.TaskTemplate.Placement)
		if err != nil {
			return target, err
		}
		target.Replicas = n
	}
	return target, nil
}

// eligibleNodes counts the ready, active nodes a global service with this
// placement runs a task on.
func (d *Docker) eligibleNodes(ctx context.Context, p *swarm.Placement) (uint64, error) {
	nodes, err := d.cli.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list nodes: %w", err)
	}
	var constraints []string
	if p != nil {
		constraints = p.Constraints
	}
	var n uint64
	for _, node := range nodes {
		if node.Status.State == swarm.NodeStateReady && node.Spec.Availability == swarm.NodeAvailabilityActive && nodeMatches(node, constraints) {
			n++
		}
	}
	return n, nil
}

var constraintExpr = regexp.MustCompile(`^\s*([\w.\-]+)\s*(==|!=)\s*(.*?)\s*$`)

// nodeMatches evaluates placement constraints as Swarm does (values
// compared case-insensitively; a missing label never equals anything).
func nodeMatches(node swarm.Node, constraints []string) bool {
	for _, c := range constraints {
		m := constraintExpr.FindStringSubmatch(c)
		if m == nil {
			continue // Swarm refuses malformed constraints when the service is created
		}
		got, known := nodeAttribute(node, m[1])
		eq := known && constraintEqual(m[1], got, m[3])
		if (m[2] == "==") != eq {
			return false
		}
	}
	return true
}

func constraintEqual(key, got, want string) bool {
	if strings.EqualFold(key, "node.ip") && strings.Contains(want, "/") {
		_, cidr, err := net.ParseCIDR(want)
		ip := net.ParseIP(got)
		return err == nil && ip != nil && cidr.Contains(ip)
	}
	return strings.EqualFold(got, want)
}

func nodeAttribute(node swarm.Node, key string) (string, bool) {
	lower := strings.ToLower(key)
	switch lower {
	case "node.id":
		return node.ID, true
	case "node.hostname":
		return node.Description.Hostname, true
	case "node.role":
		return string(node.Spec.Role), true
	case "node.ip":
		return node.Status.Addr, true
	case "node.platform.os":
		return node.Description.Platform.OS, true
	case "node.platform.arch":
		return node.Description.Platform.Architecture, true
	}
	if name, ok := strings.CutPrefix(lower, "node.labels."); ok {
		return labelValue(node.Spec.Labels, name)
	}
	if name, ok := strings.CutPrefix(lower, "engine.labels."); ok {
		return labelValue(node.Description.Engine.Labels, name)
	}
	return "", false
}

func labelValue(labels map[string]string, lowerKey string) (string, bool) {
	for k, v := range labels {
		if strings.ToLower(k) == lowerKey {
			return v, true
		}
	}
	return "", false
}

// runBounded runs fn for 0..n-1, at most stackParallelism at a time. The
// first error cancels the context of the others and is returned.
func runBounded(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, stackParallelism)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return context.Cause(ctx) // the caller's ctx ended before every fn ran
	}
	return first
}

// serialized makes log safe to call from the parallel waits: the caller's
// LogFunc need not be.
func serialized(log LogFunc) LogFunc {
	if log == nil {
		return nil
	}
	var mu sync.Mutex
	return func(line string) {
		mu.Lock()
		defer mu.Unlock()
		log(line)
	}
}

// prefixed tags every line with the short service name, so the lines of
// services waited on in parallel can be told apart.
func prefixed(log LogFunc, prefix string) LogFunc {
	if log == nil {
		return nil
	}
	return func(line string) { log(prefix + ": " + line) }
}

// StackReplicas returns the desired replicas of each replicated service of
// the stack (scoped name → count), for recording before a stop.
func (d *Docker) StackReplicas(ctx context.Context, stack string) (map[string]uint64, error) {
	if err := validateStackName(stack); err != nil {
		return nil, err
	}
	services, err := d.stackServiceList(ctx, stack)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, svc := range services {
		if svc.Spec.Mode.Replicated != nil {
			out[svc.Spec.Name] = replicas(svc.Spec)
		}
	}
	return out, nil
}

// ScaleStack sets replicas per service (scoped names) and waits: services
// scaled to 0 until none of their containers run; others until that many
// tasks run (healthy when they have a health check). Services not in the
// map are left alone.
func (d *Docker) ScaleStack(ctx context.Context, stack string, replicas map[string]uint64, log LogFunc) error {
	if err := validateStackName(stack); err != nil {
		return err
	}
	log = serialized(log)
	names, err := d.checkScalable(ctx, stack, replicas)
	if err != nil {
		return err
	}
	for _, name := range names {
		log.printf("Scaling %s to %d", name, replicas[name])
		if err := d.ScaleService(ctx, name, replicas[name]); err != nil {
			return err
		}
	}
	return runBounded(ctx, len(names), func(ctx context.Context, i int) error {
		short := shortName(stack, names[i])
		var err error
		if replicas[names[i]] == 0 {
			err = d.waitStopped(ctx, names[i], prefixed(log, short))
		} else {
			err = d.waitStackService(ctx, names[i], prefixed(log, short))
		}
		if err != nil {
			return fmt.Errorf("service %s: %w", short, err)
		}
		return nil
	})
}

// checkScalable refuses, before changing anything, services that are not
// in the stack or are global; it returns the names sorted.
func (d *Docker) checkScalable(ctx context.Context, stack string, replicas map[string]uint64) ([]string, error) {
	services, err := d.stackServiceList(ctx, stack)
	if err != nil {
		return nil, err
	}
	byName := map[string]swarm.Service{}
	for _, svc := range services {
		byName[svc.Spec.Name] = svc
	}
	names := make([]string, 0, len(replicas))
	for name := range replicas {
		svc, ok := byName[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("service %s is not part of stack %s: deploy the stack first, or check the name (<stack>_<service>)", name, stack)
		case svc.Spec.Mode.Replicated == nil:
			return nil, fmt.Errorf("service %s is global: it runs one task per node and cannot be scaled; set mode: replicated to scale it", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// waitStopped waits until no container of the service runs on this node.
func (d *Docker) waitStopped(ctx context.Context, name string, log LogFunc) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultConvergeTimeout)
		defer cancel()
	}
	list := container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name="+name))}
	for {
		running, err := d.cli.ContainerList(ctx, list)
		if err == nil && len(running) == 0 {
			log.printf("Service %s is stopped", name)
			return nil
		}
		sleepCtx(ctx, convergePoll)
		if ctx.Err() != nil {
			return fmt.Errorf("service %s did not stop (%d containers still running): %w", name, len(running), context.Cause(ctx))
		}
	}
}

// RestartStack replaces every task of every service (ForceUpdate++) and
// waits until they converged.
func (d *Docker) RestartStack(ctx context.Context, stack string, log LogFunc) error {
	if err := validateStackName(stack); err != nil {
		return err
	}
	log = serialized(log)
	services, err := d.stackServiceList(ctx, stack)
	if err != nil {
		return err
	}
	if len(services) == 0 {
		return fmt.Errorf("stack %s has no services: deploy it first", stack)
	}
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = svc.Spec.Name
		log.printf("Restarting service %s", svc.Spec.Name)
		if err := d.RestartService(ctx, svc.Spec.Name); err != nil {
			return err
		}
	}
	return d.waitStackServices(ctx, stack, names, log)
}

// RemoveStack removes the stack's services (waiting, bounded, until their
// containers are gone), then its networks, secrets, configs, the images
// labelled LabelStack=<stack>, and only when removeVolumes its volumes on
// this node. It keeps going past failures and reports them all. A stack
// with nothing left is not an error.
func (d *Docker) RemoveStack(ctx context.Context, stack string, removeVolumes bool, log LogFunc) error {
	if err := validateStackName(stack); err != nil {
		return err
	}
	log = serialized(log)
	services, err := d.stackServiceList(ctx, stack)
	if err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	_ = runBounded(ctx, len(services), func(ctx context.Context, i int) error {
		name := services[i].Spec.Name
		err := d.RemoveService(ctx, name)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		} else {
			log.printf("Removed service %s", name)
		}
		return nil // keep removing the others
	})
	removed := len(services)
	for _, step := range []func(context.Context, string, LogFunc) (int, error){
		d.removeStackNetworks, d.removeStackSecrets, d.removeStackConfigs, d.removeStackImages,
	} {
		n, err := step(ctx, stack, log)
		removed += n
		errs = append(errs, err)
	}
	if removeVolumes {
		n, err := d.removeStackVolumes(ctx, stack, log)
		removed += n
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove stack %s: %w", stack, err)
	}
	if removed == 0 {
		log.printf("Nothing left of stack %s", stack)
	}
	return nil
}

func stackFilter(stack string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelStack+"="+stack))
}

func (d *Docker) removeStackNetworks(ctx context.Context, stack string, log LogFunc) (int, error) {
	nets, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return 0, fmt.Errorf("list networks: %w", err)
	}
	var errs []error
	for _, n := range nets {
		if err := d.removeNetwork(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s (is a container outside the stack still attached? disconnect it and retry): %w", n.Name, err))
			continue
		}
		log.printf("Removed network %s", n.Name)
	}
	return len(nets), errors.Join(errs...)
}

func (d *Docker) removeStackSecrets(ctx context.Context, stack string, log LogFunc) (int, error) {
	secrets, err := d.cli.SecretList(ctx, swarm.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return 0, fmt.Errorf("list secrets: %w", err)
	}
	var errs []error
	for _, s := range secrets {
		if err := d.cli.SecretRemove(ctx, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove secret %s: %w", s.Spec.Name, err))
			continue
		}
		log.printf("Removed secret %s", s.Spec.Name)
	}
	return len(secrets), errors.Join(errs...)
}

func (d *Docker) removeStackConfigs(ctx context.Context, stack string, log LogFunc) (int, error) {
	configs, err := d.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return 0, fmt.Errorf("list configs: %w", err)
	}
	var errs []error
	for _, c := range configs {
		if err := d.cli.ConfigRemove(ctx, c.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove config %s: %w", c.Spec.Name, err))
			continue
		}
		log.printf("Removed config %s", c.Spec.Name)
	}
	return len(configs), errors.Join(errs...)
}

// removeStackImages removes the images built for the stack. Force removes
// every tag at once; the engine still refuses images a running container
// uses, and those are kept with a warning.
func (d *Docker) removeStackImages(ctx context.Context, stack string, log LogFunc) (int, error) {
	images, err := d.cli.ImageList(ctx, image.ListOptions{Filters: stackFilter(stack)})
	if err != nil {
		return 0, fmt.Errorf("list images: %w", err)
	}
	var errs []error
	for _, img := range images {
		name := shortID(strings.TrimPrefix(img.ID, "sha256:"))
		if len(img.RepoTags) > 0 {
			name = strings.Join(img.RepoTags, ", ")
		}
		_, err := d.cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		switch {
		case err == nil:
			log.printf("Removed image %s", name)
		case cerrdefs.IsNotFound(err):
		case cerrdefs.IsConflict(err):
			log.printf("Kept image %s: a running container still uses it", name)
		default:
			errs = append(errs, fmt.Errorf("remove image %s: %w", name, err))
		}
	}
	return len(images), errors.Join(errs...)
}

// removeStackVolumes removes the stack's volumes on this node, found by
// either label: the compose converter sets the namespace label on the
// volumes it declares.
func (d *Docker) removeStackVolumes(ctx context.Context, stack string, log LogFunc) (int, error) {
	names := map[string]bool{}
	for _, label := range []string{LabelStack, StackNamespaceLabel} {
		list, err := d.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", label+"="+stack))})
		if err != nil {
			return 0, fmt.Errorf("list volumes: %w", err)
		}
		for _, v := range list.Volumes {
			names[v.Name] = true
		}
	}
	var errs []error
	for name := range names {
		if err := d.RemoveVolume(ctx, name, stackObjectWait); err != nil {
			errs = append(errs, fmt.Errorf("%w (a container outside the stack may still use it: remove that container, then remove the stack again)", err))
			continue
		}
		log.printf("Removed volume %s", name)
	}
	return len(names), errors.Join(errs...)
}

// StackServices reports the live state of each service of the stack,
// sorted by Service.
func (d *Docker) StackServices(ctx context.Context, stack string) ([]StackServiceState, error) {
	if err := validateStackName(stack); err != nil {
		return nil, err
	}
	services, err := d.stackServiceList(ctx, stack)
	if err != nil {
		return nil, err
	}
	out := make([]StackServiceState, 0, len(services))
	for _, svc := range services {
		st, err := d.stackServiceState(ctx, stack, svc)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

func (d *Docker) stackServiceState(ctx context.Context, stack string, svc swarm.Service) (StackServiceState, error) {
	st := StackServiceState{
		Name:      svc.Spec.Name,
		Service:   shortName(stack, svc.Spec.Name),
		Mode:      "replicated",
		UpdatedAt: svc.UpdatedAt,
		Ports:     stackPorts(svc),
	}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		st.Image, _, _ = strings.Cut(cs.Image, "@")
	}
	target, err := d.convergeTarget(ctx, svc)
	if err != nil {
		return st, err
	}
	st.Desired = target.Replicas
	if svc.Spec.Mode.Global != nil {
		st.Mode = "global"
	}
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svc.ID))})
	if err != nil {
		return st, fmt.Errorf("list tasks of %s: %w", svc.Spec.Name, err)
	}
	var failed []swarm.Task
	for _, t := range tasks {
		switch {
		case t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected:
			failed = append(failed, t)
		case t.Status.State == swarm.TaskStateRunning && t.DesiredState == swarm.TaskStateRunning:
			st.Running++
			st.Health = worseHealth(st.Health, d.containerHealth(ctx, t))
		case t.Status.State == swarm.TaskStateRunning:
			st.Exiting++
		}
	}
	if t := latest(failed); t != nil {
		st.LastError = t.Status.Err
		if st.LastError == "" {
			st.LastError = t.Status.Message
		}
	}
	return st, nil
}

// containerHealth is the health status of a running task's container, ""
// when it has no health check or runs on another node.
func (d *Docker) containerHealth(ctx context.Context, t swarm.Task) string {
	if t.Status.ContainerStatus == nil {
		return ""
	}
	c, err := d.cli.ContainerInspect(ctx, t.Status.ContainerStatus.ContainerID)
	if err != nil || c.State == nil || c.State.Health == nil {
		return ""
	}
	return c.State.Health.Status
}

// worseHealth keeps the status that needs attention most: one unhealthy
// replica makes the service unhealthy.
func worseHealth(a, b string) string {
	rank := map[string]int{"": 0, "healthy": 1, "starting": 2, "unhealthy": 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// stackPorts lists the published ports, preferring the endpoint's (which
// include the ports Swarm assigned) over the spec's.
func stackPorts(svc swarm.Service) []string {
	ports := svc.Endpoint.Ports
	if len(ports) == 0 && svc.Spec.EndpointSpec != nil {
		ports = svc.Spec.EndpointSpec.Ports
	}
	var out []string
	for _, p := range ports {
		out = append(out, portString(p))
	}
	return out
}

func portString(p swarm.PortConfig) string {
	proto, mode := p.Protocol, p.PublishMode
	if proto == "" {
		proto = swarm.PortConfigProtocolTCP
	}
	if mode == "" {
		mode = swarm.PortConfigPublishModeIngress
	}
	if p.PublishedPort == 0 {
		return fmt.Sprintf("%d/%s (%s)", p.TargetPort, proto, mode)
	}
	return fmt.Sprintf("%d→%d/%s (%s)", p.PublishedPort, p.TargetPort, proto, mode)
}
