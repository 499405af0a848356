package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
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
	Store  *db.Store
	Redis  *redis.Pool
	Docker *Docker
	Logger *slog.Logger
	// DeployTimeout bounds one whole deployment (default 30 minutes).
	DeployTimeout time.Duration
	// ProbeBinary is the host path of a static dokploy binary mounted
	// read-only into app containers to run HTTP health checks, so they work
	// in any image, even FROM scratch ones without curl or a shell.
	ProbeBinary string
	// Namespace prefixes every Redis key (default "dokploy"); tests use
	// their own so they never take jobs of a running server.
	Namespace string
}

// Runner queues deployments on Redis and runs them with a gocraft/work pool.
// PostgreSQL is the record of every deployment; Redis only carries ids, so
// queued rows whose job got lost are re-enqueued from the database.
type Runner struct {
	opts     Options
	store    *db.Store
	docker   *Docker
	log      *slog.Logger
	enqueuer *work.Enqueuer
	workerID string

	mu     sync.Mutex
	pool   *work.WorkerPool
	cancel context.CancelFunc
	done   chan struct{}
	// active holds the deployments this process is claiming or running;
	// unrecorded the outcomes it could not write (PostgreSQL was down),
	// which the recovery loop writes later. Guarded by mu.
	active     map[int64]int // claims in flight; duplicate jobs count twice
	unrecorded map[int64]outcome
}

// outcome is a deployment's final status and reason.
type outcome struct{ status, reason string }

// NewRunner builds a runner; call StartWorker to process jobs.
func NewRunner(opts Options) *Runner {
	if opts.DeployTimeout == 0 {
		opts.DeployTimeout = 30 * time.Minute
	}
	if opts.Namespace == "" {
		opts.Namespace = defaultNamespace
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	host, _ := os.Hostname()
	return &Runner{
		opts: opts, store: opts.Store, docker: opts.Docker, log: opts.Logger,
		enqueuer: work.NewEnqueuer(opts.Namespace, opts.Redis),
		workerID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), db.RandomToken()[:6]),
		active:   map[int64]int{}, unrecorded: map[int64]outcome{},
	}
}

