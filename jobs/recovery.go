package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"

	"dokploy/db"
	"dokploy/jobs/docker"
)

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
	running, err := r.store.RunningDeployments(ctx)
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
			reason = "interrupted: this deployment stopped without recording its result; run it again"
		} else {
			alive, err := redis.Bool(conn.Do("EXISTS", r.workerKey(d.WorkerID)))
			if err != nil {
				return err
			}
			if alive {
				continue
			}
			reason = "interrupted: the process running it (worker " + d.WorkerID + ") stopped without finishing it (crash, kill -9 or restart); run it again"
		}
		r.log.Warn("deployment interrupted: its worker is gone", "deployment", d.ID, "worker", d.WorkerID)
		if err := r.store.FinishDeployment(ctx, d.ID, db.DeployError, reason); err != nil {
			return err
		}
		r.appendLog(ctx, d.ID, "ERROR: "+reason)
		r.settleAppStatus(ctx, d.ID, db.DeployError)
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
			r.settleAppStatus(ctx, id, o.status)
		}
		if d, err := r.store.Deployment(ctx, id); err == nil {
			r.notifyOutcome(ctx, d, o.status, o.reason)
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
	last, err := r.store.LastLogSeq(ctx, id)
	if err != nil {
		return
	}
	_ = r.store.AppendLogs(ctx, id, last+1, []string{line})
}

// cleanupInterrupted removes what an interrupted deployment may have left
// on this node: build containers named in its log (the engine normally
// removes them when the build's client goes away), the image it was
// building if it never went into service, the layers its log says it
// committed, and the app's dangling images.
func (r *Runner) cleanupInterrupted(ctx context.Context, id int64) {
	d, err := r.store.Deployment(ctx, id)
	if err != nil || d.RollbackOf != nil {
		return
	}
	a, err := r.store.App(ctx, d.ServiceID)
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
		if id, ok := docker.BuildContainerFromLog(l.Line); ok {
			_ = r.docker.RemoveContainer(cctx, id)
		}
	}
	if d.Image == "" || d.Image == a.CurrentImage {
		return
	}
	// Not forced: an image a service still uses is kept.
	_ = r.docker.RemoveImage(cctx, d.Image)
	// The layers the build committed, as its log names them (untagged
	// ones only: a later build may have tagged the same image).
	logged := make([]string, len(lines))
	for i, l := range lines {
		logged[i] = l.Line
	}
	r.docker.RemoveUntaggedImages(cctx, docker.BuildImagesFromLog(logged))
	_, _ = r.docker.PruneDanglingImages(cctx, docker.ImageRepoLabel(d.Image))
	r.removeDanglingBuilt(cctx, a.ID)
}

// cleanupTimeout bounds the cleanup after an interrupted deployment.
const cleanupTimeout = 30 * time.Second

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
