package docker

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// HasImage reports whether ref is present on this node.
func (d *Docker) HasImage(ctx context.Context, ref string) bool {
	_, err := d.cli.ImageInspect(ctx, ref)
	return err == nil
}

// ImageID returns the ID ("sha256:…") of the local image ref.
func (d *Docker) ImageID(ctx context.Context, ref string) (string, error) {
	inspect, err := d.cli.ImageInspect(ctx, ref)
	if err != nil {
		return "", err
	}
	return inspect.ID, nil
}

// RemoveImage untags ref and removes its untagged parents. It is not
// forced: an image a container still uses is kept and an error returned.
func (d *Docker) RemoveImage(ctx context.Context, ref string) error {
	_, err := d.cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
	return err
}

// RemoveContainer force-removes a container and its anonymous volumes.
func (d *Docker) RemoveContainer(ctx context.Context, id string) error {
	return d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// ContainersFromImage lists the IDs of every container, running or not,
// created from image (or a descendant of it).
func (d *Docker) ContainersFromImage(ctx context.Context, image string) ([]string, error) {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", image))})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return ids, nil
}

// DanglingImages lists the IDs ("sha256:…") of the untagged images no
// other image is built on: what `docker image prune` would remove. App
// builds carry no label, so cleanup asks the store which of these an app
// built (db.Store.BuiltImagesAmong) and removes those with
// RemoveUntaggedImages.
func (d *Docker) DanglingImages(ctx context.Context) ([]string, error) {
	list, err := d.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, img := range list {
		ids[i] = img.ID
	}
	return ids, nil
}

// PruneDanglingImages removes untagged images carrying label ("key" or
// "key=value") and returns how many were deleted.
func (d *Docker) PruneDanglingImages(ctx context.Context, label string) (int, error) {
	pr, err := d.cli.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", label)))
	if err != nil {
		return 0, err
	}
	return len(pr.ImagesDeleted), nil
}

// PruneBuildCache removes unused build cache older than until (a Docker
// duration filter such as "24h") and returns the bytes freed.
func (d *Docker) PruneBuildCache(ctx context.Context, until string) (uint64, error) {
	cache, err := d.cli.BuildCachePrune(ctx, build.CachePruneOptions{
		Filters: filters.NewArgs(filters.Arg("until", until)),
	})
	if err != nil {
		return 0, err
	}
	return cache.SpaceReclaimed, nil
}

// BuildContainerFromLog returns the ID of the build container a classic
// build log line (" ---> Running in <id>") names.
func BuildContainerFromLog(line string) (id string, ok bool) {
	if m := buildContainerLine.FindStringSubmatch(line); m != nil {
		return m[1], true
	}
	return "", false
}

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
func (d *Docker) DiskUsage(ctx context.Context) (DiskUsage, error) {
	du, err := d.cli.DiskUsage(ctx, types.DiskUsageOptions{})
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
