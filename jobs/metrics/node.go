package metrics

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
)

// cpuTimes is the first line of /proc/stat: jiffies busy and in total.
type cpuTimes struct {
	busy, total uint64
	cpus        int
}

// readCPU parses /proc/stat: idle and iowait are not busy.
func readCPU(data []byte) (cpuTimes, bool) {
	var t cpuTimes
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			t.cpus++
			continue
		}
		found = true
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i >= 8 { // guest time is already in user and nice
				break
			}
			t.total += n
			if i != 3 && i != 4 { // idle, iowait
				t.busy += n
			}
		}
	}
	return t, found
}

// readMeminfo returns MemTotal and MemTotal - MemAvailable, in bytes.
func readMeminfo(data []byte) (total, used int64, ok bool) {
	var avail int64 = -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total = n * 1024
		case "MemAvailable:":
			avail = n * 1024
		}
	}
	if total == 0 || avail < 0 {
		return 0, 0, false
	}
	return total, total - avail, true
}

// readLoadavg returns the 1, 5 and 15 minute load averages.
func readLoadavg(data []byte) (l1, l5, l15 float64) {
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return 0, 0, 0
	}
	l1, _ = strconv.ParseFloat(f[0], 64)
	l5, _ = strconv.ParseFloat(f[1], 64)
	l15, _ = strconv.ParseFloat(f[2], 64)
	return l1, l5, l15
}

// diskUsage is statfs of a path: bytes used and in total.
func diskUsage(path string) (used, total int64) {
	var st syscall.Statfs_t
	if path == "" || syscall.Statfs(path, &st) != nil {
		return 0, 0
	}
	bs := int64(st.Bsize) //nolint:unconvert // Bsize is int64 on amd64, int32 elsewhere
	total = int64(st.Blocks) * bs
	used = (int64(st.Blocks) - int64(st.Bfree)) * bs
	return used, total
}

// sampleNode reads this host's /proc and the disk of the data root; the
// first call only sets the CPU baseline.
func (c *Collector) sampleNode(now time.Time, n docker.EngineNode) (db.NodeSample, bool) {
	stat, err := os.ReadFile(filepath.Join(c.opts.ProcRoot, "stat"))
	if err != nil {
		return db.NodeSample{}, false
	}
	cur, ok := readCPU(stat)
	if !ok {
		return db.NodeSample{}, false
	}
	c.mu.Lock()
	prev := c.cpu
	c.cpu = cur
	c.mu.Unlock()
	if prev.total == 0 || cur.total <= prev.total {
		return db.NodeSample{}, false
	}
	mem, err := os.ReadFile(filepath.Join(c.opts.ProcRoot, "meminfo"))
	if err != nil {
		return db.NodeSample{}, false
	}
	total, used, ok := readMeminfo(mem)
	if !ok {
		return db.NodeSample{}, false
	}
	load, _ := os.ReadFile(filepath.Join(c.opts.ProcRoot, "loadavg"))
	s := db.NodeSample{TS: now, Node: n.NodeID, Hostname: n.Hostname, CPUs: cur.cpus, MemTotal: total, MemUsed: used,
		CPU: float64(cur.busy-prev.busy) / float64(cur.total-prev.total) * 100}
	if s.Node == "" {
		s.Node, _ = os.Hostname()
	}
	if s.Hostname == "" {
		s.Hostname = s.Node
	}
	s.Load1, s.Load5, s.Load15 = readLoadavg(load)
	s.DiskUsed, s.DiskTotal = diskUsage(n.DataRoot)
	return s, true
}
