// Package metrics samples what the services and the nodes use: per
// replica container CPU, memory working set, network and block I/O rates,
// restarts and OOM kills; per node CPU, memory, the disk of Docker's data
// root and load.
//
// A Collector reads the engine it talks to and the /proc of its host, so
// it sees one node. On a single node it runs inside the control plane and
// writes to PostgreSQL; on several, the same collector runs as `dokploy
// agent` on every node (a global Swarm service) and pushes each round to
// the control plane instead: only the Sink differs.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
)

// Source is what a collector reads from the local engine; *docker.Docker
// is one.
type Source interface {
	LocalTaskContainers(ctx context.Context, oomSeen map[string]bool) ([]docker.TaskContainer, error)
	ContainerCounters(ctx context.Context, id string) (docker.ContainerCounters, error)
	EngineNode(ctx context.Context) (docker.EngineNode, error)
}

// Sink takes each round of samples: *db.Store in the control plane.
type Sink interface {
	InsertMetrics(ctx context.Context, containers []db.ContainerSample, nodes []db.NodeSample) error
}

// Options configure a Collector.
type Options struct {
	Source Source
	Sink   Sink
	// Settings returns the interval and retention; DefaultMetricsSettings
	// when nil. Read every round, so a change applies without a restart.
	Settings func(ctx context.Context) (db.MetricsSettings, error)
	// Store, when set, gets the roll-up and retention steps (the control
	// plane); agents leave it nil.
	Store *db.Store
	// ProcRoot is where the host's /proc is ("/proc" when empty).
	ProcRoot string
	Logger   *slog.Logger
	// Parallel bounds the stats calls in flight (default 4); CallTimeout
	// bounds each (default 5 s).
	Parallel    int
	CallTimeout time.Duration
}

// Collector samples on an interval. Rates and CPU % come from the
// previous sample of the same container (or of the node), kept in memory,
// so a container's first sighting only sets its baseline.
type Collector struct {
	opts Options
	log  *slog.Logger

	mu   sync.Mutex
	prev map[string]docker.ContainerCounters // by container id
	oom  map[string]bool                     // ended containers' OOM verdicts
	cpu  cpuTimes                            // the node's previous /proc/stat
}

// New builds a collector.
func New(opts Options) *Collector {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.Settings == nil {
		opts.Settings = func(context.Context) (db.MetricsSettings, error) { return db.DefaultMetricsSettings, nil }
	}
	return &Collector{opts: opts, log: opts.Logger, prev: map[string]docker.ContainerCounters{}, oom: map[string]bool{}}
}

// Run samples every interval until ctx ends, and (with a Store) rolls up
// and prunes every 5 minutes. Failures are logged, never fatal.
func (c *Collector) Run(ctx context.Context) {
	// The baseline: rates need two samples.
	if _, _, err := c.Sample(ctx); err != nil {
		c.log.Warn("metrics sample", "err", err)
	}
	lastMaint := time.Time{}
	for {
		m, err := c.opts.Settings(ctx)
		if err != nil {
			m = db.DefaultMetricsSettings
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(m.IntervalSeconds) * time.Second):
		}
		cs, ns, err := c.Sample(ctx)
		if err != nil {
			c.log.Warn("metrics sample", "err", err)
		}
		if len(cs)+len(ns) > 0 {
			if err := c.opts.Sink.InsertMetrics(ctx, cs, ns); err != nil && ctx.Err() == nil {
				c.log.Warn("metrics write", "err", err)
			}
		}
		if c.opts.Store != nil && time.Since(lastMaint) >= db.RollupBucket {
			lastMaint = time.Now()
			c.maintain(ctx, m)
		}
	}
}

// maintain rolls up complete buckets and applies retention.
func (c *Collector) maintain(ctx context.Context, m db.MetricsSettings) {
	now := time.Now()
	if err := c.opts.Store.RollupMetrics(ctx, m, now); err != nil {
		c.log.Warn("metrics roll-up", "err", err)
	}
	if rep, err := c.opts.Store.PruneMetrics(ctx, m, now); err != nil {
		c.log.Warn("metrics retention", "err", err)
	} else if rep != (db.MetricsPruneReport{}) {
		c.log.Debug("metrics retention", "raw", rep.Raw, "rollups", rep.Rollups)
	}
}

