package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"dokploy/jobs/docker"
	"dokploy/jobs/notify"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"

	"dokploy/db"
)

const (
	defaultNamespace = "dokploy"
	deployJob        = "deploy"
	// maxWorkers bounds the pool; the deploy_concurrency setting limits
	// how many of them may run deployments at once, across all processes.
	maxWorkers = 16
)

// Options are the runner's dependencies.
type Options struct {
	Store *db.Store
	Redis *redis.Pool
	// Docker is the container engine, normally a *docker.Docker.
	Docker Engine
	// Git clones git apps' repositories; git.Clone when nil.
	Git    Cloner
	Logger *slog.Logger
	// DeployTimeout bounds one whole deployment (default 30 minutes).
	DeployTimeout time.Duration
	// BackupTimeout bounds one backup, restore or drill (default 6 hours).
	BackupTimeout time.Duration
	// OpenStore connects to a backup destination; OpenDestination (S3)
	// when nil.
	OpenStore func(d *db.Destination, secretKey string) (ObjectStore, error)
	// SchedulePeriod is how often due backup plans are looked for
	// (default 15 s).
	SchedulePeriod time.Duration
	// ProbeBinary is the host path of a static dokploy binary mounted
	// read-only into app containers to run HTTP health checks, so they work
	// in any image, even FROM scratch ones without curl or a shell.
	ProbeBinary string
	// Namespace prefixes every Redis key (default "dokploy"); tests use
	// their own so they never take jobs of a running server.
	Namespace string
	// Notifier queues deploy and backup notifications and sends them from
	// the worker; when nil, one without the control plane's network guard
	// (only link-local and metadata addresses are refused) is made.
	Notifier *notify.Notifier
	// LiveTTL is how long one read of a service's live state from Swarm
	// answers every page and poll asking for it (default 1 s; negative:
	// each caller reads Swarm itself).
	LiveTTL time.Duration
}

// Runner queues deployments on Redis and runs them with a gocraft/work pool.
// PostgreSQL is the record of every deployment; Redis only carries ids, so
// queued rows whose job got lost are re-enqueued from the database.
type Runner struct {
	opts     Options
	store    *db.Store
	docker   Engine
	git      Cloner
	log      *slog.Logger
	enqueuer *work.Enqueuer
	workerID string
	notifier *notify.Notifier

	mu     sync.Mutex
	pool   *work.WorkerPool
	cancel context.CancelFunc
	done   chan struct{}
	// active holds the deployments this process is claiming or running;
	// unrecorded the outcomes it could not write (PostgreSQL was down),
	// which the recovery loop writes later. Guarded by mu.
	active     map[int64]int // claims in flight; duplicate jobs count twice
	unrecorded map[int64]outcome
	// reserved are the host ports the platform uses (port → what), which
	// no compose stack may publish. Guarded by mu.
	reserved map[int]string
	// release is the pending hand-back of memory once jobs stop
	// (releaseMemorySoon). Guarded by mu.
	release *time.Timer
	runtime runtimeWatch // crash-loop detection (runtime_events.go)
	live    liveCache    // shared reads of services' live state (live.go)
	wake    *waker       // wakes idle local workers on enqueue (wake.go)
}

// outcome is a deployment's final status and reason.
type outcome struct{ status, reason string }

// NewRunner builds a runner; call StartWorker to process jobs.
func NewRunner(opts Options) *Runner {
	if opts.DeployTimeout == 0 {
		opts.DeployTimeout = 30 * time.Minute
	}
	if opts.BackupTimeout == 0 {
		opts.BackupTimeout = 6 * time.Hour
	}
	if opts.Namespace == "" {
		opts.Namespace = defaultNamespace
	}
	if opts.LiveTTL == 0 {
		opts.LiveTTL = defaultLiveTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Git == nil {
		opts.Git = goGit{}
	}
	if opts.Notifier == nil {
		opts.Notifier = notify.New(opts.Store, nil, notify.WithLogger(opts.Logger))
	}
	host, _ := os.Hostname()
	return &Runner{notifier: opts.Notifier,
		opts: opts, store: opts.Store, docker: opts.Docker, git: opts.Git, log: opts.Logger,
		enqueuer: work.NewEnqueuer(opts.Namespace, opts.Redis),
		workerID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), db.RandomToken()[:6]),
		active:   map[int64]int{}, unrecorded: map[int64]outcome{},
		wake: newWaker(),
	}
}

// OpenRedis creates a connection pool and checks that Redis answers.
func OpenRedis(ctx context.Context, rawURL string) (*redis.Pool, error) {
	pool := &redis.Pool{
		// Idle connections for every worker goroutine and the pool's own
		// loops: with fewer, each wake-up of the workers closed the extra
		// connections after use and dialed them again on the next.
		MaxIdle: maxWorkers + 8, MaxActive: 64, IdleTimeout: 5 * time.Minute, Wait: true,
		Dial: func() (redis.Conn, error) {
			return redis.DialURL(rawURL, redis.DialConnectTimeout(5*time.Second))
		},
	}
	conn, err := pool.GetContext(ctx)
	if err == nil {
		_, err = conn.Do("PING")
		conn.Close()
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %v (check that Redis is running and DOKPLOY_REDIS_URL is right)", db.RedactURL(rawURL), err)
	}
	return pool, nil
}

