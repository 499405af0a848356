package ops

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
)

// Bounds of the metrics settings. Raw samples are kept at least a day so
// the 24-hour charts are whole; roll-ups at least a week for the 7-day one.
const (
	minMetricsInterval, maxMetricsInterval = 5, 300
	minMetricsRawHours, maxMetricsRawHours = 24, 720
	minMetricsRollups, maxMetricsRollups   = 7, 3650
)

// SetMetricsSettings validates and saves the collector's interval and the
// retention of samples; a nil field keeps its value. The collector reads
// them every round.
func (s *Service) SetMetricsSettings(ctx context.Context, interval, rawHours, rollupDays *int) error {
	errs := FieldErrors{}
	values := map[string]string{}
	check := func(field, key string, v *int, lo, hi int, msg string) {
		if v == nil {
			return
		}
		if *v < lo || *v > hi {
			errs[field] = msg
		}
		values[key] = strconv.Itoa(*v)
	}
	check("interval_seconds", db.SettingMetricsInterval, interval, minMetricsInterval, maxMetricsInterval,
		"Sample every 5 to 300 seconds.")
	check("raw_hours", db.SettingMetricsRawHours, rawHours, minMetricsRawHours, maxMetricsRawHours,
		"Keep raw samples 24 to 720 hours (the 24-hour charts read them).")
	check("rollup_days", db.SettingMetricsRollupDays, rollupDays, minMetricsRollups, maxMetricsRollups,
		"Keep 5-minute averages 7 to 3650 days (the 7-day charts read them).")
	if len(errs) > 0 {
		return errs
	}
	return s.saveSettings(ctx, values)
}

// MetricsRanges are the ranges the charts offer, shortest first.
var MetricsRanges = []string{"1h", "6h", "24h", "7d"}

// metricsWindow reads the range parameter (1h when empty).
func metricsWindow(name string, now time.Time) (db.MetricsWindow, string, error) {
	if name == "" {
		name = "1h"
	}
	w, ok := db.MetricsRangeWindow(name, now)
	if !ok {
		return w, name, fieldError("range", "range must be 1h, 6h, 24h or 7d")
	}
	return w, name, nil
}

// ReplicaSeries is one replica's line on every chart of a service. The
// arrays share TS (Unix seconds, one per bucket).
type ReplicaSeries struct {
	Service  string              `json:"service"` // the Swarm service
	Replica  int                 `json:"replica"` // task slot, 0 for global services
	Node     string              `json:"node"`
	Label    string              `json:"label"`
	MemLimit int64               `json:"mem_limit"` // bytes; the host's memory when the service has no limit
	TS       []int64             `json:"ts"`
	CPU      []float64           `json:"cpu"` // percent of one CPU
	Mem      []int64             `json:"mem"` // bytes
	NetRx    []float64           `json:"net_rx"`
	NetTx    []float64           `json:"net_tx"` // bytes per second
	BlkRead  []float64           `json:"blk_read"`
	BlkWrite []float64           `json:"blk_write"`
	Restarts []int               `json:"restarts"`
	OOM      []int               `json:"oom"`
	Current  *db.ContainerSample `json:"current"` // the newest sample; null when the replica stopped reporting
}

// ServiceMetrics is what a service's charts show.
type ServiceMetrics struct {
	Range           string          `json:"range"`
	From            time.Time       `json:"from"`
	To              time.Time       `json:"to"`
	StepSeconds     int             `json:"step_seconds"`
	IntervalSeconds int             `json:"interval_seconds"`
	Series          []ReplicaSeries `json:"series"`
}

