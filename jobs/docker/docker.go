// Package docker is the only door to the Docker Engine: image builds and
// pulls, Swarm services, cleanup and the Traefik container.
package docker

import (
	"dokploy/jobs/netguard"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// Endpoint modes accepted by Options.EndpointMode.
const (
	EndpointModeAuto  = "auto"
	EndpointModeVIP   = "vip"
	EndpointModeDNSRR = "dnsrr"
)

// DefaultNetwork is the attachable overlay network every app joins so Traefik
// and other apps can reach it by service name.
const DefaultNetwork = "dokploy-network"

// Labels set on everything this package creates, so cleanup and
// reconciliation can find resources by label.
const (
	LabelApp        = "dokploy.app"        // service name (app slug)
	LabelDeployment = "dokploy.deployment" // deployment id, set by the caller
	LabelKind       = "dokploy.kind"       // service kind when not an app (database)
	LabelVolume     = "dokploy.volume"     // an app volume's name, on its Docker volume
	LabelImageRepo  = "dokploy.image"      // repository (tag-less) of a labelled build's image: compose builds, app builds before built_images
)

// Options configures New.
type Options struct {
	// EndpointMode is DOKPLOY_ENDPOINT_MODE: "auto" (or empty), "vip" or "dnsrr".
	EndpointMode string
	// ProcRoot is where the IPVS probe looks ("/proc" when empty). Point it
	// at a bind mount of the host's /proc when the control plane runs in a
	// container with its own /proc view.
	ProcRoot string
	// Guard refuses pulls from registries at link-local addresses or at the
	// control plane's own services; nil refuses only link-local ones.
	Guard *netguard.Guard
}

// Docker is the only door to the Docker Engine. The deploy lifecycle is:
//
//	git.Clone → Build (or Pull) → DeployService (create/update, then wait for
//	convergence) → later ScaleService / RestartService / ServiceInfo /
//	ServiceLogs → RemoveService → RemoveImages.
//
// Every call takes ctx and stops when it is cancelled; long calls report
// progress through a LogFunc. Methods are safe for concurrent use. Apps are
// Swarm services named after the app slug and labelled dokploy.app=<slug>.
type Docker struct {
	cli  *client.Client
	opts Options

	modeOnce sync.Once
	mode     string
}

// New connects to the engine named by DOCKER_HOST (or the default
// socket), negotiating the API version with whatever engine is running.
func New(opts Options) (*Docker, error) {
	switch opts.EndpointMode {
	case "", EndpointModeAuto, EndpointModeVIP, EndpointModeDNSRR:
	default:
		return nil, fmt.Errorf("invalid endpoint mode %q (want auto, vip or dnsrr)", opts.EndpointMode)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Docker{cli: cli, opts: opts}, nil
}

// Close releases the client's connections.
func (d *Docker) Close() error {
	return d.cli.Close()
}

// Ping checks the engine is reachable and reports whether this node is an
// active Swarm member (deploys need it).
func (d *Docker) Ping(ctx context.Context) (swarmActive bool, err error) {
	ping, err := d.cli.Ping(ctx)
	if err != nil {
		return false, fmt.Errorf("docker ping: %w", err)
	}
	// Engines since API 1.44 tell the swarm state in the ping's headers.
	if ping.SwarmStatus != nil {
		return ping.SwarmStatus.NodeState == swarm.LocalNodeStateActive, nil
	}
	// Older ones (Debian 12's 20.10) answer a manager's swarm inspect in
	// a few ms; the info call that would also tell takes 40-60 ms there,
	// which was most of every /api/health answer. A worker or a node
	// outside any swarm refuses the inspect and gets the info call.
	if _, err := d.cli.SwarmInspect(ctx); err == nil {
		return true, nil
	}
	info, err := d.cli.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("docker info: %w", err)
	}
	return info.Swarm.LocalNodeState == swarm.LocalNodeStateActive, nil
}

// LocalNodeID is the Swarm node id of the engine this client talks to.
func (d *Docker) LocalNodeID(ctx context.Context) (string, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	if info.Swarm.NodeID == "" {
		return "", fmt.Errorf("this engine is not a swarm node")
	}
	return info.Swarm.NodeID, nil
}

// EndpointMode returns "vip" or "dnsrr" for new services. An explicit
// Options.EndpointMode wins; "auto" probes once and caches the answer.
//
// VIP mode (and so the ingress routing mesh) needs the kernel's IPVS module
// on the engine's host. The probe reads <ProcRoot>/net/ip_vs (present once the
// module is loaded) and <ProcRoot>/modules. /proc/modules is kernel-wide, so
// the probe also works from inside a container on the same host, unless the
// runtime masks it. When nothing proves IPVS is there (module not loaded
// yet, masked /proc, remote DOCKER_HOST) it picks dnsrr: that always works,
// and only costs the ingress mesh. Operators who know better set "vip".
func (d *Docker) EndpointMode(ctx context.Context) string {
	switch d.opts.EndpointMode {
	case EndpointModeVIP, EndpointModeDNSRR:
		return d.opts.EndpointMode
	}
	d.modeOnce.Do(func() {
		d.mode = EndpointModeDNSRR
		if hasIPVS(d.opts.ProcRoot) {
			d.mode = EndpointModeVIP
		}
	})
	return d.mode
}

func hasIPVS(procRoot string) bool {
	if procRoot == "" {
		procRoot = "/proc"
	}
	if _, err := os.Stat(filepath.Join(procRoot, "net", "ip_vs")); err == nil {
		return true
	}
	modules, err := os.ReadFile(filepath.Join(procRoot, "modules"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(modules), "\n") {
		if strings.HasPrefix(line, "ip_vs ") {
			return true
		}
	}
	return false
}
