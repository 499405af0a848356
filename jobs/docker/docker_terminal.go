package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// ErrNoShell means the container has neither bash nor sh to run.
var ErrNoShell = errors.New("this image has no shell (bash or sh), so a terminal cannot open in it; " +
	"add one to the image (a busybox or debian base has sh) to use the terminal")

// ErrReplicaElsewhere means the replica asked for runs on another node,
// which the engine of this node cannot exec in.
var ErrReplicaElsewhere = errors.New("replica runs on another node")

// terminalShells are tried in this order; the first the image has is run.
var terminalShells = []string{"bash", "sh"}

// Replica is one running task of a service, as the terminal's picker
// shows it.
type Replica struct {
	Slot      int    `json:"replica"`
	Node      string `json:"node"` // the node's hostname (its id when unknown)
	Container string `json:"container_id"`
	Local     bool   `json:"local"` // on this node: a terminal can reach it
}

// ServiceReplicas lists the running tasks of the service by slot, and
// says which of them this engine can reach.
func (d *Docker) ServiceReplicas(ctx context.Context, service string) ([]Replica, error) {
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", service, err)
	}
	hosts := map[string]string{}
	var out []Replica
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning || t.Status.ContainerStatus == nil {
			continue
		}
		r := Replica{Slot: t.Slot, Container: t.Status.ContainerStatus.ContainerID, Node: t.NodeID}
		if h, ok := hosts[t.NodeID]; ok {
			r.Node = h
		} else if n, _, err := d.cli.NodeInspectWithRaw(ctx, t.NodeID); err == nil && n.Description.Hostname != "" {
			hosts[t.NodeID], r.Node = n.Description.Hostname, n.Description.Hostname
		}
		if _, err := d.cli.ContainerInspect(ctx, r.Container); err == nil {
			r.Local = true
		} else if !cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("inspect container of %s: %w", service, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	for i := range out { // global services have no slots: number them
		if out[i].Slot == 0 {
			out[i].Slot = i + 1
		}
	}
	return out, nil
}

// PickReplica chooses the replica with slot (0: the first running one on
// this node) among reps; one on another node is ErrReplicaElsewhere with
// its node's name.
func PickReplica(service string, reps []Replica, slot int) (Replica, error) {
	if len(reps) == 0 {
		return Replica{}, fmt.Errorf("%s has %w (start it first)", service, ErrNoRunningTask)
	}
	for _, r := range reps {
		if slot == 0 && r.Local || slot != 0 && r.Slot == slot {
			if !r.Local {
				return r, fmt.Errorf("replica %d runs on node %s; terminals reach only containers on this node for now: %w",
					r.Slot, r.Node, ErrReplicaElsewhere)
			}
			return r, nil
		}
	}
	if slot != 0 {
		return Replica{}, fmt.Errorf("%s has no running replica %d: %w", service, slot, ErrNoRunningTask)
	}
	return reps[0], fmt.Errorf("replica %d runs on node %s; terminals reach only containers on this node for now: %w",
		reps[0].Slot, reps[0].Node, ErrReplicaElsewhere)
}

// Terminal is an interactive shell in a container, on a TTY: Read is
// what it prints, Write what is typed. Close ends the shell, so no
// process outlives the session.
type Terminal struct {
	d         *Docker
	Container string
	Shell     string
	ExecID    string
	pid       string // the shell's pid inside the container
	conn      types.HijackedResponse
	out       *bufio.Reader
	closeOnce sync.Once
	closeErr  error
}

