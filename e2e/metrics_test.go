package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

type metricsSample struct {
	ContainerID string  `json:"container_id"`
	CPU         float64 `json:"cpu"`
	Mem         int64   `json:"mem"`
	Restarts    int     `json:"restarts"`
	OOM         int     `json:"oom"`
}

type metricsAnswer struct {
	Range  string `json:"range"`
	Series []struct {
		Service string         `json:"service"`
		Replica int            `json:"replica"`
		Label   string         `json:"label"`
		TS      []int64        `json:"ts"`
		CPU     []float64      `json:"cpu"`
		Mem     []int64        `json:"mem"`
		Current *metricsSample `json:"current"`
	} `json:"series"`
}

type serverAnswer struct {
	Nodes []struct {
		Node    string `json:"node"`
		TS      []int64
		Current *struct {
			CPU       float64 `json:"cpu"`
			CPUs      int     `json:"cpus"`
			MemUsed   int64   `json:"mem_used"`
			MemTotal  int64   `json:"mem_total"`
			DiskUsed  int64   `json:"disk_used"`
			DiskTotal int64   `json:"disk_total"`
			Load1     float64 `json:"load1"`
		} `json:"current"`
	} `json:"nodes"`
}

// TestMetrics deploys a service limited to one CPU that keeps it busy and
// holds 200 MiB, and reads what the collector saw through the API (the
// chart's data): CPU ≈ 100 % ± 15 (the median of recent samples; no sample
// above 115), memory 200 MiB ± 10 % and within 10 % of what docker stats
// shows for the same container, a replica line; the node's memory total
// is the host's MemTotal. Then the app page draws the charts in Chromium
// with no console error.
func TestMetrics(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	image := metricsBurnImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	c.mustAPI(t, "PATCH", "/api/v1/settings/metrics", map[string]any{"interval_seconds": 5}, http.StatusOK, nil)
	project := c.newProject(t)
	app, name := c.newApp(t, project, map[string]any{"type": "image", "image": image})
	const holdMiB = 200
	c.mustAPI(t, "PATCH", fmt.Sprintf("/api/v1/applications/%d", app), map[string]any{"env": map[string]string{"HOLD_MB": strconv.Itoa(holdMiB)},
		"cpu_limit": 1.0}, http.StatusOK, nil)
	if d := c.waitFinished(t, c.deploy(t, app), 3*time.Minute); d.Status != "done" {
		t.Fatalf("deploy: %s %s", d.Status, d.Error)
	}
	metricsFavourCPU(t, name)

	// The collector restarts its interval with the setting, so samples of
	// the new service come within a few rounds.
	base := fmt.Sprintf("/api/v1/services/app/%d/metrics?range=1h", app)
	var got metricsAnswer
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c.mustAPI(t, "GET", base, nil, http.StatusOK, &got)
		// One CPU busy: the median of the last three samples is 100 ± 15.
		// (The first sample after start-up may be partial; a loaded host
		// may starve one round, hence the median and the wait.)
		if len(got.Series) == 1 && got.Series[0].Current != nil && len(got.Series[0].CPU) >= 4 {
			if m := metricsMedian(got.Series[0].CPU[len(got.Series[0].CPU)-3:]); m >= 85 && m <= 115 {
				break
			}
		}
		if time.Now().After(deadline) {
			load, _ := os.ReadFile("/proc/loadavg")
			t.Fatalf("no replica at 100 %% ± 15 CPU within 3 minutes (load %s): %+v", strings.TrimSpace(string(load)), got)
		}
		time.Sleep(2 * time.Second)
	}
	s := got.Series[0]
	if s.Service != name || s.Replica != 1 || s.Label != "replica 1" || len(s.CPU) != len(s.TS) || len(s.Mem) != len(s.TS) {
		t.Errorf("series %+v, want one line for replica 1 of %s", s, name)
	}
	for i, v := range s.CPU[1:] {
		if v > 115 {
			t.Errorf("sample %d: CPU %.1f %% above 115 for a service limited to one CPU", i+1, v)
		}
	}
	t.Logf("replica 1: cpu %v %%, mem %.1f MiB, %d points", s.CPU, float64(s.Current.Mem)/(1<<20), len(s.TS))

	// Memory, against what it holds and against docker stats for the same
	// container at about the same time (both are usage minus inactive page
	// cache).
	out, err := exec.Command("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.CPUPerc}}", s.Current.ContainerID).CombinedOutput()
	if err != nil {
		t.Fatalf("docker stats: %v %s", err, out)
	}
	usage, dockerCPU, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	dockerMem := metricsParseSize(t, strings.TrimSpace(strings.SplitN(usage, "/", 2)[0]))
	t.Logf("docker stats: %s, CPU %s", usage, dockerCPU)
	time.Sleep(6 * time.Second) // one more round
	c.mustAPI(t, "GET", base, nil, http.StatusOK, &got)
	mem := got.Series[0].Current.Mem
	t.Logf("memory: collector %.1f MiB, docker stats %.1f MiB", float64(mem)/(1<<20), dockerMem/(1<<20))
	if d := (float64(mem) - holdMiB<<20) / (holdMiB << 20); d > 0.10 || d < -0.10 {
		t.Errorf("memory %.1f MiB, want the %d MiB the service holds ± 10 %%", float64(mem)/(1<<20), holdMiB)
	}
	if d := (float64(mem) - dockerMem) / dockerMem; d > 0.10 || d < -0.10 {
		t.Errorf("memory %d B differs from docker stats' %.0f B by %.0f %%", mem, dockerMem, d*100)
	}
	if cur := got.Series[0].Current; cur.Restarts != 0 || cur.OOM != 0 {
		t.Errorf("current %+v, want no restarts, no OOM kills", cur)
	}

	// The node: plausible CPU, memory total = MemTotal, disk of the data root.
	var srv serverAnswer
	c.mustAPI(t, "GET", "/api/v1/server/metrics?range=6h", nil, http.StatusOK, &srv)
	if len(srv.Nodes) != 1 || srv.Nodes[0].Current == nil {
		t.Fatalf("server metrics: %+v", srv)
	}
	n := srv.Nodes[0].Current
	if want := metricsMemTotal(t); n.MemTotal != want {
		t.Errorf("node memory total %d, want /proc/meminfo MemTotal %d", n.MemTotal, want)
	}
	if n.CPU <= 0 || n.CPU > 100 || n.CPUs < 1 || n.MemUsed <= 0 || n.MemUsed >= n.MemTotal || n.DiskTotal <= 0 ||
		n.DiskUsed <= 0 || n.DiskUsed > n.DiskTotal || n.Load1 < 0 {
		t.Errorf("node sample not plausible: %+v", n)
	}
	t.Logf("node: cpu %.1f %% of %d, mem %d/%d, disk %d/%d, load %.2f", n.CPU, n.CPUs, n.MemUsed, n.MemTotal, n.DiskUsed, n.DiskTotal, n.Load1)

	metricsAgent(t, c)

	// A range the API does not know.
	code, body, _ := c.api("GET", fmt.Sprintf("/api/v1/services/app/%d/metrics?range=3d", app), nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "1h, 6h, 24h or 7d") {
		t.Errorf("range=3d: %d %s", code, body)
	}

	metricsBrowser(t, c, app)
}

