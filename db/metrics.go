package db

import (
	"context"
	"fmt"
	"time"
)

// Settings of the metrics collector and its storage.
const (
	SettingMetricsInterval   = "metrics_interval"    // seconds between samples
	SettingMetricsRawHours   = "metrics_raw_hours"   // raw samples kept, hours
	SettingMetricsRollupDays = "metrics_rollup_days" // 5-minute averages kept, days
)

// MetricsSettings say how often the collector samples and how long the
// samples are kept.
type MetricsSettings struct {
	IntervalSeconds int `json:"interval_seconds"`
	RawHours        int `json:"raw_hours"`
	RollupDays      int `json:"rollup_days"`
}

// DefaultMetricsSettings sample every 10 s, keep raw samples two days and
// 5-minute averages a month.
var DefaultMetricsSettings = MetricsSettings{IntervalSeconds: 10, RawHours: 48, RollupDays: 30}

// MetricsSettings returns the configured collector settings.
func (s *Store) MetricsSettings(ctx context.Context) (MetricsSettings, error) {
	m := DefaultMetricsSettings
	var err error
	if m.IntervalSeconds, err = s.intSetting(ctx, SettingMetricsInterval, m.IntervalSeconds); err != nil {
		return m, err
	}
	if m.RawHours, err = s.intSetting(ctx, SettingMetricsRawHours, m.RawHours); err != nil {
		return m, err
	}
	m.RollupDays, err = s.intSetting(ctx, SettingMetricsRollupDays, m.RollupDays)
	return m, err
}

// ContainerSample is one sample of one replica's container. Target names
// the product service it belongs to (the app's or database's Swarm name, or
// the compose stack); it is resolved to ServiceID on insert.
type ContainerSample struct {
	TS          time.Time `db:"ts" json:"ts"`
	Target      string    `db:"-" json:"target,omitempty"`
	ServiceID   int64     `db:"service_id" json:"-"`
	Service     string    `db:"service" json:"service"`
	ContainerID string    `db:"container_id" json:"container_id"`
	Replica     int       `db:"replica" json:"replica"`
	Node        string    `db:"node" json:"node"`
	CPU         float64   `db:"cpu" json:"cpu"` // percent of one CPU
	Mem         int64     `db:"mem" json:"mem"` // bytes
	MemLimit    int64     `db:"mem_limit" json:"mem_limit"`
	NetRx       float64   `db:"net_rx" json:"net_rx"` // bytes per second
	NetTx       float64   `db:"net_tx" json:"net_tx"`
	BlkRead     float64   `db:"blk_read" json:"blk_read"`
	BlkWrite    float64   `db:"blk_write" json:"blk_write"`
	Restarts    int       `db:"restarts" json:"restarts"`
	OOM         int       `db:"oom" json:"oom"`
}

// NodeSample is one sample of one node.
type NodeSample struct {
	TS        time.Time `db:"ts" json:"ts"`
	Node      string    `db:"node" json:"node"`
	Hostname  string    `db:"hostname" json:"hostname"`
	CPU       float64   `db:"cpu" json:"cpu"` // percent of all CPUs
	CPUs      int       `db:"cpus" json:"cpus"`
	MemUsed   int64     `db:"mem_used" json:"mem_used"`
	MemTotal  int64     `db:"mem_total" json:"mem_total"`
	DiskUsed  int64     `db:"disk_used" json:"disk_used"`
	DiskTotal int64     `db:"disk_total" json:"disk_total"`
	Load1     float64   `db:"load1" json:"load1"`
	Load5     float64   `db:"load5" json:"load5"`
	Load15    float64   `db:"load15" json:"load15"`
}

// InsertMetrics stores one round of samples in one transaction. Container
// samples whose Target is no service of ours are dropped.
func (s *Store) InsertMetrics(ctx context.Context, containers []ContainerSample, nodes []NodeSample) error {
	return s.InTx(ctx, func(tx *Store) error {
		for _, c := range containers {
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO container_samples (ts, service_id, service, container_id, replica, node, cpu, mem, mem_limit,
					net_rx, net_tx, blk_read, blk_write, restarts, oom)
				SELECT $1, id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM services WHERE name = $2`,
				c.TS, c.Target, c.Service, c.ContainerID, c.Replica, c.Node, c.CPU, c.Mem, c.MemLimit,
				c.NetRx, c.NetTx, c.BlkRead, c.BlkWrite, c.Restarts, c.OOM)
			if err != nil {
				return fmt.Errorf("db: insert container sample: %w", err)
			}
		}
		for _, n := range nodes {
			_, err := tx.db.ExecContext(ctx, `
				INSERT INTO node_samples (ts, node, hostname, cpu, cpus, mem_used, mem_total, disk_used, disk_total, load1, load5, load15)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				n.TS, n.Node, n.Hostname, n.CPU, n.CPUs, n.MemUsed, n.MemTotal, n.DiskUsed, n.DiskTotal, n.Load1, n.Load5, n.Load15)
			if err != nil {
				return fmt.Errorf("db: insert node sample: %w", err)
			}
		}
		return nil
	})
}

