package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// Traefik container defaults.
const (
	TraefikContainer = "dokploy-traefik"
	// TraefikImage is the official image, pulled on a real server.
	TraefikImage = "traefik:v3.6.12"
	// TraefikLocalImage is the same version built locally from Traefik's Go
	// module by scripts/build-traefik-image.sh, for hosts with no registry.
	TraefikLocalImage = "dokploy-traefik:v3.6.12"
	// TraefikConfigPath is where TraefikSpec.ConfigDir is mounted: every path
	// in the static and dynamic configuration is under it.
	TraefikConfigPath = "/etc/dokploy/traefik"
	// labelTraefikSpec holds the hash of the spec a container was made from.
	labelTraefikSpec = "dokploy.traefik.spec"
)

// TraefikSpec describes the Traefik container. The entry points inside the
// container are fixed (web :80, websecure :443, API :8080, as StaticConfig
// renders them by default); only the host side is configurable.
type TraefikSpec struct {
	Name          string // container name; TraefikContainer when empty
	Image         string // preferred image; TraefikImage when empty
	FallbackImage string // used when Image is absent and cannot be pulled; TraefikLocalImage when empty
	// ConfigDir is the host directory holding traefik.yml, dynamic/, acme/
	// and certs/, mounted read-write (Traefik writes acme.json) at
	// TraefikConfigPath.
	ConfigDir string
	// BindIP is the host address 80/443 are published on; "" is every
	// interface (a real server), tests use 127.0.0.1.
	BindIP    string
	HTTPPort  int // host port of the web entry point (80)
	HTTPSPort int // host port of the websecure entry point (443)
	// APIPort publishes the API entry point on 127.0.0.1 only. The control
	// plane runs on the host, outside dokploy-network, and reads router
	// status from the API; binding it to loopback keeps the unauthenticated
	// API off the public interfaces.
	APIPort int
	Network string   // DefaultNetwork when empty
	Env     []string // extra environment, e.g. LEGO_CA_CERTIFICATES
	// ConfigHash changes whenever the static configuration changes, so
	// EnsureTraefik recreates the container to load it (Traefik reads its
	// static configuration only at start).
	ConfigHash string
}

func (s TraefikSpec) withDefaults() TraefikSpec {
	if s.Name == "" {
		s.Name = TraefikContainer
	}
	if s.Image == "" {
		s.Image = TraefikImage
	}
	if s.FallbackImage == "" {
		s.FallbackImage = TraefikLocalImage
	}
	if s.Network == "" {
		s.Network = DefaultNetwork
	}
	return s
}

func (s TraefikSpec) validate() error {
	var errs []error
	if s.ConfigDir == "" {
		errs = append(errs, errors.New("traefik: ConfigDir is required"))
	}
	for name, p := range map[string]int{"HTTPPort": s.HTTPPort, "HTTPSPort": s.HTTPSPort, "APIPort": s.APIPort} {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("traefik: %s %d must be between 1 and 65535", name, p))
		}
	}
	return errors.Join(errs...)
}

// EnsureTraefik makes the Traefik container run as spec says and returns
// the image it runs. A container made from the same spec (and image) that
// is running is left alone; a stopped one is started; anything else is
// replaced. The image is spec.Image if present or pullable, else
// spec.FallbackImage if present locally.
func (d *Docker) EnsureTraefik(ctx context.Context, spec TraefikSpec, log LogFunc) (string, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return "", err
	}
	img, imageID, err := d.traefikImage(ctx, spec, log)
	if err != nil {
		return "", err
	}
	cfg, host, netCfg := traefikContainerConfig(spec, img)
	hash := traefikSpecHash(cfg, host, imageID, spec.ConfigHash)
	cfg.Labels[labelTraefikSpec] = hash

	existing, err := d.cli.ContainerInspect(ctx, spec.Name)
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("inspect %s: %w", spec.Name, err)
	case existing.Config != nil && existing.Config.Labels[labelTraefikSpec] == hash:
		if existing.State != nil && existing.State.Running {
			return img, nil
		}
		log.printf("starting stopped container %s", spec.Name)
		if err := d.cli.ContainerStart(ctx, existing.ID, container.StartOptions{}); err != nil {
			return "", fmt.Errorf("start %s: %w", spec.Name, err)
		}
		return img, nil
	default:
		log.printf("recreating %s: its configuration changed", spec.Name)
		if err := d.RemoveTraefik(ctx, spec.Name); err != nil {
			return "", err
		}
	}
	created, err := d.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", spec.Name, err)
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		_ = d.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
		return "", fmt.Errorf("start %s: %w", spec.Name, err)
	}
	log.printf("started %s from %s", spec.Name, img)
	return img, nil
}

