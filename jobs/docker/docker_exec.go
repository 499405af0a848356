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
	"github.com/docker/docker/api/types"
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
	return d.ExecInContainer(ctx, id, spec)
}

// ExecInContainer is ExecInService for a container by id.
func (d *Docker) ExecInContainer(ctx context.Context, id string, spec ExecSpec) (string, error) {
	var out limitedBuffer
	s := StreamExec{Cmd: spec.Cmd, Env: spec.Env, User: spec.User, Stdout: &out, merged: &out}
	if spec.Stdin != "" {
		s.Stdin = strings.NewReader(spec.Stdin)
	}
	err := d.StreamInContainer(ctx, id, s)
	return out.String(), err
}

// StreamExec is a command whose stdin and stdout are streams: a dump
// written to Stdout, a restore read from Stdin. Its stderr is kept
// (bounded) for the error message and handed to Log line by line.
type StreamExec struct {
	Cmd    []string
	Env    []string
	User   string
	Stdin  io.Reader // nil: no stdin
	Stdout io.Writer
	Log    LogFunc // stderr lines; nil drops them

	merged *limitedBuffer // ExecInContainer: stderr joins stdout here
}

// StreamInService runs spec in a running container of the service.
func (d *Docker) StreamInService(ctx context.Context, service string, spec StreamExec) error {
	id, err := d.runningContainer(ctx, service)
	if err != nil {
		return err
	}
	return d.StreamInContainer(ctx, id, spec)
}

// StreamInContainer runs spec in the container and returns once its
// output has been read and it exited: nil only for exit status 0, so a
// dump that failed halfway is never taken for a whole one.
func (d *Docker) StreamInContainer(ctx context.Context, id string, spec StreamExec) error {
	name := spec.Cmd[0]
	created, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: spec.Cmd, Env: spec.Env, User: spec.User,
		AttachStdin: spec.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return fmt.Errorf("exec %s: %w", name, err)
	}
	resp, err := d.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("attach to exec %s: %w", name, err)
	}
	defer resp.Close()
	// Closing the connection is what unblocks the copies when ctx ends.
	stop := context.AfterFunc(ctx, resp.Close)
	defer stop()
	stdinErr := feedStdin(resp, spec.Stdin)
	errOut := &limitedBuffer{}
	if spec.merged != nil {
		errOut = spec.merged
	}
	_, copyErr := stdcopy.StdCopy(spec.Stdout, errOut, resp.Reader)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if spec.Log != nil && spec.merged == nil {
		logLines(errOut.String(), func(line string) { spec.Log(name + ": " + line) })
	}
	if copyErr != nil {
		return fmt.Errorf("read the output of %s: %w", name, copyErr)
	}
	if err := <-stdinErr; err != nil {
		return fmt.Errorf("feed the input of %s: %w", name, err)
	}
	info, err := d.execExited(ctx, created.ID)
	if err != nil {
		return fmt.Errorf("inspect exec %s: %w", name, err)
	}
	if info.ExitCode == 126 || info.ExitCode == 127 {
		// The runtime's own words say "executable file not found".
		return fmt.Errorf("%s could not be run in the container (exit status %d: not installed or not executable): use an image that ships it, as the official images do", name, info.ExitCode)
	}
	if info.ExitCode != 0 {
		return fmt.Errorf("%s exited with status %d: %s", name, info.ExitCode, strings.ReplaceAll(lastLines(errOut.String(), 5), "\n", " | "))
	}
	return nil
}

// execExited waits for an exec whose output ended to be reaped: right
// after the stream closes the engine may still report it running, with
// no exit code yet, and a failed dump must never read as a success.
func (d *Docker) execExited(ctx context.Context, id string) (container.ExecInspect, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := d.cli.ContainerExecInspect(ctx, id)
		if err != nil || !info.Running {
			return info, err
		}
		if time.Now().After(deadline) {
			return info, errors.New("the command's output ended but it is still running")
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ServiceContainer is the id of a running container of the service on
// this node.
func (d *Docker) ServiceContainer(ctx context.Context, service string) (string, error) {
	return d.runningContainer(ctx, service)
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

// feedStdin copies stdin (nil: none) into a hijacked stream and closes
// its write side; the channel gets the outcome.
func feedStdin(resp types.HijackedResponse, stdin io.Reader) <-chan error {
	done := make(chan error, 1)
	if stdin == nil {
		done <- nil
		return done
	}
	go func() {
		if _, err := io.Copy(resp.Conn, stdin); err != nil {
			resp.Close() // the tool must not take a cut input for a whole one
			done <- err
			return
		}
		done <- resp.CloseWrite()
	}()
	return done
}

// logLines hands each non-empty line of text to log.
func logLines(text string, log LogFunc) {
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			log(line)
		}
	}
}