// TestMetrics_OOMKill deploys a service that outgrows its memory limit
// some seconds after it starts: the kernel kills it, Swarm restarts the
// slot, and the metrics count the restart and the OOM kill.
func TestMetrics_OOMKill(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	image := metricsBurnImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	c.mustAPI(t, "PATCH", "/api/v1/settings/metrics", map[string]any{"interval_seconds": 5}, http.StatusOK, nil)
	app, _ := c.newApp(t, c.newProject(t), map[string]any{"type": "image", "image": image})
	c.mustAPI(t, "PATCH", fmt.Sprintf("/api/v1/applications/%d", app), map[string]any{"memory_limit_mb": 96}, http.StatusOK, nil)
	c.mustAPI(t, "PUT", fmt.Sprintf("/api/v1/applications/%d/env", app), map[string]any{"env": map[string]string{"GROW_AFTER": "15s"}}, http.StatusOK, nil)
	if d := c.waitFinished(t, c.deploy(t, app), 3*time.Minute); d.Status != "done" {
		t.Fatalf("deploy: %s %s", d.Status, d.Error)
	}
	var got metricsAnswer
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/services/app/%d/metrics?range=1h", app), nil, http.StatusOK, &got)
		if len(got.Series) == 1 && got.Series[0].Current != nil && got.Series[0].Current.OOM >= 1 && got.Series[0].Current.Restarts >= 1 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("docker", "ps", "-a", "--filter", "label=com.docker.swarm.service.name", "--format", "{{.Names}} {{.Status}}").CombinedOutput()
			t.Fatalf("no OOM kill counted within 3 minutes: %+v\n%s", got, out)
		}
		time.Sleep(2 * time.Second)
	}
	cur := got.Series[0].Current
	t.Logf("replica 1: %d restarts, %d OOM kills, mem %.1f MiB", cur.Restarts, cur.OOM, float64(cur.Mem)/(1<<20))
	if cur.OOM > cur.Restarts {
		t.Errorf("%d OOM kills but %d restarts: every kill is a restart", cur.OOM, cur.Restarts)
	}
}

