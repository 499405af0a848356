package handlers

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/handlers/web"
	"dokploy/jobs"
	"dokploy/jobs/docker"
)

// BenchmarkAppPages100Open: 100 app pages stay open in 20 browsers (20
// sessions, 5 pages each) while nothing happens, and it measures what
// their live polls cost the machine. Each page polls its header (GET
// /apps/:id/header?seen=…) at the interval the header's hx-trigger asks
// for, read from every answer as htmx does (10 s idle, 2 s while
// something changes); a third of them are on the Deployments tab, which
// also polls its table at its own hx-trigger's interval (2 s). The pages
// are spread over 20 apps, 5 each: 8 apps have a real Swarm service (one
// replica of a FROM-scratch image of jobs/testdata/app built here, half
// of them with a health check; removed at the end), 12 were never
// deployed.
//
// It measures a window idle (services running, no page open), the same
// window with the pages polling, and a window idle again; what the polls
// add is the busy window minus the mean of the idle ones, for this
// process (the server: the pages run in a child process, this test binary
// re-executed, so their HTTP clients are not counted), dockerd, and the
// PostgreSQL backends of the test's database (sampled from /proc). It
// reports that as a percentage of all the machine's cores (cpu-percent is
// the sum; the budget is 5 %), as CPU ms per poll, the polls'
// rate and latencies. Before the windows, seq-* is one poll's cost from
// 300 idle header polls in a row (an app with a health-checked service),
// then 300 Deployments-table polls: less sensitive to the host's other
// load (the client's work is in dokploy's figure there); read-* is one
// read of a service's live state from Swarm, not shared (what a poll the
// runner's cache does not answer costs), with and without a health check.
//
//	DOKPLOY_INTEGRATION=1 go test -run '^$' -bench AppPages100Open -benchtime 1x -count 3 ./handlers/
//
// DOKPLOY_BENCH_WINDOW sets each window's length (default 20s). The
// cores are shared with whatever else runs: compare medians of a few runs.
func BenchmarkAppPages100Open(b *testing.B) {
	const pagesN, appsN, withService, browsers = 100, 20, 8, 20
	window := 20 * time.Second
	if v := os.Getenv("DOKPLOY_BENCH_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		window = d
	}
	f := newPagesFixture(b, 1, 1)
	ctx := context.Background()

	engine, err := docker.New(docker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { engine.Close() })
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	prefix := "bench-live-" + hex.EncodeToString(suffix)
	image := prefix + ":v1"
	benchScratchImage(b, image)

	p, err := f.store.CreateProject(ctx, prefix, "")
	if err != nil {
		b.Fatal(err)
	}
	var appIDs []int64
	var serviceNames []string
	for i := range appsN {
		a := &db.App{EnvironmentID: p.Environments[0].ID, Name: fmt.Sprintf("Live %02d", i),
			AppName: fmt.Sprintf("%s-%02d", prefix, i), SourceType: db.SourceImage, Image: image, Port: 8080, Replicas: 1}
		if err := f.store.CreateApp(ctx, a); err != nil {
			b.Fatal(err)
		}
		if i < withService {
			serviceNames = append(serviceNames, a.AppName)
			for range 3 { // a history, all done: nothing is pending
				d, err := f.store.CreateDeployment(ctx, a.ID, "user", adminEmail)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.store.ClaimDeployment(ctx, d.ID, "bench-worker"); err != nil {
					b.Fatal(err)
				}
				if err := f.store.FinishDeployment(ctx, d.ID, db.DeployDone, ""); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.store.SetAppRunning(ctx, a.ID, image, ""); err != nil {
				b.Fatal(err)
			}
		}
		appIDs = append(appIDs, a.ID)
	}
	benchServices(b, engine, serviceNames, image)

	// 20 browsers (sessions of the admin) with 5 pages open each.
	admin, err := f.store.UserByEmail(ctx, adminEmail)
	if err != nil {
		b.Fatal(err)
	}
	job := pageClientsJob{URL: f.srv.URL, Window: window}
	var cookie string
	for i := range pagesN {
		if i%(pagesN/browsers) == 0 {
			token, err := f.store.CreateSession(ctx, admin.ID, "127.0.0.1", "bench")
			if err != nil {
				b.Fatal(err)
			}
			cookie = web.SessionCookie + "=" + token
		}
		path := fmt.Sprintf("/apps/%d", appIDs[i%appsN])
		if i%3 == 2 {
			path += "/deployments"
		}
		job.Pages = append(job.Pages, pageJob{Path: path, Cookie: cookie})
	}
	// What one idle header poll asks PostgreSQL (the app with a service).
	seen := headerSeen(b, f, fmt.Sprintf("/apps/%d", appIDs[0]))
	stmts := f.log.record(func() {
		res, err := f.client.Get(f.srv.URL + seen)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			b.Fatalf("idle header poll: status %d, want 204", res.StatusCode)
		}
	})
	b.Logf("an idle header poll sends %d statements: %v", len(stmts), sqlOf(stmts))

	dockerd := pidsNamed(b, "dockerd")
	dbName := strings.TrimPrefix(mustParseURL(b, f.dsn).Path, "/")
	cores := float64(runtime.NumCPU())

	// One poll's cost, less sensitive to the host's other load: 300 idle
	// header polls in a row on an app with a health-checked service (the
	// runner's cache answers most of them), then 300 of the Deployments
	// table (the client's own work is in dokploy's figure here).
	seq := func(path string, want int) cpuSample {
		return measureCPU(dockerd, dbName, func() {
			for range seqPolls {
				res, err := f.client.Get(f.srv.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					b.Fatalf("GET %s: status %d, want %d", path, res.StatusCode, want)
				}
			}
		})
	}
	// One read of Swarm's live state, unshared (LiveTTL < 0): what a poll
	// the runner's cache does not answer costs, for a service with a
	// health check (app 0) and one without (app 1).
	pool, err := jobs.OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	uncached := jobs.NewRunner(jobs.Options{Store: f.store, Docker: engine, Redis: pool, LiveTTL: -1,
		Namespace: dbtest.RedisNamespace(b, pool)})
	reads := func(name, want string) cpuSample {
		return measureCPU(dockerd, dbName, func() {
			for range seqPolls {
				if l := uncached.Live(ctx, name); l.State != want {
					b.Fatalf("Live(%s) = %+v, want %s", name, l, want)
				}
			}
		})
	}
	hc, nohc := reads(prefix+"-00", "healthy"), reads(prefix+"-01", "running")
	hs := seq(seen, http.StatusNoContent)
	ts := seq(fmt.Sprintf("/apps/%d/deployments/table", appIDs[0]), http.StatusOK)

	var runs []pageRun
	b.ResetTimer()
	for range b.N {
		job.Summary = filepath.Join(b.TempDir(), "summary.json")
		idle1 := measureCPU(dockerd, dbName, func() { time.Sleep(window) })
		var sum *pageClientsSummary
		var busy cpuSample
		child, ready, done := startPageClients(b, job)
		if err := ready(); err != nil {
			b.Fatal(err)
		}
		busy = measureCPU(dockerd, dbName, func() {
			if err := done(); err != nil {
				b.Fatal(err)
			}
		})
		if err := child.Wait(); err != nil {
			b.Fatalf("page process: %v", err)
		}
		if sum, err = readPageClientsSummary(job.Summary); err != nil {
			b.Fatal(err)
		}
		for _, e := range sum.Errors {
			b.Error(e)
		}
		if b.Failed() {
			b.FailNow()
		}
		// Idle again, after: the baseline is the mean of both sides.
		idle2 := measureCPU(dockerd, dbName, func() { time.Sleep(window) })
		idle := cpuSample{wall: idle1.wall + idle2.wall, self: idle1.self + idle2.self,
			dockerd: idle1.dockerd + idle2.dockerd, postgres: idle1.postgres + idle2.postgres}
		runs = append(runs, pageRun{idle: idle, busy: busy, sum: sum})
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / seqPolls }
	b.ReportMetric(ms(hs.self), "seq-header-dokploy-ms")
	b.ReportMetric(ms(hs.dockerd), "seq-header-dockerd-ms")
	b.ReportMetric(ms(hs.postgres), "seq-header-postgres-ms")
	b.ReportMetric(ms(ts.self), "seq-table-dokploy-ms")
	b.ReportMetric(ms(ts.dockerd), "seq-table-dockerd-ms")
	b.ReportMetric(ms(ts.postgres), "seq-table-postgres-ms")
	b.ReportMetric(float64(hs.wall.Microseconds())/1000/seqPolls, "seq-header-ms")
	b.ReportMetric(ms(hc.dockerd), "read-healthcheck-dockerd-ms")
	b.ReportMetric(ms(hc.self), "read-healthcheck-dokploy-ms")
	b.ReportMetric(ms(nohc.dockerd), "read-nocheck-dockerd-ms")
	b.ReportMetric(ms(nohc.self), "read-nocheck-dokploy-ms")

	// The last run's figures (run -benchtime 1x several times for medians).
	r := runs[len(runs)-1]
	scale := func(d time.Duration, over time.Duration) time.Duration {
		return time.Duration(float64(d) * float64(r.busy.wall) / float64(over))
	}
	// What polling added: the busy window minus the idle one, scaled to
	// the busy window's length.
	add := func(busy, idle time.Duration) time.Duration {
		return max(busy-scale(idle, r.idle.wall), 0)
	}
	self, dk, pg := add(r.busy.self, r.idle.self), add(r.busy.dockerd, r.idle.dockerd), add(r.busy.postgres, r.idle.postgres)
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / (r.busy.wall.Seconds() * cores) }
	headers, tables := r.sum.count("header"), r.sum.count("table")
	polls := float64(headers + tables)
	perPoll := func(d time.Duration, n float64) float64 {
		if n == 0 {
			return 0
		}
		return float64(d.Microseconds()) / 1000 / n
	}
	b.ReportMetric(pct(self+dk+pg), "cpu-percent")
	b.ReportMetric(pct(self), "dokploy-cpu-percent")
	b.ReportMetric(pct(dk), "dockerd-cpu-percent")
	b.ReportMetric(pct(pg), "postgres-cpu-percent")
	b.ReportMetric(perPoll(self, polls), "dokploy-ms/poll")
	b.ReportMetric(perPoll(dk, float64(headers)), "dockerd-ms/header-poll")
	b.ReportMetric(perPoll(pg, polls), "postgres-ms/poll")
	b.ReportMetric(polls/r.busy.wall.Seconds(), "req/s")
	b.ReportMetric(float64(headers)/r.busy.wall.Seconds(), "header-polls/s")
	b.ReportMetric(float64(len(stmts)), "stmts/header-poll")
	var all, hdr []time.Duration
	for _, l := range r.sum.Polls {
		all = append(all, time.Duration(l.NS))
		if l.Kind == "header" {
			hdr = append(hdr, time.Duration(l.NS))
		}
	}
	reportLatencies(b, all)
	sort.Slice(hdr, func(i, j int) bool { return hdr[i] < hdr[j] })
	b.ReportMetric(float64(percentile(hdr, 99).Microseconds())/1000, "header-p99-ms")
	b.Logf("window %s: idle dokploy %s dockerd %s postgres %s; busy dokploy %s dockerd %s postgres %s; %d header polls (%v), %d table polls",
		r.busy.wall.Round(time.Millisecond), r.idle.self, r.idle.dockerd, r.idle.postgres, r.busy.self, r.busy.dockerd, r.busy.postgres,
		headers, r.sum.Status, tables)
}