// Sample takes one round: every running replica on this node and the node
// itself. A container whose stats fail is left out of the round; the
// error returned is about the round as a whole (engine unreachable).
func (c *Collector) Sample(ctx context.Context) ([]db.ContainerSample, []db.NodeSample, error) {
	now := time.Now().UTC().Truncate(time.Second)
	node, nerr := c.engineNode(ctx)
	var nodes []db.NodeSample
	if ns, ok := c.sampleNode(now, node); ok {
		nodes = append(nodes, ns)
	}
	if nerr != nil {
		return nil, nodes, nerr
	}
	lctx, cancel := context.WithTimeout(ctx, 2*c.opts.CallTimeout)
	c.mu.Lock()
	tasks, err := c.opts.Source.LocalTaskContainers(lctx, c.oom)
	c.mu.Unlock()
	cancel()
	if err != nil {
		return nil, nodes, err
	}
	counters := make([]docker.ContainerCounters, len(tasks))
	ok := make([]bool, len(tasks))
	sem := make(chan struct{}, c.opts.Parallel)
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
			defer cancel()
			cc, err := c.opts.Source.ContainerCounters(cctx, tasks[i].ContainerID)
			if err != nil {
				c.log.Debug("metrics: container stats", "container_id", tasks[i].ContainerID, "err", err)
				return
			}
			counters[i], ok[i] = cc, true
		}()
	}
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []db.ContainerSample
	for i, t := range tasks {
		if !ok[i] {
			continue
		}
		seen[t.ContainerID] = true
		cur := counters[i]
		prev, had := c.prev[t.ContainerID]
		c.prev[t.ContainerID] = cur
		if !had {
			continue
		}
		s, valid := containerSample(now, t, prev, cur)
		if valid {
			out = append(out, s)
		}
	}
	for id := range c.prev { // containers gone since
		if !seen[id] {
			delete(c.prev, id)
		}
	}
	if len(c.oom) > 10000 {
		c.oom = map[string]bool{}
	}
	return out, nodes, nil
}

func (c *Collector) engineNode(ctx context.Context) (docker.EngineNode, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	n, err := c.opts.Source.EngineNode(ctx)
	if err != nil {
		return n, fmt.Errorf("metrics: %w", err)
	}
	return n, nil
}

// containerSample turns two counter readings into a sample: CPU % as
// docker stats computes it (container CPU delta over host CPU delta, times
// the online CPUs, times 100) and per-second rates over the time between.
func containerSample(now time.Time, t docker.TaskContainer, prev, cur docker.ContainerCounters) (db.ContainerSample, bool) {
	secs := cur.Read.Sub(prev.Read).Seconds()
	if secs <= 0 || cur.CPUTotal < prev.CPUTotal || cur.SystemTotal < prev.SystemTotal {
		return db.ContainerSample{}, false // a restarted counter: wait for the next one
	}
	s := db.ContainerSample{
		TS: now, Target: docker.ServiceTarget(t.Service, t.Stack), Service: t.Service, ContainerID: t.ContainerID, Replica: t.Slot, Node: t.NodeID,
		CPU: CPUPercent(prev, cur), Mem: int64(cur.Memory), MemLimit: int64(cur.MemoryLimit),
		NetRx: rate(prev.NetRx, cur.NetRx, secs), NetTx: rate(prev.NetTx, cur.NetTx, secs),
		BlkRead: rate(prev.BlkRead, cur.BlkRead, secs), BlkWrite: rate(prev.BlkWrite, cur.BlkWrite, secs),
		Restarts: t.Restarts, OOM: t.OOMKills,
	}
	return s, true
}

// CPUPercent is docker stats' CPU %: 100 is one CPU fully busy.
func CPUPercent(prev, cur docker.ContainerCounters) float64 {
	sys := float64(cur.SystemTotal) - float64(prev.SystemTotal)
	used := float64(cur.CPUTotal) - float64(prev.CPUTotal)
	if sys <= 0 || used < 0 {
		return 0
	}
	cpus := float64(cur.OnlineCPUs)
	if cpus == 0 {
		cpus = 1
	}
	return used / sys * cpus * 100
}

func rate(prev, cur uint64, secs float64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur-prev) / secs
}