// metricsAgent runs `dokploy agent` against the control plane with the
// test's API token and a /proc of its own (a known MemTotal), and waits for
// its node samples to arrive through POST /api/v1/agent/metrics.
func metricsAgent(t *testing.T, c *resCluster) {
	t.Helper()
	proc := t.TempDir()
	const memKB = 12345678
	write := func(busy, idle int) {
		stat := fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n", busy, idle)
		for name, body := range map[string]string{"stat": stat, "loadavg": "0.25 0.20 0.15 1/10 1\n",
			"meminfo": fmt.Sprintf("MemTotal: %d kB\nMemAvailable: %d kB\n", memKB, memKB/2)} {
			if err := os.WriteFile(filepath.Join(proc, name+".tmp"), []byte(body), 0o644); err != nil {
				t.Error(err)
			}
			_ = os.Rename(filepath.Join(proc, name+".tmp"), filepath.Join(proc, name))
		}
	}
	write(0, 0)
	done := make(chan struct{})
	defer close(done)
	go func() { // the fake CPU counters advance, a quarter busy
		for i := 1; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
				write(25*i, 75*i)
			}
		}
	}()
	p := c.start(t, "agent", []string{"DOKPLOY_AGENT_URL=" + c.URL, "DOKPLOY_AGENT_TOKEN=" + c.token, "DOKPLOY_PROC_ROOT=" + proc}, "agent")
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		var cpu float64
		err := c.db.QueryRow(`SELECT count(*), COALESCE(max(cpu), 0) FROM node_samples WHERE mem_total = $1`, int64(memKB)*1024).Scan(&n, &cpu)
		if err == nil && n > 0 {
			if cpu < 20 || cpu > 30 {
				t.Errorf("agent's node CPU %.1f %%, want 25 %%", cpu)
			}
			t.Logf("agent pushed %d node samples", n)
			return
		}
		if !p.alive() || time.Now().After(deadline) {
			t.Fatalf("no node sample from the agent within a minute (alive %v, err %v); output:\n%s", p.alive(), err, p.log.String())
		}
		time.Sleep(time.Second)
	}
}