// ServiceMetrics reads the charts of an app, database or compose stack
// (service, when set, keeps one of the stack's services) over a range.
func (s *Service) ServiceMetrics(ctx context.Context, kind string, id int64, service, rangeName string) (ServiceMetrics, error) {
	now := time.Now()
	w, rangeName, err := metricsWindow(rangeName, now)
	if err != nil {
		return ServiceMetrics{}, err
	}
	if service != "" && (kind != db.KindCompose || !composeServiceName.MatchString(service)) {
		return ServiceMetrics{}, fieldError("service", "service must name a service of the compose file")
	}
	swarmName := ""
	if kind != db.KindCompose || service != "" {
		name, _, err := s.LogTarget(ctx, kind, id, LogFilter{Service: service})
		if err != nil {
			return ServiceMetrics{}, err
		}
		swarmName = name
	} else if _, err := s.store.Compose(ctx, id); err != nil {
		return ServiceMetrics{}, err
	}
	m, err := s.store.MetricsSettings(ctx)
	if err != nil {
		return ServiceMetrics{}, err
	}
	pts, err := s.store.ContainerMetrics(ctx, id, swarmName, w)
	if err != nil {
		return ServiceMetrics{}, err
	}
	latest, err := s.store.LatestContainerSamples(ctx, id, swarmName, now.Add(-3*time.Duration(m.IntervalSeconds)*time.Second))
	if err != nil {
		return ServiceMetrics{}, err
	}
	out := ServiceMetrics{Range: rangeName, From: w.From.UTC(), To: w.To.UTC(), StepSeconds: int(w.Step.Seconds()),
		IntervalSeconds: m.IntervalSeconds, Series: []ReplicaSeries{}}
	type key struct {
		service, node string
		replica       int
	}
	index := map[key]int{}
	for _, p := range pts {
		k := key{p.Service, p.Node, p.Replica}
		i, ok := index[k]
		if !ok {
			i = len(out.Series)
			index[k] = i
			out.Series = append(out.Series, ReplicaSeries{Service: p.Service, Replica: p.Replica, Node: p.Node,
				Label: replicaLabel(kind, p.Service, p.Replica, p.Node)})
		}
		r := &out.Series[i]
		r.TS = append(r.TS, p.T.Unix())
		r.CPU, r.Mem = append(r.CPU, p.CPU), append(r.Mem, p.Mem)
		r.NetRx, r.NetTx = append(r.NetRx, p.NetRx), append(r.NetTx, p.NetTx)
		r.BlkRead, r.BlkWrite = append(r.BlkRead, p.BlkRead), append(r.BlkWrite, p.BlkWrite)
		r.Restarts, r.OOM = append(r.Restarts, p.Restarts), append(r.OOM, p.OOM)
		r.MemLimit = p.MemLimit
	}
	for i := range latest {
		l := latest[i]
		if j, ok := index[key{l.Service, l.Node, l.Replica}]; ok {
			out.Series[j].Current = &l
			out.Series[j].MemLimit = l.MemLimit
		}
	}
	return out, nil
}

// replicaLabel names a line: "replica 2", "web replica 1" in a stack, or
// the node of a global service.
func replicaLabel(kind, service string, replica int, node string) string {
	l := "replica " + strconv.Itoa(replica)
	if replica == 0 {
		if len(node) > 12 {
			node = node[:12]
		}
		l = "node " + node
	}
	if kind == db.KindCompose {
		if _, svc, ok := strings.Cut(service, "_"); ok {
			return svc + " " + l
		}
	}
	return l
}

// NodeSeries is one node's line on the Server page's charts.
type NodeSeries struct {
	Node      string         `json:"node"`
	Hostname  string         `json:"hostname"`
	CPUs      int            `json:"cpus"`
	MemTotal  int64          `json:"mem_total"` // bytes
	DiskTotal int64          `json:"disk_total"`
	TS        []int64        `json:"ts"`
	CPU       []float64      `json:"cpu"` // percent of all CPUs
	MemUsed   []int64        `json:"mem_used"`
	DiskUsed  []int64        `json:"disk_used"`
	Load1     []float64      `json:"load1"`
	Load5     []float64      `json:"load5"`
	Load15    []float64      `json:"load15"`
	Current   *db.NodeSample `json:"current"`
}

// ServerMetrics is what the Server page's charts show.
type ServerMetrics struct {
	Range           string       `json:"range"`
	From            time.Time    `json:"from"`
	To              time.Time    `json:"to"`
	StepSeconds     int          `json:"step_seconds"`
	IntervalSeconds int          `json:"interval_seconds"`
	Nodes           []NodeSeries `json:"nodes"`
}