// RollupBucket is the width of a roll-up.
const RollupBucket = 5 * time.Minute

// RollupMetrics averages the raw samples of every complete 5-minute
// bucket not rolled up yet (and the last one again, for samples that came
// late) into the roll-up tables. It reads at most the raw retention's
// worth of samples, so its cost is bounded.
func (s *Store) RollupMetrics(ctx context.Context, m MetricsSettings, now time.Time) error {
	end := now.Truncate(RollupBucket)
	floor := now.Add(-time.Duration(m.RawHours) * time.Hour)
	for _, q := range []struct{ table, start, sql string }{
		{"container_rollups", `SELECT max(bucket) FROM container_rollups`, `
			INSERT INTO container_rollups (bucket, service_id, service, replica, node, samples, cpu, cpu_max, mem, mem_max,
				mem_limit, net_rx, net_tx, blk_read, blk_write, restarts, oom)
			SELECT date_bin('5 minutes', ts, TIMESTAMPTZ 'epoch') AS b, service_id, service, replica, node, count(*),
				avg(cpu), max(cpu), avg(mem)::bigint, max(mem), max(mem_limit), avg(net_rx), avg(net_tx),
				avg(blk_read), avg(blk_write), max(restarts), max(oom)
			FROM container_samples WHERE ts >= $1 AND ts < $2
			GROUP BY b, service_id, service, replica, node
			ON CONFLICT (service_id, service, replica, node, bucket) DO UPDATE SET samples = EXCLUDED.samples,
				cpu = EXCLUDED.cpu, cpu_max = EXCLUDED.cpu_max, mem = EXCLUDED.mem, mem_max = EXCLUDED.mem_max,
				mem_limit = EXCLUDED.mem_limit, net_rx = EXCLUDED.net_rx, net_tx = EXCLUDED.net_tx,
				blk_read = EXCLUDED.blk_read, blk_write = EXCLUDED.blk_write, restarts = EXCLUDED.restarts, oom = EXCLUDED.oom`},
		{"node_rollups", `SELECT max(bucket) FROM node_rollups`, `
			INSERT INTO node_rollups (bucket, node, hostname, samples, cpu, cpu_max, cpus, mem_used, mem_total,
				disk_used, disk_total, load1, load5, load15)
			SELECT date_bin('5 minutes', ts, TIMESTAMPTZ 'epoch') AS b, node, max(hostname), count(*), avg(cpu), max(cpu),
				max(cpus), avg(mem_used)::bigint, max(mem_total), avg(disk_used)::bigint, max(disk_total),
				avg(load1), avg(load5), avg(load15)
			FROM node_samples WHERE ts >= $1 AND ts < $2
			GROUP BY b, node
			ON CONFLICT (node, bucket) DO UPDATE SET hostname = EXCLUDED.hostname, samples = EXCLUDED.samples,
				cpu = EXCLUDED.cpu, cpu_max = EXCLUDED.cpu_max, cpus = EXCLUDED.cpus, mem_used = EXCLUDED.mem_used,
				mem_total = EXCLUDED.mem_total, disk_used = EXCLUDED.disk_used, disk_total = EXCLUDED.disk_total,
				load1 = EXCLUDED.load1, load5 = EXCLUDED.load5, load15 = EXCLUDED.load15`},
	} {
		var last *time.Time
		if err := s.db.GetContext(ctx, &last, q.start); err != nil {
			return fmt.Errorf("db: last %s: %w", q.table, err)
		}
		start := floor
		if last != nil && last.Add(-RollupBucket).After(start) {
			start = last.Add(-RollupBucket)
		}
		if _, err := s.db.ExecContext(ctx, q.sql, start, end); err != nil {
			return fmt.Errorf("db: roll up %s: %w", q.table, err)
		}
	}
	return nil
}

// MetricsPruneReport says what PruneMetrics removed.
type MetricsPruneReport struct {
	Raw     int64 `json:"raw"`
	Rollups int64 `json:"rollups"`
}

