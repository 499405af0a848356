package db_test

import (
	"context"
	"math"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// Roll-ups average each replica's raw samples over 5-minute buckets, and
// retention drops raw samples and roll-ups past their age; the ranges read
// the right table with bounded points.
func TestMetricsRollupAndRetention(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	p, err := store.CreateProject(ctx, "Metrics", "")
	if err != nil {
		t.Fatal(err)
	}
	env, err := store.EnvironmentByName(ctx, p.ID, db.DefaultEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	app := &db.App{EnvironmentID: env.ID, Name: "web", AppName: "web", SourceType: db.SourceImage, Image: "nginx:1",
		Port: 8080, Replicas: 1, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile"}
	if err := store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 12, 2, 30, 0, time.UTC)
	bucket := now.Truncate(db.RollupBucket).Add(-db.RollupBucket) // 11:55, complete
	// Replica 1: cpu 10, 20, 30 and mem 100, 200, 300 MiB in the 11:55 bucket.
	var cs []db.ContainerSample
	for i, v := range []float64{10, 20, 30} {
		cs = append(cs, db.ContainerSample{TS: bucket.Add(time.Duration(i) * time.Minute), Target: "web", Service: "web",
			ContainerID: "c1", Replica: 1, Node: "n1", CPU: v, Mem: int64(v*10) << 20, MemLimit: 1 << 30, NetRx: v, Restarts: i, OOM: 0})
	}
	// Replica 2 in the same bucket, one sample; one current-bucket sample
	// (not rolled up yet); one old raw sample; one sample of no service.
	cs = append(cs,
		db.ContainerSample{TS: bucket.Add(time.Minute), Target: "web", Service: "web", ContainerID: "c2", Replica: 2, Node: "n1", CPU: 50, Mem: 64 << 20},
		db.ContainerSample{TS: now.Add(-10 * time.Second), Target: "web", Service: "web", ContainerID: "c1", Replica: 1, Node: "n1", CPU: 99, Mem: 1},
		db.ContainerSample{TS: now.Add(-49 * time.Hour), Target: "web", Service: "web", ContainerID: "c0", Replica: 1, Node: "n1", CPU: 1, Mem: 1},
		db.ContainerSample{TS: now, Target: "gone", Service: "gone", ContainerID: "x", Replica: 1, Node: "n1", CPU: 1, Mem: 1},
	)
	ns := []db.NodeSample{
		{TS: bucket, Node: "n1", Hostname: "h", CPU: 40, CPUs: 2, MemUsed: 1000, MemTotal: 4000, DiskUsed: 10, DiskTotal: 100, Load1: 1},
		{TS: bucket.Add(2 * time.Minute), Node: "n1", Hostname: "h", CPU: 60, CPUs: 2, MemUsed: 3000, MemTotal: 4000, DiskUsed: 10, DiskTotal: 100, Load1: 3},
	}
	if err := store.InsertMetrics(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	var raw int
	dbtest.MustGet(t, store, &raw, `SELECT count(*) FROM container_samples`)
	if raw != 6 {
		t.Fatalf("raw samples stored: %d, want 6 (the sample of no service dropped)", raw)
	}

	m := db.DefaultMetricsSettings
	if err := store.RollupMetrics(ctx, m, now); err != nil {
		t.Fatal(err)
	}
	if err := store.RollupMetrics(ctx, m, now); err != nil { // idempotent
		t.Fatal(err)
	}
	type rollup struct {
		Bucket   time.Time `db:"bucket"`
		Replica  int       `db:"replica"`
		Samples  int       `db:"samples"`
		CPU      float64   `db:"cpu"`
		CPUMax   float64   `db:"cpu_max"`
		Mem      int64     `db:"mem"`
		Restarts int       `db:"restarts"`
	}
	var rs []rollup
	if err := store.DB().SelectContext(ctx, &rs, `SELECT bucket, replica, samples, cpu, cpu_max, mem, restarts FROM container_rollups ORDER BY bucket, replica`); err != nil {
		t.Fatal(err)
	}
	// The 49-hour-old sample is beyond the raw retention: not rolled up.
	if len(rs) != 2 {
		t.Fatalf("roll-ups: %+v, want replica 1 and 2 of %s", rs, bucket)
	}
	r1 := rs[0]
	if !r1.Bucket.Equal(bucket) || r1.Replica != 1 || r1.Samples != 3 || r1.CPU != 20 || r1.CPUMax != 30 || r1.Mem != 200<<20 || r1.Restarts != 2 {
		t.Errorf("replica 1 roll-up %+v, want bucket %s, 3 samples, cpu avg 20 max 30, mem 200 MiB, restarts 2", r1, bucket)
	}
	if rs[1].Replica != 2 || rs[1].Samples != 1 || rs[1].CPU != 50 {
		t.Errorf("replica 2 roll-up %+v", rs[1])
	}
	var nodeCPU, nodeMem float64
	dbtest.MustGet(t, store, &nodeCPU, `SELECT cpu FROM node_rollups WHERE bucket = $1`, bucket)
	dbtest.MustGet(t, store, &nodeMem, `SELECT mem_used FROM node_rollups WHERE bucket = $1`, bucket)
	if nodeCPU != 50 || nodeMem != 2000 {
		t.Errorf("node roll-up cpu %v mem %v, want 50 and 2000", nodeCPU, nodeMem)
	}

	// The 7-day range reads the roll-ups, the 1-hour range raw samples.
	w, ok := db.MetricsRangeWindow("7d", now)
	if !ok || !w.Rollups || w.Step < db.RollupBucket {
		t.Fatalf("7d window %+v", w)
	}
	// Read it with 5-minute steps: the roll-ups, then the raw samples
	// newer than the last roll-up (the old raw one is not among them).
	w.Step = db.RollupBucket
	pts, err := store.ContainerMetrics(ctx, app.ID, "", w)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || pts[0].Replica != 1 || pts[0].CPU != 20 || !pts[1].T.Equal(bucket.Add(db.RollupBucket)) || pts[1].CPU != 99 ||
		pts[2].Replica != 2 || pts[2].CPU != 50 {
		t.Errorf("7d points %+v, want replica 1's roll-up and newer raw sample, and replica 2's roll-up", pts)
	}
	nodes, err := store.NodeMetrics(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].CPU != 50 || nodes[0].MemTotal != 4000 {
		t.Errorf("7d node points %+v", nodes)
	}
	w, _ = db.MetricsRangeWindow("1h", now)
	if w.Rollups || w.Step != 12*time.Second || int(time.Hour/w.Step) > db.MaxMetricPoints {
		t.Fatalf("1h window %+v", w)
	}
	pts, err = store.ContainerMetrics(ctx, app.ID, "", w)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 5 || pts[3].CPU != 99 || pts[4].Replica != 2 {
		t.Errorf("1h points %+v, want 4 of replica 1 and 1 of replica 2 (each minute its own bucket)", pts)
	}
	if _, ok := db.MetricsRangeWindow("2h", now); ok {
		t.Error("2h accepted")
	}

	// Retention: raw beyond 48 h and roll-ups beyond 30 days go.
	dbtest.MustExec(t, store, `INSERT INTO container_rollups (bucket, service_id, service, replica, node, samples, cpu, cpu_max, mem, mem_max,
		mem_limit, net_rx, net_tx, blk_read, blk_write, restarts, oom) VALUES ($1, $2, 'web', 1, 'n1', 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0)`,
		now.AddDate(0, 0, -31), app.ID)
	rep, err := store.PruneMetrics(ctx, m, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Raw != 1 || rep.Rollups != 1 {
		t.Errorf("pruned %+v, want 1 raw (49 h old) and 1 roll-up (31 days old)", rep)
	}
	var oldest time.Time
	dbtest.MustGet(t, store, &oldest, `SELECT min(ts) FROM container_samples`)
	if math.Abs(now.Sub(oldest).Hours()) > 48 {
		t.Errorf("oldest raw sample %s survived", oldest)
	}
	latest, err := store.LatestContainerSamples(ctx, app.ID, "", now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].CPU != 99 {
		t.Errorf("latest %+v, want replica 1's sample of 10 s ago", latest)
	}

	// A service's samples go with it.
	dbtest.MustExec(t, store, `DELETE FROM services WHERE id = $1`, app.ID)
	dbtest.MustGet(t, store, &raw, `SELECT count(*) FROM container_samples`)
	if raw != 0 {
		t.Errorf("%d samples of a deleted service", raw)
	}
}
