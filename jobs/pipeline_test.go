package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
)

// pipeline is a real deploy stack for one test: fresh database, a private
// Redis namespace, the real Docker engine and a git server on 127.0.0.1.
type pipeline struct {
	t      *testing.T
	store  *db.Store
	runner *Runner
	docker *docker.Docker
	git    *deployRepo
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	docker := testDocker(t)
	store := dbtest.NewStore(t)
	ctx := context.Background()
	pool, err := OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	runner := NewRunner(Options{
		Store: store, Redis: pool, Docker: docker, Namespace: "dokploy-test-" + dbtest.RandomSuffix(),
		ProbeBinary: probeBinary(t),
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)), DeployTimeout: 3 * time.Minute,
	})
	if err := runner.StartWorker(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(runner.StopWorker)
	return &pipeline{t: t, store: store, runner: runner, docker: docker, git: newDeployRepo(t)}
}

// deployRepo is the served fixture repository (testkit.GitRepo) holding
// the static test app; commit replaces its Dockerfile.
type deployRepo struct{ *testkit.GitRepo }

func newDeployRepo(t *testing.T) *deployRepo {
	t.Helper()
	r := testkit.NewGitRepo(t)
	buildTestApp(t, r.Work)
	return &deployRepo{r}
}

// commit writes the Dockerfile, commits and pushes; it returns the sha.
func (g *deployRepo) commit(message, dockerfile string) string {
	return g.Commit(message, map[string]string{"Dockerfile": dockerfile})
}

func serverDockerfile(message string) string {
	return fmt.Sprintf("FROM scratch\nCOPY app /app\nENV PORT=8080 MESSAGE=%s\nENTRYPOINT [\"/app\"]\n", message)
}

// newGitApp creates a project and a git app publishing a free host port.
func (p *pipeline) newGitApp(name string) (*db.App, int) {
	p.t.Helper()
	ctx := context.Background()
	proj, err := p.store.CreateProject(ctx, "p-"+name, "")
	if err != nil {
		p.t.Fatal(err)
	}
	a := &db.App{EnvironmentID: proj.Environments[0].ID, Name: name, AppName: name, SourceType: db.SourceGit,
		GitURL: p.git.URL, GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 8080, Replicas: 1}
	if err := p.store.CreateApp(ctx, a); err != nil {
		p.t.Fatal(err)
	}
	port := testkit.FreePort(p.t)
	if err := p.store.SetAppPorts(ctx, a.ID, []db.Port{{Published: port, Target: 8080, Protocol: "tcp", Mode: "host"}}); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = p.docker.RemoveService(ctx, name)
		_ = p.docker.RemoveImages(ctx, name)
	})
	return a, port
}

func (p *pipeline) deploy(a *db.App) *db.Deployment {
	p.t.Helper()
	d, err := p.store.CreateDeployment(context.Background(), a.ID, "user", "test")
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.runner.Enqueue(context.Background(), d.ID); err != nil {
		p.t.Fatal(err)
	}
	return d
}

// wait polls a deployment until it is finished (bounded).
func (p *pipeline) wait(id int64, within time.Duration) *db.Deployment {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		d, err := p.store.Deployment(context.Background(), id)
		if err != nil {
			p.t.Fatal(err)
		}
		if d.Finished() {
			return d
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("deployment %d still %s after %s\n%s", id, d.Status, within, p.logs(id))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *pipeline) logs(id int64) string {
	lines, _ := p.store.Logs(context.Background(), id, 0, 100000)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Line + "\n")
	}
	return b.String()
}

