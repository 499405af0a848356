package jobs

import (
	"context"
	"fmt"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
)

// DiskUsage is the Docker engine's disk use, for the settings page.
type DiskUsage = docker.DiskUsage

// DiskUsage asks the engine what its images, build cache, containers and
// volumes take.
func (r *Runner) DiskUsage(ctx context.Context) (DiskUsage, error) {
	return r.docker.DiskUsage(ctx)
}

// PruneReport says what a prune removed.
type PruneReport struct {
	Images          int
	BuildCacheFreed uint64
}

// Prune removes images of deployments outside every app's retention window,
// dangling images left by dokploy builds, and unused build cache older than
// a day. Images of running services and named volumes are never touched.
func (r *Runner) Prune(ctx context.Context) (PruneReport, error) {
	var rep PruneReport
	limits, err := r.store.DeployLimits(ctx)
	if err != nil {
		return rep, err
	}
	apps, err := r.store.Apps(ctx)
	if err != nil {
		return rep, err
	}
	for i := range apps {
		if apps[i].SourceType != db.SourceGit {
			continue
		}
		old, err := r.store.ExpiredImages(ctx, apps[i].ID, limits.ImageRetention)
		if err != nil {
			return rep, err
		}
		for _, ref := range old {
			r.removeImageTag(ref)
			rep.Images++
		}
	}
	// Dangling images of app builds: by label for the images built before
	// builds were recorded, by the recorded IDs for the others.
	if n, err := r.docker.PruneDanglingImages(ctx, docker.LabelImageRepo); err == nil {
		rep.Images += n
	}
	rep.Images += r.removeDanglingBuilt(ctx, 0)
	freed, err := r.docker.PruneBuildCache(ctx, "24h")
	if err != nil {
		return rep, fmt.Errorf("prune build cache: %w", err)
	}
	rep.BuildCacheFreed = freed
	return rep, nil
}

// pruneLoop prunes once a day, the first time an hour after start so a
// restart loop cannot turn into a prune loop.
func (r *Runner) pruneLoop(ctx context.Context) {
	wait := time.Hour
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		rep, err := r.Prune(ctx)
		if err != nil {
			r.log.Warn("scheduled prune", "err", err)
		} else {
			r.log.Info("scheduled prune", "images", rep.Images, "build_cache_freed", rep.BuildCacheFreed)
		}
		wait = 24 * time.Hour
	}
}

// PruneHistory applies the history retention settings now.
func (r *Runner) PruneHistory(ctx context.Context) (db.HistoryPruneReport, error) {
	ret, err := r.store.HistoryRetention(ctx)
	if err != nil {
		return db.HistoryPruneReport{}, err
	}
	return r.store.PruneHistory(ctx, ret)
}

// historyPruneLoop applies history retention every hour, the first time a
// minute after start (not at once, so start-up stays quick).
func (r *Runner) historyPruneLoop(ctx context.Context) {
	wait := time.Minute
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		rep, err := r.PruneHistory(ctx)
		if err != nil {
			r.log.Warn("history retention", "err", err)
		} else if rep != (db.HistoryPruneReport{}) {
			r.log.Info("history retention", "deployment_logs", rep.DeploymentLogs, "log_lines", rep.LogLines,
				"webhook_deliveries", rep.Deliveries, "sessions", rep.Sessions, "notifications", rep.Notifications, "audit_events", rep.AuditEvents)
		}
		wait = time.Hour
	}
}
