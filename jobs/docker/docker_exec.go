package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
)

// ExecSpec is a command to run in a service's container: an argument list
// (never a shell string), extra environment for secrets, the user, and
// what to write to its stdin.
type ExecSpec struct {
	Cmd   []string
	Env   []string
	User  string
	Stdin string
}

// ErrNoRunningTask means the service has no running container to exec in.
var ErrNoRunningTask = errors.New("no running container")

// maxExecOutput bounds what an exec's output may take in memory.
const maxExecOutput = 64 << 10

// ExecInService runs spec in a running container of the service on this
// node and returns its combined output (bounded). A non-zero exit is an
// error carrying the output's last lines; secrets never reach argv.
func (d *Docker) ExecInService(ctx context.Context, service string, spec ExecSpec) (string, error) {
	id, err := d.runningContainer(ctx, service)
	if err != nil {
		return "", err
	}
	created, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: spec.Cmd, Env: spec.Env, User: spec.User,
		AttachStdin: spec.Stdin != "", AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", service, err)
	}
	resp, err := d.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", fmt.Errorf("attach to exec in %s: %w", service, err)
	}
	defer resp.Close()
	if spec.Stdin != "" {
		if _, err := io.WriteString(resp.Conn, spec.Stdin); err != nil {
			return "", fmt.Errorf("write to exec in %s: %w", service, err)
		}
		if err := resp.CloseWrite(); err != nil {
			return "", fmt.Errorf("close exec stdin in %s: %w", service, err)
		}
	}
	var out limitedBuffer
	if _, err := stdcopy.StdCopy(&out, &out, resp.Reader); err != nil && ctx.Err() == nil {
		return out.String(), fmt.Errorf("read exec output in %s: %w", service, err)
	}
	if ctx.Err() != nil {
		return out.String(), ctx.Err()
	}
	info, err := d.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return out.String(), fmt.Errorf("inspect exec in %s: %w", service, err)
	}
	if info.ExitCode != 0 {
		return out.String(), fmt.Errorf("%s exited with status %d: %s", spec.Cmd[0], info.ExitCode, strings.ReplaceAll(lastLines(out.String(), 5), "\n", " | "))
	}
	return out.String(), nil
}

// runningContainer finds the container of a running task of the service
// that this engine can reach.
func (d *Docker) runningContainer(ctx context.Context, service string) (string, error) {
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		return "", fmt.Errorf("list tasks of %s: %w", service, err)
	}
	elsewhere := false
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning || t.Status.ContainerStatus == nil {
			continue
		}
		id := t.Status.ContainerStatus.ContainerID
		if _, err := d.cli.ContainerInspect(ctx, id); err == nil {
			return id, nil
		} else if cerrdefs.IsNotFound(err) {
			elsewhere = true
		}
	}
	if elsewhere {
		return "", fmt.Errorf("%s runs on another node; this operation needs its container on the manager: %w", service, ErrNoRunningTask)
	}
	return "", fmt.Errorf("%s has %w (start it first)", service, ErrNoRunningTask)
}

// limitedBuffer keeps the first maxExecOutput bytes and drops the rest.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxExecOutput - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// VolumeExists reports whether a named volume exists on this node.
func (d *Docker) VolumeExists(ctx context.Context, name string) (bool, error) {
	_, err := d.cli.VolumeInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect volume %s: %w", name, err)
	}
	return true, nil
}

// RemoveVolume removes a named volume, waiting up to wait for the
// containers of a just-removed service to let go of it. A volume that is
// already gone is not an error.
func (d *Docker) RemoveVolume(ctx context.Context, name string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := d.cli.VolumeRemove(ctx, name, false)
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		if !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "in use") || time.Now().After(deadline) {
			return fmt.Errorf("remove volume %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