// PruneMetrics removes raw samples older than m.RawHours and roll-ups
// older than m.RollupDays.
func (s *Store) PruneMetrics(ctx context.Context, m MetricsSettings, now time.Time) (MetricsPruneReport, error) {
	var rep MetricsPruneReport
	raw := now.Add(-time.Duration(m.RawHours) * time.Hour)
	rolled := now.AddDate(0, 0, -m.RollupDays)
	for _, q := range []struct {
		sql string
		at  time.Time
		n   *int64
	}{
		{`DELETE FROM container_samples WHERE ts < $1`, raw, &rep.Raw},
		{`DELETE FROM node_samples WHERE ts < $1`, raw, &rep.Raw},
		{`DELETE FROM container_rollups WHERE bucket < $1`, rolled, &rep.Rollups},
		{`DELETE FROM node_rollups WHERE bucket < $1`, rolled, &rep.Rollups},
	} {
		res, err := s.db.ExecContext(ctx, q.sql, q.at)
		if err != nil {
			return rep, fmt.Errorf("db: prune metrics: %w", err)
		}
		n, _ := res.RowsAffected()
		*q.n += n
	}
	return rep, nil
}

// MetricsWindow is the time span a chart shows and how it is read: from
// raw samples or roll-ups, averaged into Step-wide buckets.
type MetricsWindow struct {
	From, To time.Time
	Step     time.Duration
	Rollups  bool
}

// MaxMetricPoints bounds the points of one series.
const MaxMetricPoints = 300