func get(t *testing.T, port int) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET 127.0.0.1:%d: %v", port, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestPipeline_DeployRedeployAndFailedBuildKeepsServing(t *testing.T) {
	p := newPipeline(t)
	app, port := p.newGitApp(testName(t))

	sha1 := p.git.commit("first version", serverDockerfile("version-one"))
	d1 := p.wait(p.deploy(app).ID, 2*time.Minute)
	if d1.Status != db.DeployDone {
		t.Fatalf("first deploy: %s %q\n%s", d1.Status, d1.Error, p.logs(d1.ID))
	}
	if d1.CommitSHA != sha1 || d1.CommitMessage != "first version" || d1.Image != fmt.Sprintf("%s:%d", app.AppName, d1.ID) {
		t.Errorf("recorded commit/image = %q %q %q", d1.CommitSHA, d1.CommitMessage, d1.Image)
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "version-one")

	p.git.commit("second version", serverDockerfile("version-two"))
	d2 := p.wait(p.deploy(app).ID, 2*time.Minute)
	if d2.Status != db.DeployDone {
		t.Fatalf("redeploy: %s %q\n%s", d2.Status, d2.Error, p.logs(d2.ID))
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "version-two")
	// "Serving" is its own moment, before the deployment settles after
	// the monitor period, and the log says it.
	for _, d := range []*db.Deployment{d1, d2} {
		if d.ServingAt == nil || d.FinishedAt == nil || !d.ServingAt.After(*d.StartedAt) || !d.ServingAt.Before(*d.FinishedAt) {
			t.Errorf("deployment #%d: started %v, serving %v, finished %v: want started < serving < finished", d.ID, d.StartedAt, d.ServingAt, d.FinishedAt)
		}
		if !strings.Contains(p.logs(d.ID), "New version serving") {
			t.Errorf("deployment #%d: no serving line in the log:\n%s", d.ID, p.logs(d.ID))
		}
	}
	got, _ := p.store.App(context.Background(), app.ID)
	if got.Status != db.AppRunning || got.CurrentImage != d2.Image {
		t.Errorf("app after redeploy: status %s image %s", got.Status, got.CurrentImage)
	}

	p.git.commit("broken build", "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"-fail\"]\n")
	d3 := p.wait(p.deploy(app).ID, 2*time.Minute)
	if d3.Status != db.DeployError || d3.Error == "" {
		t.Fatalf("broken build: status %s error %q", d3.Status, d3.Error)
	}
	if d3.ServingAt != nil {
		t.Errorf("a build that failed recorded serving at %v", d3.ServingAt)
	}
	if !strings.Contains(p.logs(d3.ID), "build step failed: boom") {
		t.Errorf("the build's own output is missing from the log:\n%s", p.logs(d3.ID))
	}
	if body := get(t, port); body != "version-two" {
		t.Errorf("after a failed build the app answers %q, want the previous version", body)
	}
	got, _ = p.store.App(context.Background(), app.ID)
	if got.Status != db.AppRunning || got.CurrentImage != d2.Image {
		t.Errorf("app after failed build: status %s image %s (want running %s)", got.Status, got.CurrentImage, d2.Image)
	}
}