type pageRun struct {
	idle, busy cpuSample
	sum        *pageClientsSummary
}

// cpuSample is the CPU time spent over a wall-clock window: by this
// process, by dockerd and by the PostgreSQL backends of one database.
type cpuSample struct {
	wall, self, dockerd, postgres time.Duration
}

// measureCPU runs fn and returns the CPU time each party spent meanwhile.
// Backends are sampled every 250 ms, so one that exits in the window
// still counts up to its last sample.
func measureCPU(dockerd []int, dbName string, fn func()) cpuSample {
	start := time.Now()
	self0 := selfCPU()
	dk0 := procsCPU(dockerd)
	first, last := map[int]time.Duration{}, map[int]time.Duration{}
	var scanned time.Time
	sampleBackends := func() {
		// Finding the backends reads every process's command line: only
		// every 2 s; their CPU is read on each sample.
		if time.Since(scanned) >= 2*time.Second {
			scanned = time.Now()
			for _, pid := range backendPIDs(dbName) {
				if _, ok := first[pid]; !ok {
					t, _ := procCPU(pid)
					first[pid], last[pid] = t, t
					if !time.Now().Before(start.Add(100 * time.Millisecond)) {
						first[pid] = 0 // started within the window
					}
				}
			}
		}
		for pid := range last {
			if t, ok := procCPU(pid); ok {
				last[pid] = t
			}
		}
	}
	sampleBackends()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sampleBackends()
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	sampleBackends()
	s := cpuSample{wall: time.Since(start), self: selfCPU() - self0, dockerd: procsCPU(dockerd) - dk0}
	for pid, t := range last {
		s.postgres += t - first[pid]
	}
	return s
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is utime+stime of a process from /proc/<pid>/stat (clock ticks
// of 10 ms, Linux's USER_HZ).
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(raw), ')')
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

func procsCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		t, _ := procCPU(pid)
		sum += t
	}
	return sum
}