// Metrics ranges, as the API and the charts name them.
var metricsRanges = map[string]time.Duration{"1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// MetricsRangeWindow returns the window of a named range (1h, 6h, 24h or
// 7d) ending at now; ok is false for another name. Ranges up to 24 hours
// read raw samples, longer ones the 5-minute roll-ups; either way a series
// has at most MaxMetricPoints points.
func MetricsRangeWindow(name string, now time.Time) (w MetricsWindow, ok bool) {
	d, ok := metricsRanges[name]
	if !ok {
		return w, false
	}
	step := (d / MaxMetricPoints).Truncate(time.Second)
	if d > 24*time.Hour && step < RollupBucket {
		step = RollupBucket
	}
	return MetricsWindow{From: now.Add(-d), To: now, Step: step, Rollups: d > 24*time.Hour}, true
}

// ContainerPoint is one bucket of one replica's series.
type ContainerPoint struct {
	Service  string    `db:"service"`
	Replica  int       `db:"replica"`
	Node     string    `db:"node"`
	T        time.Time `db:"t"`
	CPU      float64   `db:"cpu"`
	Mem      int64     `db:"mem"`
	MemLimit int64     `db:"mem_limit"`
	NetRx    float64   `db:"net_rx"`
	NetTx    float64   `db:"net_tx"`
	BlkRead  float64   `db:"blk_read"`
	BlkWrite float64   `db:"blk_write"`
	Restarts int       `db:"restarts"`
	OOM      int       `db:"oom"`
}

// ContainerMetrics returns the bucketed samples of a service's replicas
// in w, ordered by replica then time; service, when not empty, keeps one
// Swarm service of a stack. A roll-up window adds the raw samples newer
// than the last roll-up, so the latest minutes show too.
func (s *Store) ContainerMetrics(ctx context.Context, serviceID int64, service string, w MetricsWindow) ([]ContainerPoint, error) {
	const cols = `service, replica, node, %s AS at, cpu, mem, mem_limit, net_rx, net_tx, blk_read, blk_write, restarts, oom`
	raw := fmt.Sprintf(`SELECT `+cols+` FROM container_samples WHERE service_id = $1 AND ts >= $2 AND ts <= $3 AND ($5 = '' OR service = $5)`, "ts")
	src := raw
	if w.Rollups {
		src = fmt.Sprintf(`SELECT `+cols+` FROM container_rollups WHERE service_id = $1 AND bucket >= $2 AND bucket <= $3 AND ($5 = '' OR service = $5)`, "bucket") +
			` UNION ALL ` + raw + ` AND ts >= (SELECT COALESCE(max(bucket) + interval '5 minutes', '-infinity') FROM container_rollups WHERE service_id = $1)`
	}
	q := `
		SELECT service, replica, node, date_bin(make_interval(secs => $4), at, TIMESTAMPTZ 'epoch') AS t,
			avg(cpu) AS cpu, avg(mem)::bigint AS mem, max(mem_limit) AS mem_limit, avg(net_rx) AS net_rx, avg(net_tx) AS net_tx,
			avg(blk_read) AS blk_read, avg(blk_write) AS blk_write, max(restarts) AS restarts, max(oom) AS oom
		FROM (` + src + `) src
		GROUP BY service, replica, node, t ORDER BY service, replica, node, t`
	var out []ContainerPoint
	err := s.db.SelectContext(ctx, &out, q, serviceID, w.From, w.To, w.Step.Seconds(), service)
	if err != nil {
		return nil, fmt.Errorf("db: container metrics of %d: %w", serviceID, err)
	}
	return out, nil
}

// LatestContainerSamples returns each replica's newest raw sample taken
// after since: the current values.
func (s *Store) LatestContainerSamples(ctx context.Context, serviceID int64, service string, since time.Time) ([]ContainerSample, error) {
	var out []ContainerSample
	err := s.db.SelectContext(ctx, &out, `
		SELECT DISTINCT ON (service, replica, node) ts, service_id, service, container_id, replica, node, cpu, mem, mem_limit,
			net_rx, net_tx, blk_read, blk_write, restarts, oom
		FROM container_samples WHERE service_id = $1 AND ts > $2 AND ($3 = '' OR service = $3)
		ORDER BY service, replica, node, ts DESC`, serviceID, since, service)
	if err != nil {
		return nil, fmt.Errorf("db: latest samples of %d: %w", serviceID, err)
	}
	return out, nil
}

// NodePoint is one bucket of one node's series.
type NodePoint struct {
	Node      string    `db:"node"`
	Hostname  string    `db:"hostname"`
	T         time.Time `db:"t"`
	CPU       float64   `db:"cpu"`
	CPUs      int       `db:"cpus"`
	MemUsed   int64     `db:"mem_used"`
	MemTotal  int64     `db:"mem_total"`
	DiskUsed  int64     `db:"disk_used"`
	DiskTotal int64     `db:"disk_total"`
	Load1     float64   `db:"load1"`
	Load5     float64   `db:"load5"`
	Load15    float64   `db:"load15"`
}

// NodeMetrics returns the bucketed samples of every node in w, ordered by
// node then time; a roll-up window adds the raw samples newer than the
// last roll-up.
func (s *Store) NodeMetrics(ctx context.Context, w MetricsWindow) ([]NodePoint, error) {
	const cols = `node, hostname, %s AS at, cpu, cpus, mem_used, mem_total, disk_used, disk_total, load1, load5, load15`
	raw := fmt.Sprintf(`SELECT `+cols+` FROM node_samples WHERE ts >= $1 AND ts <= $2`, "ts")
	src := raw
	if w.Rollups {
		src = fmt.Sprintf(`SELECT `+cols+` FROM node_rollups WHERE bucket >= $1 AND bucket <= $2`, "bucket") +
			` UNION ALL ` + raw + ` AND ts >= (SELECT COALESCE(max(bucket) + interval '5 minutes', '-infinity') FROM node_rollups)`
	}
	q := `
		SELECT node, max(hostname) AS hostname, date_bin(make_interval(secs => $3), at, TIMESTAMPTZ 'epoch') AS t,
			avg(cpu) AS cpu, max(cpus) AS cpus, avg(mem_used)::bigint AS mem_used, max(mem_total) AS mem_total,
			avg(disk_used)::bigint AS disk_used, max(disk_total) AS disk_total,
			avg(load1) AS load1, avg(load5) AS load5, avg(load15) AS load15
		FROM (` + src + `) src
		GROUP BY node, t ORDER BY node, t`
	var out []NodePoint
	if err := s.db.SelectContext(ctx, &out, q, w.From, w.To, w.Step.Seconds()); err != nil {
		return nil, fmt.Errorf("db: node metrics: %w", err)
	}
	return out, nil
}

// LatestNodeSamples returns each node's newest raw sample taken after since.
func (s *Store) LatestNodeSamples(ctx context.Context, since time.Time) ([]NodeSample, error) {
	var out []NodeSample
	err := s.db.SelectContext(ctx, &out, `
		SELECT DISTINCT ON (node) ts, node, hostname, cpu, cpus, mem_used, mem_total, disk_used, disk_total, load1, load5, load15
		FROM node_samples WHERE ts > $1 ORDER BY node, ts DESC`, since)
	if err != nil {
		return nil, fmt.Errorf("db: latest node samples: %w", err)
	}
	return out, nil
}

// MetricsService loads the service whose metrics a page shows.
func (s *Store) MetricsService(ctx context.Context, id int64) (*Service, error) {
	var out Service
	err := s.db.GetContext(ctx, &out, `SELECT * FROM services WHERE id = $1`, id)
	return &out, notFound("service", err)
}
