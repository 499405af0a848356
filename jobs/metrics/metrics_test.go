package metrics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"dokploy/jobs/docker"
)

type fakeSource struct {
	mu       sync.Mutex
	tasks    []docker.TaskContainer
	counters map[string]docker.ContainerCounters
	fail     map[string]bool
}

func (f *fakeSource) LocalTaskContainers(context.Context, map[string]bool) ([]docker.TaskContainer, error) {
	return f.tasks, nil
}

func (f *fakeSource) ContainerCounters(_ context.Context, id string) (docker.ContainerCounters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[id] {
		return docker.ContainerCounters{}, errors.New("boom")
	}
	return f.counters[id], nil
}

func (f *fakeSource) EngineNode(context.Context) (docker.EngineNode, error) {
	return docker.EngineNode{NodeID: "node1", Hostname: "host1", DataRoot: os.TempDir()}, nil
}

func writeProc(t *testing.T, dir string, busy, idle int) {
	t.Helper()
	stat := "cpu  " + strconv.Itoa(busy) + " 0 0 " + strconv.Itoa(idle) + " 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n"
	files := map[string]string{"stat": stat, "meminfo": "MemTotal:       4000000 kB\nMemFree: 1 kB\nMemAvailable:   1000000 kB\n",
		"loadavg": "0.50 1.25 2.00 1/100 42\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The second round turns counters into CPU % (docker stats' formula),
// working-set memory and per-second rates; a container whose stats fail
// is left out without stopping the others; the node's CPU, memory and load
// come from /proc.
func TestSample_RatesFromPreviousRound(t *testing.T) {
	proc := t.TempDir()
	writeProc(t, proc, 100, 100)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &fakeSource{
		tasks: []docker.TaskContainer{
			{ContainerID: "a", Service: "web", Slot: 1, NodeID: "node1", Restarts: 2, OOMKills: 1},
			{ContainerID: "b", Service: "shop_db", Stack: "shop", Slot: 1, NodeID: "node1"},
			{ContainerID: "c", Service: "web", Slot: 2, NodeID: "node1"},
		},
		counters: map[string]docker.ContainerCounters{
			"a": {Read: t0, CPUTotal: 0, SystemTotal: 0, OnlineCPUs: 2, Memory: 64 << 20, NetRx: 0, BlkWrite: 0},
			"b": {Read: t0, OnlineCPUs: 2},
			"c": {Read: t0, OnlineCPUs: 2},
		},
		fail: map[string]bool{},
	}
	c := New(Options{Source: src, ProcRoot: proc})
	cs, ns, err := c.Sample(context.Background())
	if err != nil || len(cs) != 0 || len(ns) != 0 {
		t.Fatalf("first round: %v %v %v, want only baselines", cs, ns, err)
	}
	writeProc(t, proc, 150, 150) // 50 busy of 100
	src.counters["a"] = docker.ContainerCounters{Read: t0.Add(10 * time.Second), CPUTotal: 5e9, SystemTotal: 20e9, OnlineCPUs: 2,
		Memory: 64 << 20, MemoryLimit: 1 << 30, NetRx: 10240, BlkWrite: 1 << 20}
	src.counters["b"] = docker.ContainerCounters{Read: t0.Add(10 * time.Second), CPUTotal: 1e9, SystemTotal: 20e9, OnlineCPUs: 2}
	src.fail["c"] = true
	cs, ns, err = c.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("samples %+v, want a and b (c failed)", cs)
	}
	a := cs[0]
	if a.CPU != 50 || a.Mem != 64<<20 || a.NetRx != 1024 || a.BlkWrite != float64(1<<20)/10 || a.Target != "web" || a.Replica != 1 || a.Restarts != 2 || a.OOM != 1 {
		t.Errorf("a: %+v, want cpu 50 %%, 64 MiB, rx 1024 B/s, write 104857.6 B/s", a)
	}
	if cs[1].Target != "shop" || cs[1].Service != "shop_db" || cs[1].CPU != 10 {
		t.Errorf("b: %+v, want target the stack, cpu 10 %%", cs[1])
	}
	if len(ns) != 1 {
		t.Fatalf("node samples %+v", ns)
	}
	n := ns[0]
	if n.CPU != 50 || n.CPUs != 2 || n.MemTotal != 4000000*1024 || n.MemUsed != 3000000*1024 || n.Load1 != 0.5 || n.Load15 != 2 ||
		n.Node != "node1" || n.DiskTotal <= 0 || n.DiskUsed <= 0 {
		t.Errorf("node %+v", n)
	}
}

func TestWorkingSet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		usage uint64
		stats map[string]uint64
		want  uint64
	}{
		{"cgroup v2", 100, map[string]uint64{"inactive_file": 30}, 70},
		{"cgroup v1", 100, map[string]uint64{"total_inactive_file": 40, "inactive_file": 1}, 60},
		{"no stats", 100, nil, 100},
		{"cache above usage", 100, map[string]uint64{"inactive_file": 300}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := docker.WorkingSet(tc.usage, tc.stats); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
