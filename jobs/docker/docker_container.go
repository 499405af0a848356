package docker

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// ContainerSpec is a plain container outside Swarm, for short work next to
// a service: a restore drill's throwaway database, a helper that prepares
// a data volume. It has no network unless Network is set; the anonymous
// volumes its image declares go with it (RemoveContainer).
type ContainerSpec struct {
	Name       string
	Image      string
	Entrypoint []string // nil keeps the image's
	Cmd        []string // nil keeps the image's
	Env        []string
	User       string
	Labels     map[string]string
	Mounts     []BindMount
	Volumes    []VolumeMount
	Network    string // "" means none
	Stdin      bool   // open stdin, for RunContainer to feed
}

// CreateContainer creates (not starts) a container.
func (d *Docker) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	network := spec.Network
	if network == "" {
		network = "none"
	}
	hostCfg := &container.HostConfig{
		NetworkMode: container.NetworkMode(network),
		Mounts:      mounts(spec.Mounts, spec.Volumes),
	}
	resp, err := d.cli.ContainerCreate(ctx, &container.Config{
		Image: spec.Image, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Env: spec.Env, User: spec.User, Labels: spec.Labels,
		OpenStdin: spec.Stdin, StdinOnce: spec.Stdin, AttachStdin: spec.Stdin,
	}, hostCfg, nil, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("create container from %s: %w", spec.Image, err)
	}
	return resp.ID, nil
}

// StartContainer starts a created container.
func (d *Docker) StartContainer(ctx context.Context, id string) error {
	if err := d.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	return nil
}

// WaitContainer waits for a container to exit and returns its status.
func (d *Docker) WaitContainer(ctx context.Context, id string) (int64, error) {
	okC, errC := d.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case res := <-okC:
		if res.Error != nil {
			return res.StatusCode, fmt.Errorf("wait for container: %s", res.Error.Message)
		}
		return res.StatusCode, nil
	case err := <-errC:
		return -1, fmt.Errorf("wait for container: %w", err)
	}
}

// ContainerRunning reports whether the container is still up, and its
// exit code when it is not.
func (d *Docker) ContainerRunning(ctx context.Context, id string) (bool, int, error) {
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return false, 0, fmt.Errorf("inspect container: %w", err)
	}
	return info.State.Running, info.State.ExitCode, nil
}

// CopyFileToContainer writes one file of size bytes from r into dir of a
// (created or running) container, as a one-entry tar stream: nothing is
// spooled on the host.
func (d *Docker) CopyFileToContainer(ctx context.Context, id, dir, name string, r io.Reader, size int64, mode int64, uid, gid int) error {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: size, Uid: uid, Gid: gid, ModTime: time.Now(), Typeflag: tar.TypeReg})
		if err == nil {
			var n int64
			n, err = io.Copy(tw, io.LimitReader(r, size+1))
			if err == nil && n != size {
				err = fmt.Errorf("the file is %d bytes, not the %d recorded", n, size)
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err := d.cli.CopyToContainer(ctx, id, dir, pr, container.CopyToContainerOptions{})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("copy %s into the container: %w", name, err)
	}
	return nil
}

// RunContainer starts a created container with its streams attached and
// returns once it exited: stdin (nil for none; the spec must have Stdin)
// is fed to it and closed, its stdout is written to stdout, its stderr
// goes to log line by line. Only exit status 0 is nil, so a stream that
// stopped halfway is never taken for a whole one.
func (d *Docker) RunContainer(ctx context.Context, id string, stdin io.Reader, stdout io.Writer, log LogFunc) error {
	resp, err := d.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: stdin != nil, Stdout: true, Stderr: true})
	if err != nil {
		return fmt.Errorf("attach to container: %w", err)
	}
	defer resp.Close()
	stop := context.AfterFunc(ctx, resp.Close)
	defer stop()
	// Asked before the start, so a quick exit is not missed.
	okC, errC := d.cli.ContainerWait(ctx, id, container.WaitConditionNextExit)
	if err := d.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	stdinErr := feedStdin(resp, stdin)
	errOut := &limitedBuffer{}
	_, copyErr := stdcopy.StdCopy(stdout, errOut, resp.Reader)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if log != nil {
		logLines(errOut.String(), log)
	}
	if copyErr != nil {
		return fmt.Errorf("read the container's output: %w", copyErr)
	}
	if err := <-stdinErr; err != nil {
		return fmt.Errorf("feed the container's input: %w", err)
	}
	var code int64
	select {
	case res := <-okC:
		if res.Error != nil {
			return fmt.Errorf("wait for container: %s", res.Error.Message)
		}
		code = res.StatusCode
	case err := <-errC:
		return fmt.Errorf("wait for container: %w", err)
	}
	if code != 0 {
		return fmt.Errorf("the container exited with status %d: %s", code, strings.ReplaceAll(lastLines(errOut.String(), 5), "\n", " | "))
	}
	return nil
}
