package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// TaskContainer is a running task of a product service on this engine's
// node, for the metrics collector.
type TaskContainer struct {
	ContainerID string
	Service     string // Swarm service name
	Stack       string // compose stack (com.docker.stack.namespace), or ""
	Slot        int    // task slot; 0 for global services
	NodeID      string
	// Restarts counts the slot's earlier tasks that ended on their own
	// (failed, rejected or complete), not those an update shut down.
	Restarts int
	// OOMKills counts the slot's ended tasks whose container the kernel
	// killed for memory (State.OOMKilled), as far as this node kept them.
	OOMKills int

	serviceID string
}

// ContainerCounters are a container's cumulative counters at one moment,
// from a one-shot stats call; rates come from two of them.
type ContainerCounters struct {
	Read        time.Time
	CPUTotal    uint64 // ns of CPU used by the container
	SystemTotal uint64 // ns of CPU of the host
	OnlineCPUs  uint32
	Memory      uint64 // usage minus inactive_file, as docker stats shows
	MemoryLimit uint64
	NetRx       uint64
	NetTx       uint64
	BlkRead     uint64
	BlkWrite    uint64
}

// productService reports whether this product labelled a service (label
// filters of the engine are ANDed, so this is checked here).
func productService(s swarm.Service) bool {
	_, app := s.Spec.Labels[LabelApp]
	_, kind := s.Spec.Labels[LabelKind]
	return app || kind
}

// LocalTaskContainers lists the running tasks of product services on this
// node, with each slot's restart and OOM counts. oomSeen caches container
// OOM verdicts between calls (ended containers do not change); it may be nil.
func (d *Docker) LocalTaskContainers(ctx context.Context, oomSeen map[string]bool) ([]TaskContainer, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker info: %w", err)
	}
	node := info.Swarm.NodeID
	if node == "" {
		return nil, nil // not a swarm node: no services
	}
	services, err := d.cli.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	byID := map[string]swarm.Service{}
	for _, s := range services {
		if productService(s) {
			byID[s.ID] = s
		}
	}
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("node", node))})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	type slotKey struct {
		service string
		slot    int
	}
	restarts, ooms := map[slotKey]int{}, map[slotKey]int{}
	var out []TaskContainer
	for _, t := range tasks {
		s, ok := byID[t.ServiceID]
		if !ok {
			continue
		}
		k := slotKey{t.ServiceID, t.Slot}
		cid := ""
		if t.Status.ContainerStatus != nil {
			cid = t.Status.ContainerStatus.ContainerID
		}
		switch t.Status.State {
		case swarm.TaskStateRunning:
			if t.DesiredState == swarm.TaskStateRunning && cid != "" {
				out = append(out, TaskContainer{ContainerID: cid, Service: s.Spec.Name, Stack: s.Spec.Labels[StackNamespaceLabel],
					Slot: t.Slot, NodeID: node, serviceID: t.ServiceID})
			}
		case swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateComplete:
			restarts[k]++
			if cid != "" && d.oomKilled(ctx, cid, oomSeen) {
				ooms[k]++
			}
		}
	}
	for i := range out {
		k := slotKey{out[i].serviceID, out[i].Slot}
		out[i].Restarts, out[i].OOMKills = restarts[k], ooms[k]
	}
	return out, nil
}

// oomKilled reports whether an ended container was killed for memory; a
// container already removed counts as not.
func (d *Docker) oomKilled(ctx context.Context, id string, seen map[string]bool) bool {
	if v, ok := seen[id]; ok {
		return v
	}
	v := false
	if c, err := d.cli.ContainerInspect(ctx, id); err == nil && c.State != nil {
		v = c.State.OOMKilled
	} else if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
		return false // try again next time
	}
	if seen != nil {
		seen[id] = v
	}
	return v
}

// ContainerCounters reads a container's counters with one one-shot stats
// call (no second sample, so it returns at once).
func (d *Docker) ContainerCounters(ctx context.Context, id string) (ContainerCounters, error) {
	rc, err := d.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return ContainerCounters{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	defer rc.Body.Close()
	var s struct {
		Read     time.Time `json:"read"`
		CPUStats struct {
			CPUUsage struct {
				TotalUsage  uint64   `json:"total_usage"`
				PercpuUsage []uint64 `json:"percpu_usage"`
			} `json:"cpu_usage"`
			SystemUsage uint64 `json:"system_cpu_usage"`
			OnlineCPUs  uint32 `json:"online_cpus"`
		} `json:"cpu_stats"`
		MemoryStats struct {
			Usage uint64            `json:"usage"`
			Limit uint64            `json:"limit"`
			Stats map[string]uint64 `json:"stats"`
		} `json:"memory_stats"`
		Networks map[string]struct {
			RxBytes uint64 `json:"rx_bytes"`
			TxBytes uint64 `json:"tx_bytes"`
		} `json:"networks"`
		BlkioStats struct {
			IoServiceBytesRecursive []struct {
				Op    string `json:"op"`
				Value uint64 `json:"value"`
			} `json:"io_service_bytes_recursive"`
		} `json:"blkio_stats"`
	}
	if err := json.NewDecoder(rc.Body).Decode(&s); err != nil {
		return ContainerCounters{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	c := ContainerCounters{
		Read: s.Read, CPUTotal: s.CPUStats.CPUUsage.TotalUsage, SystemTotal: s.CPUStats.SystemUsage,
		OnlineCPUs: s.CPUStats.OnlineCPUs, MemoryLimit: s.MemoryStats.Limit,
	}
	if c.OnlineCPUs == 0 {
		c.OnlineCPUs = uint32(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	c.Memory = WorkingSet(s.MemoryStats.Usage, s.MemoryStats.Stats)
	for _, n := range s.Networks {
		c.NetRx += n.RxBytes
		c.NetTx += n.TxBytes
	}
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			c.BlkRead += e.Value
		case "write":
			c.BlkWrite += e.Value
		}
	}
	return c, nil
}

// WorkingSet is memory usage minus the inactive page cache, as docker
// stats computes it: cgroup v2 reports inactive_file, v1 total_inactive_file.
func WorkingSet(usage uint64, stats map[string]uint64) uint64 {
	inactive, ok := stats["inactive_file"]
	if v1, ok1 := stats["total_inactive_file"]; ok1 {
		inactive, ok = v1, true
	}
	if ok && inactive < usage {
		return usage - inactive
	}
	return usage
}

// EngineNode describes this engine's host for node metrics.
type EngineNode struct {
	NodeID   string // Swarm node id, or the engine id outside swarm
	Hostname string
	DataRoot string // DockerRootDir
}

// EngineNode asks the engine who and where it is.
func (d *Docker) EngineNode(ctx context.Context) (EngineNode, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return EngineNode{}, fmt.Errorf("docker info: %w", err)
	}
	n := EngineNode{NodeID: info.Swarm.NodeID, Hostname: info.Name, DataRoot: info.DockerRootDir}
	if n.NodeID == "" {
		n.NodeID = info.ID
	}
	return n, nil
}
