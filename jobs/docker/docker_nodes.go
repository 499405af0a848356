package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// Node availabilities (docker node update --availability).
const (
	NodeActive = string(swarm.NodeAvailabilityActive)
	NodePause  = string(swarm.NodeAvailabilityPause)
	NodeDrain  = string(swarm.NodeAvailabilityDrain)
)

// SwarmPort is the port managers listen on for joining nodes.
const SwarmPort = 2377

// ErrNodeNotFound is a node id or hostname the swarm does not know.
var ErrNodeNotFound = errors.New("no such node")

// ErrNodeChanged is an update refused because the node changed since its
// version was read (someone else updated it); reload and try again.
var ErrNodeChanged = errors.New("the node changed meanwhile; reload and try again")

// Node is a Swarm node as the Nodes page and API show it.
type Node struct {
	ID            string            `json:"id"`
	Hostname      string            `json:"hostname"`
	Role          string            `json:"role"`   // manager or worker
	Leader        bool              `json:"leader"` // the managers' raft leader
	Reachability  string            `json:"manager_reachability,omitempty"`
	Availability  string            `json:"availability"` // active, pause or drain
	State         string            `json:"state"`        // ready, down, unknown, disconnected
	Message       string            `json:"message,omitempty"`
	Addr          string            `json:"address"`
	EngineVersion string            `json:"engine_version"`
	OS            string            `json:"os"`
	Arch          string            `json:"architecture"`
	CPUs          float64           `json:"cpus"`
	MemoryBytes   int64             `json:"memory_bytes"`
	Labels        map[string]string `json:"labels"`
	// Version is the node object's version in the swarm's store: an update
	// names it, and Swarm refuses the update if the node changed since.
	Version uint64     `json:"version"`
	Self    bool       `json:"self"` // the engine this control plane talks to
	Tasks   []NodeTask `json:"tasks"`
}

// IsManager reports whether the node is a manager.
func (n Node) IsManager() bool { return n.Role == string(swarm.NodeRoleManager) }