// RemoveTraefik stops and removes the named Traefik container; a missing
// one is not an error.
func (d *Docker) RemoveTraefik(ctx context.Context, name string) error {
	if name == "" {
		name = TraefikContainer
	}
	timeout := 10
	if err := d.cli.ContainerStop(ctx, name, container.StopOptions{Timeout: &timeout}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	err := d.cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// traefikImage picks the image and returns its reference and ID.
func (d *Docker) traefikImage(ctx context.Context, spec TraefikSpec, log LogFunc) (string, string, error) {
	if info, err := d.cli.ImageInspect(ctx, spec.Image); err == nil {
		return spec.Image, info.ID, nil
	}
	pullCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	pullErr := d.pull(pullCtx, spec.Image, "", log)
	cancel()
	if pullErr == nil {
		if info, err := d.cli.ImageInspect(ctx, spec.Image); err == nil {
			return spec.Image, info.ID, nil
		}
	}
	if info, err := d.cli.ImageInspect(ctx, spec.FallbackImage); err == nil {
		log.printf("%s cannot be pulled (%v); using the local build %s", spec.Image, pullErr, spec.FallbackImage)
		return spec.FallbackImage, info.ID, nil
	}
	return "", "", fmt.Errorf("no Traefik image: %s cannot be pulled (%v) and %s does not exist; run scripts/build-traefik-image.sh",
		spec.Image, pullErr, spec.FallbackImage)
}

func traefikContainerConfig(spec TraefikSpec, img string) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	web, websecure, api := nat.Port("80/tcp"), nat.Port("443/tcp"), nat.Port("8080/tcp")
	cfg := &container.Config{
		Image:        img,
		Cmd:          []string{"--configFile=" + TraefikConfigPath + "/traefik.yml"},
		Env:          spec.Env,
		ExposedPorts: nat.PortSet{web: {}, websecure: {}, api: {}},
		Labels:       map[string]string{LabelApp: spec.Name},
	}
	host := &container.HostConfig{
		Binds:       []string{spec.ConfigDir + ":" + TraefikConfigPath},
		NetworkMode: container.NetworkMode(spec.Network),
		PortBindings: nat.PortMap{
			web:       {{HostIP: spec.BindIP, HostPort: strconv.Itoa(spec.HTTPPort)}},
			websecure: {{HostIP: spec.BindIP, HostPort: strconv.Itoa(spec.HTTPSPort)}},
			api:       {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(spec.APIPort)}},
		},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		// The dashboard's own domain routes to the control plane on the
		// host (:3000); host-gateway resolves to the host from inside.
		ExtraHosts: []string{"host.docker.internal:host-gateway"},
	}
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{spec.Network: {}}}
	return cfg, host, netCfg
}

// traefikSpecHash fingerprints everything that, when changed, needs a new
// container.
func traefikSpecHash(cfg *container.Config, host *container.HostConfig, imageID, configHash string) string {
	data, _ := json.Marshal([]any{cfg.Image, imageID, cfg.Cmd, cfg.Env, host.Binds, host.NetworkMode,
		host.PortBindings, host.ExtraHosts, configHash})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:12])
}

// TraefikLog returns the last lines of the Traefik container's output. ACME
// failures appear only there: Traefik's API does not report them.
func (d *Docker) TraefikLog(ctx context.Context, name string, tail int) (string, error) {
	if name == "" {
		name = TraefikContainer
	}
	rc, err := d.cli.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(tail)})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 4<<20)); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Traefik manages the dokploy-traefik container for the routing service.
type Traefik struct {
	docker *Docker
	spec   TraefikSpec
	log    LogFunc
}

// Traefik returns the manager of the Traefik container spec describes;
// progress lines go to log.
func (d *Docker) Traefik(spec TraefikSpec, log LogFunc) *Traefik {
	return &Traefik{docker: d, spec: spec, log: log}
}

// Restart makes the container run the static configuration whose hash is
// configHash, recreating it when that (or anything else in the spec)
// changed. See EnsureTraefik.
func (t *Traefik) Restart(ctx context.Context, configHash string) error {
	s := t.spec
	s.ConfigHash = configHash
	_, err := t.docker.EnsureTraefik(ctx, s, t.log)
	return err
}

// RecentLog returns the container's last 400 lines of output.
func (t *Traefik) RecentLog(ctx context.Context) (string, error) {
	return t.docker.TraefikLog(ctx, t.spec.withDefaults().Name, 400)
}

// Addresses are the IPs Traefik's container has on every network it is
// on, including docker_gwbridge, the one its requests to the host (the
// dashboard) leave from. The dashboard trusts X-Forwarded-For from these.
func (t *Traefik) Addresses(ctx context.Context) ([]netip.Addr, error) {
	name := t.spec.withDefaults().Name
	inspect, err := t.docker.cli.ContainerInspect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", name, err)
	}
	var out []netip.Addr
	add := func(s string) {
		if s, _, _ = strings.Cut(s, "/"); s == "" {
			return
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	if inspect.NetworkSettings != nil {
		for _, ep := range inspect.NetworkSettings.Networks {
			add(ep.IPAddress)
			add(ep.GlobalIPv6Address)
		}
	}
	// Swarm-scoped networks give a standalone container an endpoint on
	// docker_gwbridge that its inspect does not list.
	if gw, err := t.docker.cli.NetworkInspect(ctx, "docker_gwbridge", network.InspectOptions{}); err == nil {
		if ep, ok := gw.Containers[inspect.ID]; ok {
			add(ep.IPv4Address)
			add(ep.IPv6Address)
		}
	}
	return out, nil
}