// metricsBrowser signs in with Chromium, opens the app page and waits for
// the four charts to draw a canvas, with no console error or exception.
func metricsBrowser(t *testing.T, c *resCluster, app int64) {
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is needed for the chart check: %v", err)
	}
	b := browserOpen(t, c.URL)
	var mu sync.Mutex
	var errs []string
	go func() {
		for m, err := range chromedp.Console(b.ctx) {
			if err != nil {
				return
			}
			if m.Type == "error" || m.IsException() {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
				mu.Unlock()
			}
		}
	}()
	b.step("sign in", 30*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/login"),
			chromedp.SendKeys(chromedp.CSS("#email"), resAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), resAdminPassword),
			chromedp.Submit(chromedp.CSS("#password"))); err != nil {
			return err
		}
		return b.waitPath(ctx, "/")
	})
	b.step("charts draw on the app page", 60*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/apps/%d/monitoring", c.URL, app))); err != nil {
			return err
		}
		return b.waitJS(ctx, "four chart canvases with a current value",
			`document.querySelectorAll("#service-metrics .chart canvas").length === 4 &&
			 /%/.test(document.querySelector('[data-chart="cpu"] .chart-now').textContent) &&
			 /MiB/.test(document.querySelector('[data-chart="mem"] .chart-now').textContent)`)
	})
	b.step("screenshot of the 1h charts", 30*time.Second, func(ctx context.Context) error {
		time.Sleep(time.Second) // the first resize
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#service-metrics")))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.out, "metrics-app-1h.png"), shot, 0o644)
	})
	b.step("range 7d and the Server page", 60*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#service-metrics [data-range="7d"]`))); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "7d pressed", `document.querySelector('#service-metrics [data-range="7d"]').getAttribute("aria-pressed") === "true"`); err != nil {
			return err
		}
		if err := b.screenshot(ctx, "metrics-app"); err != nil {
			return err
		}
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#service-metrics")))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.out, "metrics-app-panel.png"), shot, 0o644); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/server")); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "four node charts", `document.querySelectorAll("#server-metrics .chart canvas").length === 4 &&
			/CPUs/.test(document.querySelector('[data-chart="cpu"] .chart-now').textContent)`); err != nil {
			return err
		}
		return b.screenshot(ctx, "metrics-server")
	})
	b.step("the charts fit a phone", 60*time.Second, func(ctx context.Context) error {
		return b.checkPhoneFit(ctx, fmt.Sprintf("/apps/%d/monitoring", app), "/server")
	})
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 || len(b.exceptions()) > 0 {
		t.Errorf("console errors: %v %v", errs, b.exceptions())
	}
}

// metricsBurnImage builds the burn service FROM scratch.
func metricsBurnImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, "burn"), "./e2e/testdata/burn")
	cmd.Dir = testkit.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build burn: %v\n%s", err, b)
	}
	df := "FROM scratch\nCOPY burn /burn\nENV PORT=8080 GOMAXPROCS=8\nENTRYPOINT [\"/burn\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "dokploy-metrics-burn-" + srvRandomHex(4) + ":1"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", tag, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
	return tag
}

var metricsSizeRe = regexp.MustCompile(`^([0-9.]+)\s*([KMGT]?i?B)$`)

// metricsParseSize reads docker stats' sizes like 70.5MiB.
func metricsParseSize(t *testing.T, s string) float64 {
	t.Helper()
	m := metricsSizeRe.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("docker stats size %q", s)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}[m[2]]
	if mult == 0 {
		t.Fatalf("docker stats unit %q", m[2])
	}
	return v * mult
}

// metricsMemTotal is /proc/meminfo's MemTotal in bytes.
func metricsMemTotal(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`MemTotal:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no MemTotal in %s", b)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n * 1024
}

// metricsMedian is the median of v (not empty).
func metricsMedian(v []float64) float64 {
	s := append([]float64{}, v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// metricsFavourCPU gives the one replica of service a high CPU weight. The
// other test packages load this 2-core machine: the weight lets the
// replica have the CPU it may use, so what a test measures is the
// collector (or the alert), not the neighbours.
func metricsFavourCPU(t *testing.T, service string) {
	t.Helper()
	ids, err := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service).Output()
	if err != nil || len(strings.Fields(string(ids))) != 1 {
		t.Fatalf("the replica's container: %q %v", ids, err)
	}
	if out, err := exec.Command("docker", "update", "--cpu-shares", "100000", strings.TrimSpace(string(ids))).CombinedOutput(); err != nil {
		t.Fatalf("docker update --cpu-shares: %v %s", err, out)
	}
}