// Enqueue hands a queued deployment to the workers.
func (r *Runner) Enqueue(_ context.Context, deploymentID int64) error {
	_, err := r.enqueuer.EnqueueUnique(deployJob, work.Q{"deployment_id": deploymentID})
	if err == nil {
		r.wake.poke()
	}
	return err
}

// StartWorker starts the pool and the re-enqueue loop.
func (r *Runner) StartWorker(ctx context.Context) error {
	n, err := r.store.DeployConcurrency(ctx)
	if err != nil {
		return err
	}
	r.heartbeat(ctx)
	loopCtx, cancel := context.WithCancel(context.Background())
	pool := work.NewWorkerPool(struct{}{}, maxWorkers, r.opts.Namespace, r.opts.Redis)
	pool.JobWithOptions(deployJob, work.JobOptions{
		MaxConcurrency: uint(n),
		MaxFails:       1 << 20, // only "app busy" is returned as an error; it retries until the app is free
		SkipDead:       true,
		Backoff:        func(*work.Job) int64 { return 2 },
	}, func(job *work.Job) error { return r.handle(loopCtx, job) })
	pool.Start()
	r.mu.Lock()
	r.pool, r.cancel, r.done = pool, cancel, make(chan struct{})
	r.mu.Unlock()
	go r.wake.run(loopCtx, pool)
	go r.heartbeatLoop(loopCtx)
	go r.requeueLoop(loopCtx)
	go r.pruneLoop(loopCtx)
	go r.historyPruneLoop(loopCtx)
	go r.scheduleLoop(loopCtx)
	go r.watchRuntimeEvents(loopCtx)
	go r.notifier.Run(loopCtx)
	r.log.Info("deploy worker started", "worker", r.workerID, "concurrency", n)
	return nil
}

// StopWorker cancels running deployments and waits for the pool to stop.
func (r *Runner) StopWorker() {
	r.mu.Lock()
	pool, cancel := r.pool, r.cancel
	r.mu.Unlock()
	if pool == nil {
		return
	}
	cancel()
	pool.Stop()
}

// SetConcurrency changes how many deployments may run at once. gocraft/work
// reads the limit from Redis on every fetch, so writing it there applies the
// new value to every worker process without restarting pools.
func (r *Runner) SetConcurrency(n int) {
	conn := r.opts.Redis.Get()
	defer conn.Close()
	key := fmt.Sprintf("%s:jobs:%s:max_concurrency", r.opts.Namespace, deployJob)
	if _, err := conn.Do("SET", key, n); err != nil {
		r.log.Error("set deploy concurrency", "err", err)
	}
}

