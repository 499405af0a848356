package jobs

import (
	"context"
	"io"
	"time"

	"dokploy/jobs/docker"
	"dokploy/jobs/git"
)

// Engine is what the runner needs from the container engine; *docker.Docker
// implements it, and tests use an in-memory fake.
type Engine interface {
	// Ping reports whether the engine answers and swarm mode is active.
	Ping(ctx context.Context) (swarmActive bool, err error)
	// LocalNodeID is the swarm node of the engine the runner talks to.
	LocalNodeID(ctx context.Context) (string, error)

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
	RestartServiceWait(ctx context.Context, name string, log docker.LogFunc) error
	ScaleServiceWait(ctx context.Context, name string, replicas uint64, log docker.LogFunc) error
	RemoveService(ctx context.Context, name string) error
	ServiceInfo(ctx context.Context, name string) (docker.ServiceState, error)
	ExecInService(ctx context.Context, service string, spec docker.ExecSpec) (string, error)
	StreamInService(ctx context.Context, service string, spec docker.StreamExec) error
	ServiceContainer(ctx context.Context, service string) (string, error)
	ServiceLogs(ctx context.Context, name string, follow bool, tail int) (io.ReadCloser, error)

	// Compose stacks.
	DeployStack(ctx context.Context, spec docker.StackSpec, log docker.LogFunc) error
	StackReplicas(ctx context.Context, stack string) (map[string]uint64, error)
	ScaleStack(ctx context.Context, stack string, replicas map[string]uint64, log docker.LogFunc) error
	RestartStack(ctx context.Context, stack string, log docker.LogFunc) error
	RemoveStack(ctx context.Context, stack string, removeVolumes bool, log docker.LogFunc) error
	StackServices(ctx context.Context, stack string) ([]docker.StackServiceState, error)

	// Volumes.
	VolumeExists(ctx context.Context, name string) (bool, error)
	RemoveVolume(ctx context.Context, name string, wait time.Duration) error

	// Plain containers (restore drills, volume helpers).
	CreateContainer(ctx context.Context, spec docker.ContainerSpec) (string, error)
	StartContainer(ctx context.Context, id string) error
	WaitContainer(ctx context.Context, id string) (int64, error)
	ContainerRunning(ctx context.Context, id string) (running bool, exitCode int, err error)
	ExecInContainer(ctx context.Context, id string, spec docker.ExecSpec) (string, error)
	StreamInContainer(ctx context.Context, id string, spec docker.StreamExec) error
	CopyFileToContainer(ctx context.Context, id, dir, name string, r io.Reader, size int64, mode int64, uid, gid int) error
	RunContainer(ctx context.Context, id string, stdin io.Reader, stdout io.Writer, log docker.LogFunc) error

	// Cleanup and maintenance.
	RemoveContainer(ctx context.Context, id string) error
	PruneDanglingImages(ctx context.Context, label string) (int, error)
	DanglingImages(ctx context.Context) ([]string, error)
	RemoveUntaggedImages(ctx context.Context, ids []string) int
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
