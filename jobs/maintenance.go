package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"

	"dokploy/db"
)

// DiskUsage is the Docker engine's disk use, for the settings page.
type DiskUsage struct {
	Images, ImagesSize         int64
	Reclaimable                int64 // size of images no container uses
	BuildCache, BuildCacheSize int64
	Containers                 int64
	Volumes, VolumesSize       int64
}

// DiskUsage asks the engine what its images, build cache, containers and
// volumes take.
func (r *Runner) DiskUsage(ctx context.Context) (DiskUsage, error) {
	du, err := r.docker.cli.DiskUsage(ctx, types.DiskUsageOptions{})
	if err != nil {
		return DiskUsage{}, err
	}
	var out DiskUsage
	for _, img := range du.Images {
		out.Images++
		out.ImagesSize += img.Size
		if img.Containers == 0 {
			out.Reclaimable += img.Size
		}
	}
	for _, c := range du.BuildCache {
		out.BuildCache++
		out.BuildCacheSize += c.Size
	}
	out.Containers = int64(len(du.Containers))
	for _, v := range du.Volumes {
		out.Volumes++
		if v.UsageData != nil && v.UsageData.Size > 0 {
			out.VolumesSize += v.UsageData.Size
		}
	}
	return out, nil
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
	dangling := filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", LabelApp))
	if pr, err := r.docker.cli.ImagesPrune(ctx, dangling); err == nil {
		rep.Images += len(pr.ImagesDeleted)
	}
	cache, err := r.docker.cli.BuildCachePrune(ctx, build.CachePruneOptions{
		Filters: filters.NewArgs(filters.Arg("until", "24h")),
	})
	if err != nil {
		return rep, fmt.Errorf("prune build cache: %w", err)
	}
	rep.BuildCacheFreed = cache.SpaceReclaimed
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