// OpenTerminal starts bash, or sh when the image has no bash, on a TTY of
// cols×rows in the container. The commands are fixed; nothing the user
// sends reaches them but as keystrokes.
func (d *Docker) OpenTerminal(ctx context.Context, id string, cols, rows uint) (*Terminal, error) {
	shell, err := d.findShell(ctx, id)
	if err != nil {
		return nil, err
	}
	// The shell prints its pid (kept by exec) first: the engine does not
	// end an exec when its client goes, so Close signals that pid.
	size := &[2]uint{rows, cols}
	created, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: []string{shell, "-c", "echo $$; exec " + shell}, Env: []string{"TERM=xterm-256color"},
		Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, ConsoleSize: size,
	})
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", shell, err)
	}
	conn, err := d.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: true, ConsoleSize: size})
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", shell, err)
	}
	t := &Terminal{d: d, Container: id, Shell: shell, ExecID: created.ID, conn: conn, out: conn.Reader}
	_ = conn.Conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := t.out.ReadString('\n')
	_ = conn.Conn.SetReadDeadline(time.Time{})
	pid := strings.TrimSpace(line)
	if _, perr := strconv.Atoi(pid); err != nil || perr != nil {
		conn.Close()
		return nil, fmt.Errorf("%s did not start in the container: %q %v", shell, strings.TrimSpace(line), err)
	}
	t.pid = pid
	// The engine does not apply ConsoleSize to an exec's TTY: size it now
	// that it runs, as the docker CLI does.
	if err := t.Resize(ctx, cols, rows); err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("size the terminal: %w", err)
	}
	return t, nil
}

// findShell runs each shell's no-op (a fixed command, not on a TTY) and
// returns the first that ran.
func (d *Docker) findShell(ctx context.Context, id string) (string, error) {
	for _, sh := range terminalShells {
		code, err := d.execCode(ctx, id, []string{sh, "-c", ":"})
		if err != nil {
			return "", err
		}
		if code == 0 {
			return sh, nil
		}
	}
	return "", ErrNoShell
}

// execCode runs cmd without a TTY, drops its output, and returns its exit
// status (126 or 127 when it is not in the image).
func (d *Docker) execCode(ctx context.Context, id string, cmd []string) (int, error) {
	created, err := d.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	resp, err := d.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("attach to %s: %w", cmd[0], err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Reader, maxExecOutput))
	resp.Close()
	info, err := d.execExited(ctx, created.ID)
	if err != nil {
		return 0, fmt.Errorf("inspect exec %s: %w", cmd[0], err)
	}
	return info.ExitCode, nil
}

// Read reads what the shell printed.
func (t *Terminal) Read(p []byte) (int, error) { return t.out.Read(p) }

// Write types p into the shell.
func (t *Terminal) Write(p []byte) (int, error) { return t.conn.Conn.Write(p) }

// Resize sets the TTY's size.
func (t *Terminal) Resize(ctx context.Context, cols, rows uint) error {
	return t.d.cli.ContainerExecResize(ctx, t.ExecID, container.ResizeOptions{Width: cols, Height: rows})
}

// Running reports whether the shell process is still alive.
func (t *Terminal) Running(ctx context.Context) (bool, error) {
	info, err := t.d.cli.ContainerExecInspect(ctx, t.ExecID)
	if err != nil {
		return false, err
	}
	return info.Running, nil
}

// Close hangs the shell up (SIGHUP, then SIGKILL after 3 s) and waits
// until the engine reports it ended; the container may be gone already.
func (t *Terminal) Close() error {
	t.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		t.conn.Close()
		t.closeErr = t.end(ctx)
	})
	return t.closeErr
}

func (t *Terminal) end(ctx context.Context) error {
	for _, sig := range []string{"HUP", "KILL"} {
		if up, err := t.Running(ctx); err != nil || !up {
			return ignoreGone(err)
		}
		// "$1" is the pid as an argument: no value is put into the script.
		_, _ = t.d.execCode(ctx, t.Container, []string{t.Shell, "-c", `kill -` + sig + ` "$1"`, "kill", t.pid})
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if up, err := t.Running(ctx); err != nil || !up {
				return ignoreGone(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return fmt.Errorf("the shell (pid %s in container %.12s) is still running after SIGKILL", t.pid, t.Container)
}

// ignoreGone: an exec or container that no longer exists has ended.
func ignoreGone(err error) error {
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	return err
}
