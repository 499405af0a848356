package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// Runner logic against the in-memory engine: real PostgreSQL and Redis, no
// Docker, no git server. Each test takes a few seconds at most.

type fakeRig struct {
	t      testing.TB
	store  *db.Store
	runner *Runner
	engine *fakeEngine
	redis  *redis.Pool
}

// newFakeRig builds a runner on the fake engine; start launches its worker.
func newFakeRig(t testing.TB) *fakeRig {
	t.Helper()
	store := dbtest.NewServicesStore(t)
	ctx := context.Background()
	pool, err := OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	engine := newFakeEngine()
	ns := dbtest.RedisNamespace(t, pool)
	runner := NewRunner(Options{
		Store: store, Redis: pool, Docker: engine, Git: engine, Namespace: ns,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DeployTimeout: time.Minute,
	})
	return &fakeRig{t: t, store: store, runner: runner, engine: engine, redis: pool}
}

func (r *fakeRig) start(concurrency int) {
	r.t.Helper()
	ctx := context.Background()
	if err := r.store.SetSetting(ctx, db.SettingDeployConcurrency, itoa(int64(concurrency))); err != nil {
		r.t.Fatal(err)
	}
	if err := r.runner.StartWorker(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(r.runner.StopWorker)
}

func (r *fakeRig) newGitApp(name string) *db.App {
	r.t.Helper()
	ctx := context.Background()
	proj, err := r.store.CreateProject(ctx, "p-"+name, "")
	if err != nil {
		r.t.Fatal(err)
	}
	a := &db.App{EnvironmentID: proj.Environments[0].ID, Name: name, AppName: name, SourceType: db.SourceGit,
		GitURL: "https://git.example.com/" + name + ".git", GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile",
		Port: 8080, Replicas: 1}
	if err := r.store.CreateApp(ctx, a); err != nil {
		r.t.Fatal(err)
	}
	return a
}

// create queues a deployment without handing it to Redis.
func (r *fakeRig) create(a *db.App) *db.Deployment {
	r.t.Helper()
	d, err := r.store.CreateDeployment(context.Background(), a.ID, "user", "test")
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *fakeRig) deploy(a *db.App) *db.Deployment {
	r.t.Helper()
	d := r.create(a)
	if err := r.runner.Enqueue(context.Background(), d.ID); err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *fakeRig) get(id int64) *db.Deployment {
	r.t.Helper()
	d, err := r.store.Deployment(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// waitStatus polls a deployment until cond holds (bounded).
func (r *fakeRig) waitFor(id int64, within time.Duration, what string, cond func(*db.Deployment) bool) *db.Deployment {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := r.get(id)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("deployment %d is %s (%q) after %s, want %s\n%s", id, d.Status, d.Error, within, what, r.logs(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *fakeRig) wait(id int64) *db.Deployment {
	r.t.Helper()
	return r.waitFor(id, 15*time.Second, "finished", (*db.Deployment).Finished)
}

func (r *fakeRig) logs(id int64) string {
	lines, _ := r.store.Logs(context.Background(), id, 0, 100000)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Line + "\n")
	}
	return b.String()
}

// settledApp waits for the app to leave "deploying": the runner settles it
// just after recording the deployment's outcome.
func (r *fakeRig) settledApp(id int64) *db.App {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := r.app(id)
		if a.Status != db.AppDeploying || time.Now().After(deadline) {
			return a
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *fakeRig) app(id int64) *db.App {
	r.t.Helper()
	a, err := r.store.App(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

func TestFakeRunner_GitDeployClonesBuildsAndRollsOut(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(1)
	a := r.newGitApp("web")
	d := r.wait(r.deploy(a).ID)
	if d.Status != db.DeployDone {
		t.Fatalf("status %s %q\n%s", d.Status, d.Error, r.logs(d.ID))
	}
	image := a.AppName + ":" + itoa(d.ID)
	if got := r.engine.Calls("Clone"); len(got) != 1 || got[0] != a.GitURL+"#main" {
		t.Errorf("Clone calls %q", got)
	}
	if got := r.engine.Calls("Build"); len(got) != 1 || got[0] != image {
		t.Errorf("Build calls %q, want [%s]", got, image)
	}
	if got := r.engine.Calls("DeployService"); len(got) != 1 || got[0] != a.AppName+"="+image {
		t.Errorf("DeployService calls %q", got)
	}
	if d.Image != image || d.CommitSHA == "" {
		t.Errorf("deployment image %q commit %q", d.Image, d.CommitSHA)
	}
	if got := r.app(a.ID); got.Status != db.AppRunning || got.CurrentImage != image {
		t.Errorf("app status %s image %q, want running %s", got.Status, got.CurrentImage, image)
	}
	for _, want := range []string{"started (triggered by user test)", "fake build of " + image, "finished in"} {
		if !strings.Contains(r.logs(d.ID), want) {
			t.Errorf("log lacks %q:\n%s", want, r.logs(d.ID))
		}
	}
}

func TestFakeRunner_FailedStepFailsDeploymentAndSettlesApp(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(1)
	a := r.newGitApp("web")
	r.engine.Fail("Build", errors.New("step 3/5: exit code 1"))
	d := r.wait(r.deploy(a).ID)
	if d.Status != db.DeployError || d.Error != "step 3/5: exit code 1" {
		t.Fatalf("status %s %q, want error with the build's message", d.Status, d.Error)
	}
	if got := r.engine.Calls("DeployService"); len(got) != 0 {
		t.Errorf("a failed build was rolled out: %q", got)
	}
	if got := r.settledApp(a.ID); got.Status != db.AppError {
		t.Errorf("app status %s, want error (nothing in service)", got.Status)
	}
	if !strings.Contains(r.logs(d.ID), "ERROR: step 3/5: exit code 1") {
		t.Errorf("log lacks the error:\n%s", r.logs(d.ID))
	}
}

// One app never runs two deployments at once, even with free workers: the
// second waits (ErrAppBusy, retried) until the first has finished, while
// another app's deployment runs alongside.
func TestFakeRunner_OneAppNeverRunsTwoDeploymentsAtOnce(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(4)
	a, other := r.newGitApp("web"), r.newGitApp("api")
	release := r.engine.Hold("DeployService")
	first := r.deploy(a)
	r.engine.WaitEntered(t, "DeployService", 1, 10*time.Second)
	second := r.deploy(a)
	parallel := r.deploy(other)
	// The other app reaches its roll-out while the first is held there.
	r.engine.WaitEntered(t, "DeployService", 2, 10*time.Second)
	time.Sleep(2500 * time.Millisecond) // longer than the busy retry backoff
	if d := r.get(second.ID); d.Status != db.DeployQueued || d.StartedAt != nil {
		t.Fatalf("second deployment of the app is %s while the first runs", d.Status)
	}
	release()
	for _, id := range []int64{first.ID, second.ID, parallel.ID} {
		if d := r.wait(id); d.Status != db.DeployDone {
			t.Fatalf("deployment %d: %s %q", id, d.Status, d.Error)
		}
	}
	f, s := r.get(first.ID), r.get(second.ID)
	if s.StartedAt.Before(*f.FinishedAt) {
		t.Errorf("second started at %s before the first finished at %s", s.StartedAt, f.FinishedAt)
	}
	if n := r.engine.MaxConcurrent(a.AppName); n != 1 {
		t.Errorf("%d deployments of %s in flight at once, want 1", n, a.AppName)
	}
}

// Requests piling up while a deployment runs collapse into the newest: the
// older ones end cancelled as superseded without ever starting.
func TestFakeRunner_QueuedRequestsCollapseIntoTheNewest(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(2)
	a := r.newGitApp("web")
	release := r.engine.Hold("Build")
	first := r.deploy(a)
	r.engine.WaitEntered(t, "Build", 1, 10*time.Second)
	var queued []*db.Deployment
	for range 4 {
		queued = append(queued, r.deploy(a))
	}
	release()
	if d := r.wait(first.ID); d.Status != db.DeployDone {
		t.Fatalf("first: %s %q", d.Status, d.Error)
	}
	newest := queued[len(queued)-1]
	if d := r.wait(newest.ID); d.Status != db.DeployDone {
		t.Fatalf("newest: %s %q\n%s", d.Status, d.Error, r.logs(d.ID))
	}
	for _, q := range queued[:3] {
		d := r.get(q.ID)
		if d.Status != db.DeployCancelled || !strings.Contains(d.Error, "superseded") || d.StartedAt != nil {
			t.Errorf("older request %d: %s %q started %v; want cancelled as superseded, never started", d.ID, d.Status, d.Error, d.StartedAt)
		}
	}
	want := []string{a.AppName + ":" + itoa(first.ID), a.AppName + ":" + itoa(newest.ID)}
	if got := r.engine.Calls("Build"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("builds %q, want %q", got, want)
	}
}

func TestFakeRunner_CancelQueuedNeverStarts(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(2)
	a := r.newGitApp("web")
	release := r.engine.Hold("Build")
	running := r.deploy(a)
	r.engine.WaitEntered(t, "Build", 1, 10*time.Second)
	queued := r.deploy(a)
	status, err := r.store.RequestCancel(context.Background(), queued.ID)
	if err != nil || status != db.DeployCancelled {
		t.Fatalf("cancel queued: %q %v", status, err)
	}
	release()
	if d := r.wait(running.ID); d.Status != db.DeployDone {
		t.Fatalf("running one: %s %q", d.Status, d.Error)
	}
	time.Sleep(300 * time.Millisecond) // a wrongly claimed job would start now
	d := r.get(queued.ID)
	if d.Status != db.DeployCancelled || d.StartedAt != nil || !strings.Contains(d.Error, "before it started") {
		t.Errorf("cancelled queued deployment: %s %q started %v", d.Status, d.Error, d.StartedAt)
	}
	if got := r.engine.Calls("Build"); len(got) != 1 {
		t.Errorf("builds %q, want only the running deployment's", got)
	}
}

// Cancel pressed while a step runs stops it through ctx; the previous
// version keeps running and nothing is rolled out.
func TestFakeRunner_CancelRunningStopsTheStep(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(1)
	a := r.newGitApp("web")
	ok := r.wait(r.deploy(a).ID)
	if ok.Status != db.DeployDone {
		t.Fatalf("first deploy: %s %q", ok.Status, ok.Error)
	}
	r.engine.Hold("Build") // never released: only cancellation ends it
	d := r.deploy(a)
	r.engine.WaitEntered(t, "Build", 2, 10*time.Second)
	if status, err := r.store.RequestCancel(context.Background(), d.ID); err != nil || status != db.DeployRunning {
		t.Fatalf("cancel running: %q %v", status, err)
	}
	start := time.Now()
	final := r.wait(d.ID)
	if final.Status != db.DeployCancelled || final.Error != "cancelled by user" {
		t.Fatalf("status %s %q, want cancelled by user", final.Status, final.Error)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancel took %s", took)
	}
	if got := r.engine.Calls("DeployService"); len(got) != 1 {
		t.Errorf("roll-outs %q, want only the first deployment's", got)
	}
	if got := r.settledApp(a.ID); got.Status != db.AppRunning || got.CurrentImage != ok.Image {
		t.Errorf("app %s %q, want running %s", got.Status, got.CurrentImage, ok.Image)
	}
	if !strings.Contains(r.logs(d.ID), "Deployment cancelled. The previous version keeps running.") {
		t.Errorf("log:\n%s", r.logs(d.ID))
	}
}

// Cancel during the roll-out of an app's first deployment: nothing ran
// before it, so the service it started is removed, the log says so (not
// "the previous version keeps running") and the app is idle, not failed.
func TestFakeRunner_CancelFirstDeployRemovesItsService(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	r.start(1)
	a := r.newGitApp("web")
	release := r.engine.Hold("DeployService") // only cancellation ends it
	defer release()
	d := r.deploy(a)
	r.engine.WaitEntered(t, "DeployService", 1, 10*time.Second)
	if status, err := r.store.RequestCancel(context.Background(), d.ID); err != nil || status != db.DeployRunning {
		t.Fatalf("cancel running: %q %v", status, err)
	}
	final := r.wait(d.ID)
	if final.Status != db.DeployCancelled {
		t.Fatalf("status %s %q, want cancelled", final.Status, final.Error)
	}
	if got := r.engine.Calls("RemoveService"); len(got) != 1 || got[0] != a.AppName {
		t.Errorf("removed services %q, want [%s]", got, a.AppName)
	}
	if got := r.settledApp(a.ID); got.Status != db.AppIdle || got.CurrentImage != "" {
		t.Errorf("app %s %q, want idle with no image", got.Status, got.CurrentImage)
	}
	log := r.logs(d.ID)
	if !strings.Contains(log, "Nothing ran before it") || strings.Contains(log, "previous version") {
		t.Errorf("log:\n%s", log)
	}
}

// A running deployment whose worker's heartbeat expired is marked failed and
// what it left behind is removed; one whose worker is alive is left alone,
// and nothing is judged before the worker registry is older than a TTL.
func TestFakeRunner_RecoverDeploymentOfDeadWorker(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	ctx := context.Background()
	dead, alive := r.newGitApp("dead"), r.newGitApp("alive")
	claim := func(a *db.App, worker string) *db.Deployment {
		d := r.create(a)
		if _, err := r.store.ClaimDeployment(ctx, d.ID, worker); err != nil {
			t.Fatal(err)
		}
		return d
	}
	orphan := claim(dead, "dead-worker")
	image := dead.AppName + ":" + itoa(orphan.ID)
	if err := r.store.SetDeploymentSource(ctx, orphan.ID, "abc", "msg", image); err != nil {
		t.Fatal(err)
	}
	if err := r.store.AppendLogs(ctx, orphan.ID, 1, []string{"Step 2/3 : RUN make", " ---> Running in 0123456789ab"}); err != nil {
		t.Fatal(err)
	}
	live := claim(alive, "live-worker")
	conn := r.redis.Get()
	defer conn.Close()
	if _, err := conn.Do("SET", r.runner.workerKey("live-worker"), time.Now().Unix(), "EX", 60); err != nil {
		t.Fatal(err)
	}

	// A registry that just (re)started is not trusted: keys of live workers
	// may be missing for a heartbeat.
	if _, err := conn.Do("SET", r.runner.registryKey(), time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := r.runner.recoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if d := r.get(orphan.ID); d.Status != db.DeployRunning {
		t.Fatalf("judged with a fresh registry: %s", d.Status)
	}

	if _, err := conn.Do("SET", r.runner.registryKey(), time.Now().Add(-time.Minute).Unix()); err != nil {
		t.Fatal(err)
	}
	if err := r.runner.recoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	d := r.get(orphan.ID)
	if d.Status != db.DeployError || !strings.Contains(d.Error, "interrupted") || !strings.Contains(d.Error, "dead-worker") {
		t.Fatalf("orphan: %s %q, want error naming the dead worker", d.Status, d.Error)
	}
	if logs := r.logs(orphan.ID); !strings.Contains(logs, "ERROR: interrupted") {
		t.Errorf("no error line appended to the log:\n%s", logs)
	}
	if got := r.app(dead.ID); got.Status != db.AppError {
		t.Errorf("app of the orphan: %s, want error", got.Status)
	}
	if got := r.engine.Calls("RemoveContainer"); len(got) != 1 || got[0] != "0123456789ab" {
		t.Errorf("build containers removed: %q", got)
	}
	if got := r.engine.Calls("RemoveImage"); len(got) != 1 || got[0] != image {
		t.Errorf("images removed: %q, want [%s]", got, image)
	}
	if got := r.engine.Calls("PruneDanglingImages"); len(got) != 1 || got[0] != "dokploy.image="+strings.Split(image, ":")[0] {
		t.Errorf("dangling prunes: %q", got)
	}
	if d := r.get(live.ID); d.Status != db.DeployRunning {
		t.Errorf("deployment of a live worker: %s, want still running", d.Status)
	}
}

// Queued rows whose Redis job was lost (Redis restarted empty, enqueue
// failed) are re-enqueued from the database when the worker starts.
func TestFakeRunner_LostQueuedJobIsReenqueued(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	a := r.newGitApp("web")
	d := r.create(a) // never handed to Redis
	r.start(1)
	if got := r.wait(d.ID); got.Status != db.DeployDone {
		t.Fatalf("lost job: %s %q", got.Status, got.Error)
	}
	if got := r.engine.Calls("DeployService"); len(got) != 1 {
		t.Errorf("roll-outs %q", got)
	}
}

func TestFakeRunner_AppActionsUseTheEngine(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	ctx := context.Background()
	a := r.newGitApp("web")
	a.Replicas = 3
	for _, step := range []func(context.Context, *db.App) error{r.runner.StopApp, r.runner.StartApp, r.runner.RestartApp, r.runner.RemoveApp} {
		if err := step(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(r.engine.Calls("ScaleService"), " "); got != "web=0 web=3" {
		t.Errorf("scales %q", got)
	}
	if got := r.engine.Calls("RestartService"); len(got) != 1 {
		t.Errorf("restarts %q", got)
	}
	if got := r.engine.Calls("RemoveService"); len(got) != 1 {
		t.Errorf("removes %q", got)
	}
	if got := r.engine.Calls("RemoveImages"); len(got) != 1 || got[0] != "web" {
		t.Errorf("image removals %q", got)
	}
	r.engine.Fail("ScaleService", errors.New("engine down"))
	if err := r.runner.StopApp(ctx, a); err == nil {
		t.Error("StopApp hid the engine's error")
	}
	if got := r.app(a.ID); got.Status != db.AppRunning {
		t.Errorf("a failed stop changed the app status to %s", got.Status)
	}
}

// A step that outlives its limit ends the deployment with an error naming
// the step, and the image it built is removed.
func TestFakeRunner_SlowStepHitsItsDeadline(t *testing.T) {
	t.Parallel()
	r := newFakeRig(t)
	if err := r.store.SetSetting(context.Background(), db.SettingConvergeTimeout, "500ms"); err != nil {
		t.Fatal(err)
	}
	r.start(1)
	a := r.newGitApp("web")
	r.engine.Slow("DeployService", time.Minute)
	start := time.Now()
	d := r.wait(r.deploy(a).ID)
	if d.Status != db.DeployError || !strings.Contains(d.Error, "starting the new version took longer than 500ms") {
		t.Fatalf("status %s %q, want the roll-out's deadline", d.Status, d.Error)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
	if got := r.engine.Calls("RemoveImage"); len(got) != 1 || got[0] != d.Image {
		t.Errorf("images removed %q, want the failed build's %s", got, d.Image)
	}
}