// requeueLoop recovers deployments of dead workers, writes outcomes that
// could not be recorded and re-enqueues queued deployments whose Redis job
// was lost (Redis restarted empty, enqueue failed). It survives PostgreSQL
// and Redis outages: each round only logs what failed.
func (r *Runner) requeueLoop(ctx context.Context) {
	t := time.NewTicker(recoverPeriod)
	defer t.Stop()
	for {
		r.recordUnrecorded(ctx)
		if err := r.recoverInterrupted(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("recover interrupted deployments", "err", err)
		}
		r.reapDeadPools(ctx)
		r.requeue(ctx)
		r.restoreConcurrency(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) requeue(ctx context.Context) {
	queued, err := r.store.QueuedDeployments(ctx)
	if err != nil {
		return
	}
	for _, d := range queued {
		// EnqueueUnique keeps this from piling up duplicates; a duplicate
		// that slips through is harmless because claiming is atomic.
		if err := r.Enqueue(ctx, d.ID); err != nil {
			r.log.Warn("re-enqueue deployment", "deployment", d.ID, "err", err)
		}
	}
}

// releaseDelay is how long the worker must stay idle before the heap is
// handed back (releaseMemorySoon).
const releaseDelay = 2 * time.Second

// releaseMemorySoon hands the heap a deployment grew (clone packfiles,
// build and log buffers: tens of MB) back to the OS once no job has run
// for releaseDelay. The runtime's scavenger would do it over minutes; a
// server that deploys now and then should sit at its idle size in
// between. The forced collection costs a few milliseconds of CPU on both
// cores, so it waits for a quiet moment rather than run after every job:
// a burst of pushes (each job ending at once as "already queued") would
// otherwise pay for one collection per push. r.mu is held.
func (r *Runner) releaseMemorySoon() {
	if r.release != nil {
		r.release.Stop()
	}
	r.release = time.AfterFunc(releaseDelay, func() {
		r.mu.Lock()
		idle := len(r.active) == 0
		r.mu.Unlock()
		if idle {
			debug.FreeOSMemory()
		}
	})
}

func (r *Runner) handle(ctx context.Context, job *work.Job) error {
	id := job.ArgInt64("deployment_id")
	if err := job.ArgError(); err != nil {
		r.log.Error("bad deploy job", "args", job.Args, "err", err)
		return nil
	}
	// Marked active before the claim so recovery never takes a row this
	// process is about to run for an orphan.
	r.mu.Lock()
	r.active[id]++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.active[id]--; r.active[id] <= 0 {
			delete(r.active, id)
		}
		if len(r.active) == 0 {
			r.releaseMemorySoon()
		}
		r.mu.Unlock()
	}()
	d, err := r.store.ClaimDeployment(ctx, id, r.workerID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil // cancelled, superseded or already taken
	case errors.Is(err, db.ErrAppBusy):
		return err // gocraft retries after the backoff
	case err != nil:
		return err
	}
	r.run(ctx, d)
	return nil
}

// PingRedis checks the queue's Redis.
func (r *Runner) PingRedis(ctx context.Context) error {
	conn, err := r.opts.Redis.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = redis.DoContext(conn, ctx, "PING")
	return err
}

// PingDocker checks the engine and whether swarm mode is active.
func (r *Runner) PingDocker(ctx context.Context) (bool, error) { return r.docker.Ping(ctx) }

// StopApp scales the service to zero.
func (r *Runner) StopApp(ctx context.Context, a *db.App) error {
	defer r.live.forget(a.AppName)
	if err := r.docker.ScaleService(ctx, a.AppName, 0); err != nil {
		return err
	}
	return r.store.SetAppStatus(ctx, a.ID, db.AppStopped)
}

// StartApp scales the service back to the app's replicas.
func (r *Runner) StartApp(ctx context.Context, a *db.App) error {
	defer r.live.forget(a.AppName)
	if err := r.docker.ScaleService(ctx, a.AppName, uint64(a.Replicas)); err != nil {
		return err
	}
	return r.store.SetAppStatus(ctx, a.ID, db.AppRunning)
}

// RestartApp replaces the service's tasks without a rebuild.
func (r *Runner) RestartApp(ctx context.Context, a *db.App) error {
	defer r.live.forget(a.AppName)
	return r.docker.RestartService(ctx, a.AppName)
}

// RemoveApp removes the service and every image built for the app: its
// tags, and the dangling images its builds left.
func (r *Runner) RemoveApp(ctx context.Context, a *db.App) error {
	defer r.live.forget(a.AppName)
	if err := r.docker.RemoveService(ctx, a.AppName); err != nil {
		return err
	}
	if a.SourceType == db.SourceGit {
		err := r.docker.RemoveImages(ctx, a.AppName)
		// Untagged images its builds left (failed builds' last layers).
		r.removeDanglingBuilt(ctx, a.ID)
		return err
	}
	return nil
}

// SetReservedPorts names the host ports the platform uses (port → what).
func (r *Runner) SetReservedPorts(ports map[int]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserved = ports
}

func (r *Runner) reservedPorts() map[int]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reserved
}

// RuntimeLogs follows the service's container output.
func (r *Runner) RuntimeLogs(ctx context.Context, appName string, tail int) (io.ReadCloser, error) {
	return r.docker.ServiceLogs(ctx, appName, true, tail)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ServiceLogLines reads the service's output line by line (see
// docker.Docker.ServiceLogLines).
func (r *Runner) ServiceLogLines(ctx context.Context, name string, q docker.LogQuery, each func(docker.LogLine) error) error {
	e, ok := r.docker.(interface {
		ServiceLogLines(context.Context, string, docker.LogQuery, func(docker.LogLine) error) error
	})
	if !ok {
		return fmt.Errorf("this engine cannot read logs line by line")
	}
	return e.ServiceLogLines(ctx, name, q, each)
}

// terminalEngine is what the web terminal needs of the engine.
type terminalEngine interface {
	ServiceReplicas(ctx context.Context, service string) ([]docker.Replica, error)
	OpenTerminal(ctx context.Context, id string, cols, rows uint) (*docker.Terminal, error)
}

func (r *Runner) terminalEngine() (terminalEngine, error) {
	e, ok := r.docker.(terminalEngine)
	if !ok {
		return nil, fmt.Errorf("this engine cannot open terminals")
	}
	return e, nil
}

// ServiceReplicas lists the service's running tasks (see
// docker.Docker.ServiceReplicas).
func (r *Runner) ServiceReplicas(ctx context.Context, service string) ([]docker.Replica, error) {
	e, err := r.terminalEngine()
	if err != nil {
		return nil, err
	}
	return e.ServiceReplicas(ctx, service)
}

// OpenTerminal starts a shell on a TTY in the container (see
// docker.Docker.OpenTerminal).
func (r *Runner) OpenTerminal(ctx context.Context, container string, cols, rows uint) (*docker.Terminal, error) {
	e, err := r.terminalEngine()
	if err != nil {
		return nil, err
	}
	return e.OpenTerminal(ctx, container, cols, rows)
}