// pidsNamed are the processes whose command is name.
func pidsNamed(tb testing.TB, name string) []int {
	tb.Helper()
	var out []int
	for _, pid := range allPIDs() {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == name {
			out = append(out, pid)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no %s process to measure", name)
	}
	return out
}

func allPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// backendPIDs are the PostgreSQL backends connected to dbName (their
// title is "postgres: <user> <db> <client> <state>").
func backendPIDs(dbName string) []int {
	var out []int
	for _, pid := range allPIDs() {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.HasPrefix(string(cmd), "postgres: ") {
			continue
		}
		if f := strings.Fields(string(cmd)); len(f) < 3 || f[2] != dbName {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func mustParseURL(tb testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// headerSeen loads a page and returns its header's poll URL.
func headerSeen(tb testing.TB, f *pagesFixture, page string) string {
	tb.Helper()
	m := headerPollRE.FindStringSubmatch(f.get(tb, page))
	if m == nil {
		tb.Fatalf("%s has no header poll", page)
	}
	return m[1]
}

// benchScratchImage builds tag: FROM scratch with jobs/testdata/app, a
// static binary, as its entrypoint; removed when the benchmark ends.
func benchScratchImage(tb testing.TB, tag string) {
	tb.Helper()
	dir := tb.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin"), "./jobs/testdata/app")
	build.Dir = testkit.RepoRoot(tb)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build test app: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY bin /bin\nENTRYPOINT [\"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("docker", "build", "-q", "-t", tag, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("docker build: %v\n%s", err, out)
	}
	tb.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
}

// benchServices creates a one-replica service of image for each name
// (every other one with the app's -probe as its health check) through the
// product's own Docker layer, and waits until each runs its task (healthy,
// when checked). They are removed when the benchmark ends.
func benchServices(tb testing.TB, dk *docker.Docker, names []string, image string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		spec := docker.ServiceSpec{Name: name, Image: image, Replicas: 1, MemoryBytes: 32 << 20,
			Env:             map[string]string{"PORT": "8080", "MESSAGE": "hi"},
			Labels:          map[string]string{"dokploy.bench": "live"},
			StopGracePeriod: time.Second, // the test app ignores SIGTERM as PID 1
			MonitorPeriod:   time.Second}
		if i%2 == 0 {
			spec.HealthCheck = &docker.HealthCheck{Test: []string{"CMD", "/bin", "-probe"},
				Interval: 5 * time.Second, Timeout: 2 * time.Second, StartInterval: 200 * time.Millisecond, StartPeriod: 30 * time.Second, Retries: 3}
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = dk.RemoveService(ctx, name) // waits for the containers, so the image can go
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = dk.DeployService(ctx, spec, func(string) {})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("bench services: %v", err)
	}
}

// ---- the page process -------------------------------------------------

// pageClientsEnv holds the JSON pageClientsJob that turns the test binary
// into the benchmark's page process (see TestMain).
const pageClientsEnv = "DOKPLOY_PAGE_CLIENTS_JOB"

// seqPolls is how many polls in a row measure one poll's cost.
const seqPolls = 300

type pageClientsJob struct {
	URL     string    // the server
	Pages   []pageJob // the open pages
	Window  time.Duration
	Summary string
}

type pageJob struct {
	Path   string // the app page or a tab of it
	Cookie string // its browser's session
}

type pageClientsSummary struct {
	Polls  []pagePoll
	Status map[string]int // "header 204": count
	Errors []string
}

type pagePoll struct {
	Kind string // header or table
	NS   int64
}

func (s *pageClientsSummary) count(kind string) int {
	n := 0
	for _, p := range s.Polls {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// startPageClients runs job in a child process. ready returns once every
// page is loaded and polling; done once the window is over.
func startPageClients(tb testing.TB, job pageClientsJob) (child *exec.Cmd, ready, done func() error) {
	tb.Helper()
	raw, err := json.Marshal(job)
	if err != nil {
		tb.Fatal(err)
	}
	child = exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), pageClientsEnv+"="+string(raw))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := child.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if child.ProcessState == nil {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	wait := func(line string) func() error {
		return func() error {
			for sc.Scan() {
				if sc.Text() == line {
					return nil
				}
			}
			return fmt.Errorf("page process ended before %q", line)
		}
	}
	return child, wait("ready"), wait("done")
}

func readPageClientsSummary(path string) (*pageClientsSummary, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("page process summary: %w", err)
	}
	var s pageClientsSummary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("page process summary: %w", err)
	}
	return &s, nil
}

var (
	// The header's poll: hx-get="/apps/7/header?seen=…" hx-trigger="every 10s".
	headerPollRE = regexp.MustCompile(`hx-get="([^"]*/header\?seen=[^"]*)" hx-trigger="every (\d+(?:ms|s))"`)
	// The Deployments tab's table: hx-get="/apps/7/deployments/table" hx-trigger="every 10s, …".
	tablePollRE = regexp.MustCompile(`hx-get="([^"]*/deployments/table)" hx-trigger="every (\d+(?:ms|s))[^"]*"`)
)

// pageClients is the page process: it loads every page as a browser does,
// prints "ready", polls as the pages' hx-triggers say for the window,
// prints "done" and writes the summary.
func pageClients(rawJob string) int {
	var job pageClientsJob
	if err := json.Unmarshal([]byte(rawJob), &job); err != nil {
		fmt.Fprintln(os.Stderr, "page clients:", err)
		return 2
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * len(job.Pages)}}
	get := func(path, cookie string, htmx bool) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, job.URL+path, nil)
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Cookie", cookie)
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return res.StatusCode, string(body), err
	}
	poll := func(re *regexp.Regexp, body string) (string, time.Duration, bool) {
		m := re.FindStringSubmatch(body)
		if m == nil {
			return "", 0, false
		}
		d, err := time.ParseDuration(m[2])
		return strings.ReplaceAll(m[1], "&amp;", "&"), d, err == nil
	}
	var mu sync.Mutex
	sum := pageClientsSummary{Status: map[string]int{}}
	fail := func(format string, args ...any) {
		mu.Lock()
		sum.Errors = append(sum.Errors, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	type poller struct {
		kind, path, cookie string
		every              time.Duration
		re                 *regexp.Regexp
	}
	var pollers []*poller
	for _, pg := range job.Pages {
		page := pg.Path
		status, body, err := get(page, pg.Cookie, false)
		if err != nil || status != http.StatusOK {
			fmt.Fprintf(os.Stderr, "page clients: GET %s: %d %v\n", page, status, err)
			return 2
		}
		path, every, ok := poll(headerPollRE, body)
		if !ok {
			fmt.Fprintf(os.Stderr, "page clients: %s has no header poll\n", page)
			return 2
		}
		pollers = append(pollers, &poller{kind: "header", path: path, cookie: pg.Cookie, every: every, re: headerPollRE})
		if strings.HasSuffix(page, "/deployments") {
			path, every, ok := poll(tablePollRE, body)
			if !ok {
				fmt.Fprintf(os.Stderr, "page clients: %s has no deployments table poll\n", page)
				return 2
			}
			pollers = append(pollers, &poller{kind: "table", path: path, cookie: pg.Cookie, every: every, re: tablePollRE})
		}
	}
	fmt.Println("ready")
	end := time.Now().Add(job.Window)
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pages were opened at random moments: start somewhere in the
			// interval, then poll at the interval the element asks for.
			next := time.Now().Add(time.Duration(mrand.Int64N(int64(p.every))))
			for next.Before(end) {
				time.Sleep(time.Until(next))
				t0 := time.Now()
				status, body, err := get(p.path, p.cookie, true)
				d := time.Since(t0)
				if err != nil {
					fail("%s: %v", p.path, err)
					return
				}
				mu.Lock()
				sum.Polls = append(sum.Polls, pagePoll{Kind: p.kind, NS: int64(d)})
				sum.Status[fmt.Sprintf("%s %d", p.kind, status)]++
				mu.Unlock()
				switch {
				case status == http.StatusOK:
					// The swapped-in element polls on with its own URL and
					// interval (a header's new seen= version).
					if path, every, ok := poll(p.re, body); ok {
						p.path, p.every = path, every
					}
				case status == http.StatusNoContent && p.kind == "header":
				default:
					fail("%s: status %d", p.path, status)
					return
				}
				next = next.Add(p.every)
			}
		}()
	}
	wg.Wait()
	fmt.Println("done")
	raw, err := json.Marshal(sum)
	if err == nil {
		err = os.WriteFile(job.Summary, raw, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "page clients:", err)
		return 2
	}
	return 0
}