// ServerMetrics reads every node's charts over a range.
func (s *Service) ServerMetrics(ctx context.Context, rangeName string) (ServerMetrics, error) {
	now := time.Now()
	w, rangeName, err := metricsWindow(rangeName, now)
	if err != nil {
		return ServerMetrics{}, err
	}
	m, err := s.store.MetricsSettings(ctx)
	if err != nil {
		return ServerMetrics{}, err
	}
	pts, err := s.store.NodeMetrics(ctx, w)
	if err != nil {
		return ServerMetrics{}, err
	}
	latest, err := s.store.LatestNodeSamples(ctx, now.Add(-3*time.Duration(m.IntervalSeconds)*time.Second))
	if err != nil {
		return ServerMetrics{}, err
	}
	out := ServerMetrics{Range: rangeName, From: w.From.UTC(), To: w.To.UTC(), StepSeconds: int(w.Step.Seconds()),
		IntervalSeconds: m.IntervalSeconds, Nodes: []NodeSeries{}}
	index := map[string]int{}
	for _, p := range pts {
		i, ok := index[p.Node]
		if !ok {
			i = len(out.Nodes)
			index[p.Node] = i
			out.Nodes = append(out.Nodes, NodeSeries{Node: p.Node})
		}
		n := &out.Nodes[i]
		n.Hostname, n.CPUs, n.MemTotal, n.DiskTotal = p.Hostname, p.CPUs, p.MemTotal, p.DiskTotal
		n.TS = append(n.TS, p.T.Unix())
		n.CPU, n.MemUsed, n.DiskUsed = append(n.CPU, p.CPU), append(n.MemUsed, p.MemUsed), append(n.DiskUsed, p.DiskUsed)
		n.Load1, n.Load5, n.Load15 = append(n.Load1, p.Load1), append(n.Load5, p.Load5), append(n.Load15, p.Load15)
	}
	for i := range latest {
		l := latest[i]
		if j, ok := index[l.Node]; ok {
			n := &out.Nodes[j]
			n.Current, n.Hostname, n.CPUs, n.MemTotal, n.DiskTotal = &l, l.Hostname, l.CPUs, l.MemTotal, l.DiskTotal
		}
	}
	return out, nil
}

// Bounds of one agent push.
const (
	maxPushContainers = 5000
	maxPushNodes      = 4
	maxPushSkew       = 10 * time.Minute
)

// PushMetrics stores a round an agent sent, after checking it is sane:
// bounded in size, timestamps near now, no negative values, names short.
// Samples of no service of ours are dropped by the store.
func (s *Service) PushMetrics(ctx context.Context, containers []db.ContainerSample, nodes []db.NodeSample) error {
	if len(containers) > maxPushContainers || len(nodes) > maxPushNodes {
		return fieldError("containers", "at most 5000 container and 4 node samples a push")
	}
	now := time.Now()
	near := func(t time.Time) bool { return t.After(now.Add(-maxPushSkew)) && t.Before(now.Add(maxPushSkew)) }
	short := func(v ...string) bool {
		for _, x := range v {
			if x == "" || len(x) > 200 {
				return false
			}
		}
		return true
	}
	for i, c := range containers {
		if !near(c.TS) {
			return fieldError("containers", fmt.Sprintf("sample %d: ts must be within 10 minutes of the control plane's clock", i))
		}
		if !short(c.Target, c.Service, c.ContainerID, c.Node) || c.Replica < 0 {
			return fieldError("containers", fmt.Sprintf("sample %d: target, service, container_id and node are needed (200 characters at most)", i))
		}
		if c.CPU < 0 || c.Mem < 0 || c.MemLimit < 0 || c.NetRx < 0 || c.NetTx < 0 || c.BlkRead < 0 || c.BlkWrite < 0 || c.Restarts < 0 || c.OOM < 0 {
			return fieldError("containers", fmt.Sprintf("sample %d: values cannot be negative", i))
		}
	}
	for i, n := range nodes {
		if !near(n.TS) {
			return fieldError("nodes", fmt.Sprintf("sample %d: ts must be within 10 minutes of the control plane's clock", i))
		}
		if !short(n.Node, n.Hostname) || n.CPU < 0 || n.MemUsed < 0 || n.MemTotal < 0 || n.DiskUsed < 0 || n.DiskTotal < 0 || n.CPUs < 0 {
			return fieldError("nodes", fmt.Sprintf("sample %d: node and hostname are needed and values cannot be negative", i))
		}
	}
	return s.store.InsertMetrics(ctx, containers, nodes)
}