// LabelList is the node's labels sorted by key, for pages.
func (n Node) LabelList() []NodeLabel {
	out := make([]NodeLabel, 0, len(n.Labels))
	for k, v := range n.Labels {
		out = append(out, NodeLabel{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// NodeLabel is one label of a node.
type NodeLabel struct{ Key, Value string }

// NodeTask is a task of one of the platform's services placed on a node.
type NodeTask struct {
	Service string `json:"service"`
	Stack   string `json:"stack,omitempty"`   // the compose stack the service belongs to
	Slot    int    `json:"replica,omitempty"` // 0 for global services
	State   string `json:"state"`             // running, starting, preparing, …
	Error   string `json:"error,omitempty"`
	// Kind and ServiceID name the product's service the task is of (the
	// app, database or compose stack), when the database knows it; the
	// caller fills them in (see ops.Service.Nodes).
	Kind      string `json:"service_kind,omitempty"`
	ServiceID int64  `json:"service_id,omitempty"`
}

// Owner is the Swarm name of the product's service the task is of: its
// stack for a compose service, else its own service.
func (t NodeTask) Owner() string {
	if t.Stack != "" {
		return t.Stack
	}
	return t.Service
}

// NodeChange is what an update changes; empty fields change nothing.
type NodeChange struct {
	Availability string
	SetLabels    map[string]string
	RemoveLabels []string
}

// JoinInfo is what a new machine needs to join the swarm. The tokens are
// secrets: whoever has one can join a node (as a manager, for that one).
type JoinInfo struct {
	Addr         string // the manager's advertised address with SwarmPort
	WorkerToken  string
	ManagerToken string
}

// Command is the docker swarm join command with the worker or manager
// token, as a list of arguments (the page shows it joined by spaces).
func (j JoinInfo) Command(manager bool) []string {
	token := j.WorkerToken
	if manager {
		token = j.ManagerToken
	}
	return []string{"docker", "swarm", "join", "--token", token, j.Addr}
}

// Nodes lists every node of the swarm with the tasks of the platform's
// services on it, managers first, then by hostname.
func (d *Docker) Nodes(ctx context.Context) ([]Node, error) {
	list, err := d.cli.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	self, err := d.LocalNodeID(ctx)
	if err != nil {
		return nil, err
	}
	tasks, err := d.platformTasks(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(list))
	for _, n := range list {
		node := nodeOf(n, self)
		node.Tasks = tasks[n.ID]
		out = append(out, node)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IsManager() != out[j].IsManager() {
			return out[i].IsManager()
		}
		return out[i].Hostname < out[j].Hostname
	})
	return out, nil
}

// Node inspects one node by id (or hostname) with its tasks.
func (d *Docker) Node(ctx context.Context, id string) (Node, error) {
	n, err := d.inspectNode(ctx, id)
	if err != nil {
		return Node{}, err
	}
	self, err := d.LocalNodeID(ctx)
	if err != nil {
		return Node{}, err
	}
	tasks, err := d.platformTasks(ctx, n.ID)
	if err != nil {
		return Node{}, err
	}
	node := nodeOf(n, self)
	node.Tasks = tasks[n.ID]
	return node, nil
}

func (d *Docker) inspectNode(ctx context.Context, id string) (swarm.Node, error) {
	if id == "" {
		return swarm.Node{}, ErrNodeNotFound
	}
	n, _, err := d.cli.NodeInspectWithRaw(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return swarm.Node{}, fmt.Errorf("node %s: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return swarm.Node{}, fmt.Errorf("inspect node %s: %w", id, err)
	}
	return n, nil
}

// UpdateNode applies ch to the node's spec as of version, the node's
// version the caller read (0: the current one). Swarm checks the version
// itself, so a change made meanwhile by anyone is ErrNodeChanged, never
// silently overwritten.
func (d *Docker) UpdateNode(ctx context.Context, id string, version uint64, ch NodeChange) error {
	n, err := d.inspectNode(ctx, id)
	if err != nil {
		return err
	}
	if version == 0 {
		version = n.Version.Index
	} else if version != n.Version.Index {
		return ErrNodeChanged
	}
	spec := n.Spec
	if ch.Availability != "" {
		spec.Availability = swarm.NodeAvailability(ch.Availability)
	}
	labels := make(map[string]string, len(spec.Labels)+len(ch.SetLabels))
	for k, v := range spec.Labels {
		labels[k] = v
	}
	for _, k := range ch.RemoveLabels {
		delete(labels, k)
	}
	for k, v := range ch.SetLabels {
		labels[k] = v
	}
	spec.Labels = labels
	err = d.cli.NodeUpdate(ctx, n.ID, swarm.Version{Index: version}, spec)
	if err != nil && strings.Contains(err.Error(), "update out of sequence") {
		return ErrNodeChanged
	}
	if err != nil {
		return fmt.Errorf("update node %s: %w", n.Description.Hostname, err)
	}
	return nil
}

// RemoveNode removes the node from the swarm. force removes a node that
// is not down (its engine still thinks it is a member until it leaves).
func (d *Docker) RemoveNode(ctx context.Context, id string, force bool) error {
	err := d.cli.NodeRemove(ctx, id, swarm.NodeRemoveOptions{Force: force})
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("node %s: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	return nil
}

// JoinInfo reads the join tokens and the address this manager advertises.
func (d *Docker) JoinInfo(ctx context.Context) (JoinInfo, error) {
	sw, err := d.cli.SwarmInspect(ctx)
	if err != nil {
		return JoinInfo{}, fmt.Errorf("swarm inspect: %w", err)
	}
	addr, err := d.AdvertiseAddr(ctx)
	if err != nil {
		return JoinInfo{}, err
	}
	return JoinInfo{Addr: addr, WorkerToken: sw.JoinTokens.Worker, ManagerToken: sw.JoinTokens.Manager}, nil
}

// AdvertiseAddr is host:port other nodes reach this manager at: the
// address it advertises to the swarm (docker swarm init --advertise-addr).
func (d *Docker) AdvertiseAddr(ctx context.Context) (string, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	// The manager's own entry carries its listen port; NodeAddr alone
	// has no port.
	for _, m := range info.Swarm.RemoteManagers {
		if m.NodeID == info.Swarm.NodeID && m.Addr != "" {
			return m.Addr, nil
		}
	}
	if info.Swarm.NodeAddr == "" {
		return "", fmt.Errorf("this engine advertises no swarm address (is it a swarm manager?)")
	}
	return net.JoinHostPort(info.Swarm.NodeAddr, strconv.Itoa(SwarmPort)), nil
}

// platformTasks lists the current tasks of the platform's services (apps,
// databases, compose stacks) by node id; node limits it to one node.
func (d *Docker) platformTasks(ctx context.Context, node string) (map[string][]NodeTask, error) {
	services, err := d.cli.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	names, stacks := map[string]string{}, map[string]string{}
	for _, s := range services {
		l := s.Spec.Labels
		if l[LabelApp] != "" || l[LabelKind] != "" || l[StackNamespaceLabel] != "" {
			names[s.ID], stacks[s.ID] = s.Spec.Name, l[StackNamespaceLabel]
		}
	}
	args := filters.NewArgs(filters.Arg("desired-state", "running"))
	if node != "" {
		args.Add("node", node)
	}
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: args})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	out := map[string][]NodeTask{}
	for _, t := range tasks {
		name, ok := names[t.ServiceID]
		if !ok || t.NodeID == "" {
			continue
		}
		out[t.NodeID] = append(out[t.NodeID], NodeTask{Service: name, Stack: stacks[t.ServiceID], Slot: t.Slot, State: string(t.Status.State), Error: t.Status.Err})
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool {
			if ts[i].Service != ts[j].Service {
				return ts[i].Service < ts[j].Service
			}
			return ts[i].Slot < ts[j].Slot
		})
	}
	return out, nil
}

func nodeOf(n swarm.Node, self string) Node {
	out := Node{
		ID: n.ID, Hostname: n.Description.Hostname, Role: string(n.Spec.Role),
		Availability: string(n.Spec.Availability), State: string(n.Status.State), Message: n.Status.Message,
		Addr: n.Status.Addr, EngineVersion: n.Description.Engine.EngineVersion,
		OS: n.Description.Platform.OS, Arch: n.Description.Platform.Architecture,
		CPUs:        float64(n.Description.Resources.NanoCPUs) / 1e9,
		MemoryBytes: n.Description.Resources.MemoryBytes,
		Labels:      n.Spec.Labels, Version: n.Version.Index, Self: n.ID == self, Tasks: []NodeTask{},
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if m := n.ManagerStatus; m != nil {
		out.Leader = m.Leader
		out.Reachability = string(m.Reachability)
		// A manager's status address is its swarm address; the node's
		// own Addr is where its engine was last seen from.
		if out.Addr == "" || out.Addr == "0.0.0.0" {
			out.Addr, _, _ = strings.Cut(m.Addr, ":")
		}
	}
	return out
}