// OpenRedis creates a connection pool and checks that Redis answers.
func OpenRedis(ctx context.Context, rawURL string) (*redis.Pool, error) {
	pool := &redis.Pool{
		MaxIdle: 4, MaxActive: 64, IdleTimeout: 5 * time.Minute, Wait: true,
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
	go r.heartbeatLoop(loopCtx)
	go r.requeueLoop(loopCtx)
	go r.pruneLoop(loopCtx)
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

// poolDeadAfter is how old a gocraft/work pool heartbeat (written every 5
// s) must be for the pool to count as dead.
const poolDeadAfter = 20 * time.Second

// reapDeadPool releases what one dead gocraft/work pool holds, atomically
// and only if its heartbeat is still stale (two reapers never release twice):
// its in-progress jobs go back to the queue (claiming is atomic, so a job
// whose deployment already ran is dropped) and its share of the concurrency
// lock is returned.
var reapDeadPool = redis.NewScript(6, `
local hb = redis.call('hget', KEYS[2], 'heartbeat_at')
if not hb or tonumber(hb) + tonumber(ARGV[3]) > tonumber(ARGV[2]) then return 0 end
while redis.call('rpoplpush', KEYS[3], KEYS[4]) do end
local n = tonumber(redis.call('hget', KEYS[6], ARGV[1]))
if n and n > 0 then
  redis.call('decrby', KEYS[5], n)
  if tonumber(redis.call('get', KEYS[5]) or '0') < 0 then redis.call('set', KEYS[5], 0) end
end
redis.call('hdel', KEYS[6], ARGV[1])
redis.call('del', KEYS[2])
redis.call('srem', KEYS[1], ARGV[1])
return 1`)

// reapDeadPools frees concurrency slots held by worker processes that died
// (kill -9): gocraft/work only reaps dead pools when a pool starts and then
// every 10 minutes, so with a limit of 1 a dead worker would stall the queue
// of every live one until then.
func (r *Runner) reapDeadPools(ctx context.Context) {
	conn, err := r.opts.Redis.GetContext(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	ns := strings.TrimSuffix(r.opts.Namespace, ":") + ":" // as gocraft/work spells its keys
	pools, err := redis.Strings(conn.Do("SMEMBERS", ns+"worker_pools"))
	if err != nil {
		return
	}
	jobs := ns + "jobs:" + deployJob
	for _, id := range pools {
		reaped, err := redis.Int(reapDeadPool.Do(conn, ns+"worker_pools", ns+"worker_pools:"+id,
			jobs+":"+id+":inprogress", jobs, jobs+":lock", jobs+":lock_info",
			id, time.Now().Unix(), int(poolDeadAfter.Seconds())))
		if err == nil && reaped == 1 {
			r.log.Warn("released the jobs of a dead worker pool", "pool", id)
		}
	}
}

// restoreConcurrency writes the deploy_concurrency setting back to Redis
// when the key is gone (Redis restarted empty): gocraft/work treats a
// missing limit as unlimited.
func (r *Runner) restoreConcurrency(ctx context.Context) {
	n, err := r.store.DeployConcurrency(ctx)
	if err != nil {
		return
	}
	conn, err := r.opts.Redis.GetContext(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.Do("SET", fmt.Sprintf("%s:jobs:%s:max_concurrency", r.opts.Namespace, deployJob), n, "NX")
}

// Workers announce themselves in Redis with a short TTL, refreshed every
// heartbeatPeriod. A running deployment whose worker's key has expired
// belonged to a process that died (kill -9, crash, lost host): it is marked
// failed instead of staying "running" forever, within about
// heartbeatTTL+recoverPeriod of the death.
const (
	heartbeatTTL    = 15 * time.Second
	heartbeatPeriod = 5 * time.Second
	recoverPeriod   = 5 * time.Second
)

func (r *Runner) workerKey(id string) string { return r.opts.Namespace + ":dokploy-workers:" + id }

// registryKey holds when the worker registry was (re)started. Keys of live
// workers are missing for up to a heartbeatPeriod after Redis restarts empty
// or is flushed, so nothing is judged dead until the registry is older than
// a TTL: two live processes never fail each other's deployments.
func (r *Runner) registryKey() string { return r.opts.Namespace + ":dokploy-workers-since" }

func (r *Runner) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(heartbeatPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.heartbeat(ctx)
		}
	}
}

func (r *Runner) heartbeat(ctx context.Context) {
	conn, err := r.opts.Redis.GetContext(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	now := time.Now().Unix()
	if _, err := conn.Do("SET", r.workerKey(r.workerID), now, "EX", int(heartbeatTTL.Seconds())); err != nil {
		r.log.Warn("worker heartbeat", "err", err)
		return
	}
	_, _ = conn.Do("SET", r.registryKey(), now, "NX")
}

// registryTrusted reports whether a missing worker key means a dead worker.
func (r *Runner) registryTrusted(conn redis.Conn) (bool, error) {
	since, err := redis.Int64(conn.Do("GET", r.registryKey()))
	if errors.Is(err, redis.ErrNil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return time.Since(time.Unix(since, 0)) > heartbeatTTL, nil
}

func (r *Runner) recoverInterrupted(ctx context.Context) error {
	var running []db.Deployment
	err := r.store.DB().SelectContext(ctx, &running, `SELECT id, worker_id FROM deployments WHERE status = 'running'`)
	if err != nil || len(running) == 0 {
		return err
	}
	conn, err := r.opts.Redis.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	trusted, err := r.registryTrusted(conn)
	if err != nil || !trusted {
		return err
	}
	for _, d := range running {
		var reason string
		if d.WorkerID == r.workerID {
			r.mu.Lock()
			_, pending := r.unrecorded[d.ID]
			mine := r.active[d.ID] > 0 || pending
			r.mu.Unlock()
			if mine {
				continue
			}
			reason = "interrupted: this deployment stopped without recording its result; deploy again"
		} else {
			alive, err := redis.Bool(conn.Do("EXISTS", r.workerKey(d.WorkerID)))
			if err != nil {
				return err
			}
			if alive {
				continue
			}
			reason = "interrupted: the process running it (worker " + d.WorkerID + ") stopped without finishing it (crash, kill -9 or restart); deploy again"
		}
		r.log.Warn("deployment interrupted: its worker is gone", "deployment", d.ID, "worker", d.WorkerID)
		if err := r.store.FinishDeployment(ctx, d.ID, db.DeployError, reason); err != nil {
			return err
		}
		r.appendLog(ctx, d.ID, "ERROR: "+reason)
		r.settleAppStatus(ctx, d.ID)
		r.cleanupInterrupted(ctx, d.ID)
	}
	return nil
}

// recordUnrecorded writes outcomes that could not be written when their
// deployment ended (PostgreSQL was unreachable).
func (r *Runner) recordUnrecorded(ctx context.Context) {
	r.mu.Lock()
	pending := make(map[int64]outcome, len(r.unrecorded))
	for id, o := range r.unrecorded {
		pending[id] = o
	}
	r.mu.Unlock()
	for id, o := range pending {
		if err := r.store.FinishDeployment(ctx, id, o.status, o.reason); err != nil {
			return
		}
		if o.status != db.DeployDone {
			r.settleAppStatus(ctx, id)
		}
		r.mu.Lock()
		delete(r.unrecorded, id)
		r.mu.Unlock()
		r.log.Info("recorded deployment result after an outage", "deployment", id, "status", o.status)
	}
}

// appendLog adds a line after the last one of a deployment whose own log
// writer is gone.
func (r *Runner) appendLog(ctx context.Context, id int64, line string) {
	var last int
	if err := r.store.DB().GetContext(ctx, &last, `SELECT coalesce(max(seq), 0) FROM deployment_logs WHERE deployment_id = $1`, id); err != nil {
		return
	}
	_ = r.store.AppendLogs(ctx, id, last+1, []string{line})
}

// cleanupInterrupted removes what an interrupted deployment may have left
// on this node: build containers named in its log (the engine normally
// removes them when the build's client goes away), the image it was
// building if it never went into service, and dangling layers of it.
func (r *Runner) cleanupInterrupted(ctx context.Context, id int64) {
	d, err := r.store.Deployment(ctx, id)
	if err != nil || d.RollbackOf != nil {
		return
	}
	a, err := r.store.App(ctx, d.AppID)
	if err != nil || a.SourceType != db.SourceGit {
		return
	}
	lines, err := r.store.Logs(ctx, id, 0, 100000)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for _, l := range lines {
		if m := buildContainerLine.FindStringSubmatch(l.Line); m != nil {
			_ = r.docker.cli.ContainerRemove(cctx, m[1], container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	if d.Image == "" || d.Image == a.CurrentImage {
		return
	}
	// Not forced: an image a service still uses is kept.
	_, _ = r.docker.cli.ImageRemove(cctx, d.Image, image.RemoveOptions{PruneChildren: true})
	_, _ = r.docker.cli.ImagesPrune(cctx, filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", LabelBuild+"="+d.Image)))
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
	if err := r.docker.ScaleService(ctx, a.AppName, 0); err != nil {
		return err
	}
	return r.store.SetAppStatus(ctx, a.ID, db.AppStopped)
}

// StartApp scales the service back to the app's replicas.
func (r *Runner) StartApp(ctx context.Context, a *db.App) error {
	if err := r.docker.ScaleService(ctx, a.AppName, uint64(a.Replicas)); err != nil {
		return err
	}
	return r.store.SetAppStatus(ctx, a.ID, db.AppRunning)
}

// RestartApp replaces the service's tasks without a rebuild.
func (r *Runner) RestartApp(ctx context.Context, a *db.App) error {
	return r.docker.RestartService(ctx, a.AppName)
}

// RemoveApp removes the service and every image built for the app.
func (r *Runner) RemoveApp(ctx context.Context, a *db.App) error {
	if err := r.docker.RemoveService(ctx, a.AppName); err != nil {
		return err
	}
	if a.SourceType == db.SourceGit {
		return r.docker.RemoveImages(ctx, a.AppName)
	}
	return nil
}

// RuntimeLogs follows the service's container output.
func (r *Runner) RuntimeLogs(ctx context.Context, appName string, tail int) (io.ReadCloser, error) {
	return r.docker.ServiceLogs(ctx, appName, true, tail)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