func TestPipeline_SecretsNeverStoredInLogs(t *testing.T) {
	p := newPipeline(t)
	app, port := p.newGitApp(testName(t))
	ctx := context.Background()
	const secret = "s3cr3t-build-value-91f2"
	// A multi-line secret (a PEM key) is printed line by line by the build.
	pemLines := []string{"MIIEowIBAAKCAQEA7q3vZ1multilineSecretLineOne0123456789abcdefABCDEF",
		"x9Jk2LmN0pQrStUvWxYz2multilineSecretLineTwo0123456789abcdefABCDEF"}
	pem := "-----BEGIN RSA PRIVATE KEY-----\n" + strings.Join(pemLines, "\n") + "\n-----END RSA PRIVATE KEY-----"
	if err := p.store.SetAppVariables(ctx, app.ID, db.VarBuildArg, []db.Variable{{Key: "API_TOKEN", Value: secret}, {Key: "PEM_KEY", Value: pem}}); err != nil {
		t.Fatal(err)
	}
	if err := p.store.SetAppVariables(ctx, app.ID, db.VarEnv, []db.Variable{{Key: "MESSAGE", Value: "env-" + secret}}); err != nil {
		t.Fatal(err)
	}
	// ENV RUN_ID: a fresh value per run, so the engine's build cache from an
	// earlier run cannot skip the RUN step whose output this test checks.
	p.git.commit("prints a build arg", "FROM scratch\nCOPY app /app\nENV RUN_ID="+dbtest.RandomSuffix()+"\nARG API_TOKEN\nARG PEM_KEY\nRUN [\"/app\", \"-printenv\", \"API_TOKEN\"]\nRUN [\"/app\", \"-printenv\", \"PEM_KEY\"]\nENV PORT=8080\nENTRYPOINT [\"/app\"]\n")
	d := p.wait(p.deploy(app).ID, 2*time.Minute)
	if d.Status != db.DeployDone {
		t.Fatalf("deploy: %s %q\n%s", d.Status, d.Error, p.logs(d.ID))
	}
	// The running app does see the secret: masking applies to logs only.
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "env-"+secret)
	var stored int
	if err := p.store.DB().Get(&stored, `SELECT count(*) FROM deployment_logs WHERE line LIKE '%' || $1 || '%'`, secret); err != nil {
		t.Fatal(err)
	}
	logs := p.logs(d.ID)
	if stored != 0 || strings.Contains(logs, secret) {
		t.Fatalf("secret stored in %d log lines:\n%s", stored, logs)
	}
	if !strings.Contains(logs, "API_TOKEN=********") {
		t.Errorf("expected the masked build output line, got:\n%s", logs)
	}
	for _, line := range pemLines {
		if strings.Contains(logs, line[:20]) {
			t.Errorf("a line of the multi-line secret is in the log:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "PEM_KEY=") {
		t.Errorf("the build did not print the multi-line value (nothing was checked):\n%s", logs)
	}
}

func TestPipeline_CancelSlowBuildLeavesNothingBehind(t *testing.T) {
	p := newPipeline(t)
	app, _ := p.newGitApp(testName(t))
	p.git.commit("slow build", "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"-sleep\", \"90s\"]\n")
	d := p.deploy(app)
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(p.logs(d.ID), "sleeping") {
		if time.Now().After(deadline) {
			t.Fatalf("build never reached the slow step:\n%s", p.logs(d.ID))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, err := p.store.RequestCancel(context.Background(), d.ID); err != nil || status != db.DeployRunning {
		t.Fatalf("cancel: %q %v", status, err)
	}
	start := time.Now()
	final := p.wait(d.ID, 30*time.Second)
	if final.Status != db.DeployCancelled {
		t.Fatalf("status %s (%q), want cancelled", final.Status, final.Error)
	}
	t.Logf("cancelled within %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	if p.docker.HasImage(ctx, final.Image) {
		t.Errorf("image %s of the cancelled build still exists", final.Image)
	}
	list, err := p.docker.ContainersFromImage(ctx, final.Image)
	if err == nil && len(list) > 0 {
		t.Errorf("%d containers of the cancelled build left behind", len(list))
	}
	info, _ := p.docker.ServiceInfo(ctx, app.AppName)
	if info.Exists {
		t.Errorf("a cancelled first deployment created service %s", app.AppName)
	}
}

// TestPipeline_FailedBuildLeftoversAreCleanedUp: a failed build keeps its
// last layer as cache, recorded as the app's; the maintenance prune and
// the app's removal remove such dangling layers, and nothing else.
func TestPipeline_FailedBuildLeftoversAreCleanedUp(t *testing.T) {
	p := newPipeline(t)
	app, _ := p.newGitApp(testName(t))
	other, _ := p.newGitApp(testName(t))
	ctx := context.Background()
	failing := func(a *db.App) string {
		t.Helper()
		p.git.commit("fails", "FROM scratch\nCOPY app /app\nENV RUN_ID="+dbtest.RandomSuffix()+"\nRUN [\"/app\", \"-fail\"]\n")
		d := p.wait(p.deploy(a).ID, 2*time.Minute)
		if d.Status != db.DeployError {
			t.Fatalf("failing build: %s %q", d.Status, d.Error)
		}
		var left string
		if err := p.store.DB().Get(&left, `SELECT image_id FROM built_images WHERE deployment_id = $1`, d.ID); err != nil {
			t.Fatalf("the failed build's last layer was not recorded: %v\n%s", err, p.logs(d.ID))
		}
		if !p.docker.HasImage(ctx, left) {
			t.Fatalf("the failed build's last layer %s is gone already", left)
		}
		return left
	}
	left, otherLeft := failing(app), failing(other)
	// What the daily prune runs for app builds' dangling images.
	if n := p.runner.removeDanglingBuilt(ctx, 0); n < 2 || p.docker.HasImage(ctx, left) || p.docker.HasImage(ctx, otherLeft) {
		t.Errorf("maintenance removed %d images; left behind: %v %v", n, p.docker.HasImage(ctx, left), p.docker.HasImage(ctx, otherLeft))
	}
	left, otherLeft = failing(app), failing(other)
	if err := p.runner.RemoveApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if p.docker.HasImage(ctx, left) {
		t.Errorf("the removed app's dangling image %s is still there", left)
	}
	if !p.docker.HasImage(ctx, otherLeft) {
		t.Errorf("removing an app removed another app's image %s", otherLeft)
	}
}

func TestPipeline_ConcurrencyOneRunsDeploysOneAtATime(t *testing.T) {
	p := newPipeline(t)
	p.git.commit("v1", serverDockerfile("concurrency"))
	var ids []int64
	var apps []*db.App
	for i := 0; i < 3; i++ {
		a, _ := p.newGitApp(testName(t))
		apps = append(apps, a)
	}
	for _, a := range apps {
		ids = append(ids, p.deploy(a).ID)
	}
	var done []*db.Deployment
	for _, id := range ids {
		d := p.wait(id, 4*time.Minute)
		if d.Status != db.DeployDone {
			t.Fatalf("deployment %d: %s %q\n%s", id, d.Status, d.Error, p.logs(id))
		}
		done = append(done, d)
	}
	for i, a := range done {
		for j, b := range done {
			if i < j && a.StartedAt.Before(*b.FinishedAt) && b.StartedAt.Before(*a.FinishedAt) {
				t.Errorf("deployments %d [%s–%s] and %d [%s–%s] overlapped with concurrency 1", a.ID,
					a.StartedAt.Format(time.StampMilli), a.FinishedAt.Format(time.StampMilli), b.ID,
					b.StartedAt.Format(time.StampMilli), b.FinishedAt.Format(time.StampMilli))
			}
		}
	}
}

func TestPipeline_RequestsForOneAppCollapseIntoTheNewest(t *testing.T) {
	p := newPipeline(t)
	app, port := p.newGitApp(testName(t))
	p.git.commit("v1", serverDockerfile("collapse-one"))
	first := p.deploy(app)
	// Wait until it runs, then pile up requests for the same app.
	deadline := time.Now().Add(time.Minute)
	for {
		d, _ := p.store.Deployment(context.Background(), first.ID)
		if d.Status == db.DeployRunning || d.Finished() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first deployment never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.git.commit("v2", serverDockerfile("collapse-two"))
	var queued []*db.Deployment
	for i := 0; i < 4; i++ {
		queued = append(queued, p.deploy(app))
	}
	if d := p.wait(first.ID, 2*time.Minute); d.Status != db.DeployDone {
		t.Fatalf("first: %s %q", d.Status, d.Error)
	}
	last := p.wait(queued[3].ID, 2*time.Minute)
	if last.Status != db.DeployDone {
		t.Fatalf("newest: %s %q\n%s", last.Status, last.Error, p.logs(last.ID))
	}
	for _, q := range queued[:3] {
		d, _ := p.store.Deployment(context.Background(), q.ID)
		if d.Status != db.DeployCancelled || !strings.Contains(d.Error, "superseded") || d.StartedAt != nil {
			t.Errorf("older request %d: status %s error %q started %v; want cancelled as superseded, never started", d.ID, d.Status, d.Error, d.StartedAt)
		}
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "collapse-two")
}

func TestPipeline_BadSourceFailsClearly(t *testing.T) {
	p := newPipeline(t)
	app, _ := p.newGitApp(testName(t))
	ctx := context.Background()
	unreachable := fmt.Sprintf("http://127.0.0.1:%d/nothing.git", testkit.FreePort(t))
	cases := []struct {
		name   string
		mutate func(*db.App)
		want   string
	}{
		{"unreachable repository", func(a *db.App) { a.GitURL = unreachable }, "not reachable"},
		{"missing branch", func(a *db.App) { a.GitBranch = "no-such-branch" }, "no-such-branch"},
		{"missing Dockerfile", func(a *db.App) { a.GitDockerfile = "deploy/Dockerfile" }, "Dockerfile not found"},
		{"context outside checkout", func(a *db.App) { a.GitContext = "../../etc" }, "escapes the repository"},
	}
	p.git.commit("v1", serverDockerfile("bad-source"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := p.store.App(ctx, app.ID)
			a.GitURL, a.GitBranch, a.GitContext, a.GitDockerfile = p.git.URL, "main", ".", "Dockerfile"
			tc.mutate(a)
			if err := p.store.UpdateApp(ctx, a); err != nil {
				t.Fatal(err)
			}
			d := p.wait(p.deploy(a).ID, time.Minute)
			if d.Status != db.DeployError || !strings.Contains(d.Error, tc.want) {
				t.Errorf("status %s error %q, want error containing %q\n%s", d.Status, d.Error, tc.want, p.logs(d.ID))
			}
		})
	}
}

func TestPipeline_RollbackReusesImageWithoutBuild(t *testing.T) {
	p := newPipeline(t)
	app, port := p.newGitApp(testName(t))
	p.git.commit("one", serverDockerfile("rollback-one"))
	d1 := p.wait(p.deploy(app).ID, 2*time.Minute)
	p.git.commit("two", serverDockerfile("rollback-two"))
	d2 := p.wait(p.deploy(app).ID, 2*time.Minute)
	if d1.Status != db.DeployDone || d2.Status != db.DeployDone {
		t.Fatalf("setup deploys: %s %s", d1.Status, d2.Status)
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "rollback-two")

	rb, err := p.store.CreateRollback(context.Background(), d1, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.runner.Enqueue(context.Background(), rb.ID); err != nil {
		t.Fatal(err)
	}
	rb = p.wait(rb.ID, time.Minute)
	if rb.Status != db.DeployDone || rb.Image != d1.Image || rb.CommitSHA != d1.CommitSHA {
		t.Fatalf("rollback: %s %q image %s commit %s\n%s", rb.Status, rb.Error, rb.Image, rb.CommitSHA, p.logs(rb.ID))
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "rollback-one")
	logs := p.logs(rb.ID)
	if strings.Contains(logs, "Step 1/") || strings.Contains(logs, "Cloning") {
		t.Errorf("a rollback must not clone or build:\n%s", logs)
	}
	a, _ := p.store.App(context.Background(), app.ID)
	if a.CurrentImage != d1.Image {
		t.Errorf("current image %s, want %s", a.CurrentImage, d1.Image)
	}
}

func TestPipeline_HungBuildHitsItsDeadline(t *testing.T) {
	p := newPipeline(t)
	app, _ := p.newGitApp(testName(t))
	if err := p.store.SetSetting(context.Background(), db.SettingBuildTimeout, "4s"); err != nil {
		t.Fatal(err)
	}
	p.git.commit("hangs", "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"-sleep\", \"120s\"]\n")
	start := time.Now()
	d := p.wait(p.deploy(app).ID, time.Minute)
	if d.Status != db.DeployError || !strings.Contains(d.Error, "the build took longer than 4s") {
		t.Fatalf("status %s error %q\n%s", d.Status, d.Error, p.logs(d.ID))
	}
	if elapsed := time.Since(start); elapsed > 40*time.Second {
		t.Errorf("deadline of 4s ended the deployment only after %s", elapsed)
	}
}

// probeBinary builds the static dokploy binary app containers run as their
// HTTP health check (once per test binary run).
func probeBinary(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dokploy-probe-")
		if err != nil {
			probeErr = err
			return
		}
		probeBin = filepath.Join(dir, "dokploy")
		cmd := exec.Command("go", "build", "-o", probeBin, "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("build dokploy: %v\n%s", err, out)
		}
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probeBin
}

var (
	probeOnce sync.Once
	probeBin  string
	probeErr  error
)

func TestPipeline_UnhealthyVersionIsRolledBack(t *testing.T) {
	p := newPipeline(t)
	app, port := p.newGitApp(testName(t))
	ctx := context.Background()
	healthy := func(status int) {
		a, _ := p.store.App(ctx, app.ID)
		a.HealthPath, a.HealthStatus, a.HealthInterval, a.HealthTimeout, a.HealthRetries, a.HealthStartPeriod = "/", status, 1, 1, 2, 0
		if err := p.store.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	healthy(200)
	p.git.commit("healthy", serverDockerfile("healthy-one"))
	d1 := p.wait(p.deploy(app).ID, 2*time.Minute)
	if d1.Status != db.DeployDone {
		t.Fatalf("healthy deploy: %s %q\n%s", d1.Status, d1.Error, p.logs(d1.ID))
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "healthy-one")

	// The next version never passes its health check (it answers 200, the
	// check wants 418): the deployment fails and the old version comes back.
	healthy(418)
	p.git.commit("never healthy", serverDockerfile("unhealthy-two"))
	d2 := p.wait(p.deploy(app).ID, 3*time.Minute)
	if d2.Status != db.DeployError {
		t.Fatalf("unhealthy deploy: %s %q\n%s", d2.Status, d2.Error, p.logs(d2.ID))
	}
	t.Logf("failure reason: %s", d2.Error)
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "healthy-one")
	a, _ := p.store.App(ctx, app.ID)
	if a.CurrentImage != d1.Image || a.Status != db.AppRunning {
		t.Errorf("app after failed health check: %s %s, want running %s", a.Status, a.CurrentImage, d1.Image)
	}
}

// A first deploy cancelled while Swarm is rolling it out (its task started
// but is not healthy yet) leaves no service running behind a page that
// says otherwise: the service is removed and the app is idle again, not
// deployed, with a log that says nothing had run before.
func TestPipeline_CancelFirstDeployDuringRolloutRemovesTheService(t *testing.T) {
	p := newPipeline(t)
	app, port := p.newGitApp(testName(t))
	ctx := context.Background()
	a, _ := p.store.App(ctx, app.ID)
	// 418 is never answered, and the long start period keeps the task
	// "starting" rather than failing: the roll-out waits.
	a.HealthPath, a.HealthStatus, a.HealthInterval, a.HealthTimeout, a.HealthRetries, a.HealthStartPeriod = "/", 418, 1, 1, 3, 120
	if err := p.store.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	p.git.commit("slow to become healthy", serverDockerfile("never-ready"))
	d := p.deploy(app)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		info, _ := p.docker.ServiceInfo(ctx, app.AppName)
		if strings.Contains(p.logs(d.ID), "Rolling out") && info.Exists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the roll-out never started:\n%s", p.logs(d.ID))
		}
		time.Sleep(200 * time.Millisecond)
	}
	testkit.WaitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "never-ready") // its task runs
	if status, err := p.store.RequestCancel(ctx, d.ID); err != nil || status != db.DeployRunning {
		t.Fatalf("cancel: %q %v", status, err)
	}
	final := p.wait(d.ID, time.Minute)
	if final.Status != db.DeployCancelled {
		t.Fatalf("status %s (%q), want cancelled\n%s", final.Status, final.Error, p.logs(d.ID))
	}
	if info, err := p.docker.ServiceInfo(ctx, app.AppName); err != nil || info.Exists {
		t.Errorf("service %s still exists after its first deploy was cancelled (err %v, %+v)", app.AppName, err, info)
	}
	log := p.logs(d.ID)
	if !strings.Contains(log, "Nothing ran before it") || strings.Contains(log, "previous version") {
		t.Errorf("log:\n%s", log)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		got, _ := p.store.App(ctx, app.ID)
		if got.Status == db.AppIdle && got.CurrentImage == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app %s image %q after the cancel, want idle with none", got.Status, got.CurrentImage)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
