package jobs

import (
	"context"
	"io"

	"dokploy/jobs/docker"
	"dokploy/jobs/git"
)

// Engine is what the runner needs from the container engine; *docker.Docker
// implements it, and tests use an in-memory fake.
type Engine interface {
	// Ping reports whether the engine answers and swarm mode is active.
	Ping(ctx context.Context) (swarmActive bool, err error)

	// Images.
	Build(ctx context.Context, spec docker.BuildSpec, log docker.LogFunc) (string, error)
	Pull(ctx context.Context, ref string, auth *docker.RegistryAuth, log docker.LogFunc) error
	HasImage(ctx context.Context, ref string) bool
	RemoveImage(ctx context.Context, ref string) error
	RemoveImages(ctx context.Context, repo string) error

	// Services.
	DeployService(ctx context.Context, spec docker.ServiceSpec, log docker.LogFunc) error
	ScaleService(ctx context.Context, name string, replicas uint64) error
	RestartService(ctx context.Context, name string) error
	RemoveService(ctx context.Context, name string) error
	ServiceLogs(ctx context.Context, name string, follow bool, tail int) (io.ReadCloser, error)

	// Cleanup and maintenance.
	RemoveContainer(ctx context.Context, id string) error
	PruneDanglingImages(ctx context.Context, label string) (int, error)
	PruneBuildCache(ctx context.Context, until string) (uint64, error)
	DiskUsage(ctx context.Context) (docker.DiskUsage, error)
}

// Cloner fetches the source of git apps; the default is git.Clone.
type Cloner interface {
	Clone(ctx context.Context, src git.Source, dir string, log git.LogFunc) (git.Commit, error)
}

// goGit is the default Cloner.
type goGit struct{}

func (goGit) Clone(ctx context.Context, src git.Source, dir string, log git.LogFunc) (git.Commit, error) {
	return git.Clone(ctx, src, dir, log)
}

var _ Engine = (*docker.Docker)(nil)
