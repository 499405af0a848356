package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
)

// removeWait bounds how long RemoveService waits for containers to go.
const removeWait = 30 * time.Second

// ServiceState is a snapshot of a service for the UI and health checks.
type ServiceState struct {
	Exists   bool
	Image    string
	Replicas int // desired
	Running  int // tasks currently running
	// Exiting counts tasks Swarm told to shut down (a stop, a scale-down,
	// the old task of an update) whose container has not exited yet: a
	// stopped app is one with none left.
	Exiting     int
	UpdateState string // "", "updating", "completed", "paused", "rollback_…"
	Healthy     int    // running tasks whose health check passes (or that have none)
	// HasHealthCheck tells whether Healthy means a passing probe.
	HasHealthCheck bool
	Message        string // the newest task's error or pending state, if any
	Labels         map[string]string
}

// ScaleService sets the desired replica count (0 stops the app) without
// touching anything else and without waiting.
func (d *Docker) ScaleService(ctx context.Context, name string, replicas uint64) error {
	return d.updateService(ctx, name, "", nil, func(spec *swarm.ServiceSpec) {
		spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}}
	})
}

// RestartService replaces every task with a fresh one from the same spec
// (like `docker service update --force`), without waiting.
func (d *Docker) RestartService(ctx context.Context, name string) error {
	return d.updateService(ctx, name, "", nil, func(spec *swarm.ServiceSpec) {
		spec.TaskTemplate.ForceUpdate++
	})
}

// RemoveService deletes the service and waits (bounded) until its containers
// are gone, so its ports and images are free when it returns. A missing
// service is not an error.
func (d *Docker) RemoveService(ctx context.Context, name string) error {
	if err := d.cli.ServiceRemove(ctx, name); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove service %s: %w", name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, removeWait)
	defer cancel()
	list := container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name="+name))}
	for {
		left, err := d.cli.ContainerList(wctx, list)
		if err == nil && len(left) == 0 {
			return nil
		}
		sleepCtx(wctx, convergePoll)
		if wctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // removed; Swarm finishes the containers in the background
		}
	}
}

// ServiceInfo reports whether the service exists, its image and how many of
// its replicas run. A missing service is not an error (Exists is false).
func (d *Docker) ServiceInfo(ctx context.Context, name string) (ServiceState, error) {
	svc, _, err := d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return ServiceState{}, nil
	}
	if err != nil {
		return ServiceState{}, fmt.Errorf("inspect service %s: %w", name, err)
	}
	st := ServiceState{Exists: true, Labels: svc.Spec.Labels}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		st.Image = cs.Image
	}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		st.Replicas = int(*r.Replicas)
	}
	if svc.UpdateStatus != nil {
		st.UpdateState = string(svc.UpdateStatus.State)
	}
	// Every task, not only those desired running: a task being shut down
	// keeps its container (and its port) until the process exits.
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svc.ID))})
	if err != nil {
		return st, fmt.Errorf("list tasks of %s: %w", name, err)
	}
	st.HasHealthCheck = svc.Spec.TaskTemplate.ContainerSpec != nil && svc.Spec.TaskTemplate.ContainerSpec.Healthcheck != nil
	for _, t := range tasks {
		if t.DesiredState != swarm.TaskStateRunning {
			if t.Status.State == swarm.TaskStateRunning {
				st.Exiting++
			}
			continue
		}
		switch t.Status.State {
		case swarm.TaskStateRunning:
			st.Running++
			// Swarm reports a task running only once its container passed
			// its health check, if it has one (the image's counts too), and
			// replaces it when the check fails: only a service with a check
			// of its own, whose Healthy tells the probe's answer right now,
			// asks each container (one inspect per task, on every read).
			if !st.HasHealthCheck || d.containerHealthy(ctx, t) {
				st.Healthy++
			}
		case swarm.TaskStateFailed, swarm.TaskStateRejected:
		default:
			if t.Status.Err == "" {
				st.Message = string(t.Status.State)
			}
		}
		if t.Status.Err != "" {
			st.Message = t.Status.Err
		}
	}
	return st, nil
}

// containerHealthy reports whether a running task's container passes its
// health check (or has none). A container on another node cannot be
// inspected from here: Swarm only reports tasks running once healthy, so
// it counts as healthy.
func (d *Docker) containerHealthy(ctx context.Context, t swarm.Task) bool {
	if t.Status.ContainerStatus == nil {
		return false
	}
	c, err := d.cli.ContainerInspect(ctx, t.Status.ContainerStatus.ContainerID)
	if err != nil {
		return cerrdefs.IsNotFound(err)
	}
	return c.State == nil || c.State.Health == nil || c.State.Health.Status == "healthy"
}

// ServiceLogs streams the service's stdout and stderr as plain text (the
// multiplexed stream is decoded). tail < 0 means all lines. With follow it
// runs until ctx is cancelled or the reader is closed; always Close it.
func (d *Docker) ServiceLogs(ctx context.Context, name string, follow bool, tail int) (io.ReadCloser, error) {
	tailOpt := "all"
	if tail >= 0 {
		tailOpt = strconv.Itoa(tail)
	}
	rc, err := d.cli.ServiceLogs(ctx, name, container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     follow,
		Tail:       tailOpt,
	})
	if err != nil {
		return nil, fmt.Errorf("logs of service %s: %w", name, err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err) // nil means EOF for the reader
	}()
	return &demuxReader{PipeReader: pr, src: rc}, nil
}

// demuxReader closes the engine stream too, so the copying goroutine ends
// when the caller stops reading.
type demuxReader struct {
	*io.PipeReader
	src io.Closer
}

func (r *demuxReader) Close() error {
	_ = r.src.Close()
	return r.PipeReader.Close()
}

// RestartServiceWait replaces the service's tasks like RestartService,
// then waits until the fresh ones run (healthy, if it has a health check)
// and stay up for the monitor period.
func (d *Docker) RestartServiceWait(ctx context.Context, name string, log LogFunc) error {
	if err := d.RestartService(ctx, name); err != nil {
		return err
	}
	return d.waitCurrent(ctx, name, log)
}

// ScaleServiceWait scales the service and waits until the state is real:
// the new replicas run, or with 0 every container of the service is gone.
func (d *Docker) ScaleServiceWait(ctx context.Context, name string, replicas uint64, log LogFunc) error {
	if err := d.ScaleService(ctx, name, replicas); err != nil {
		return err
	}
	if replicas > 0 {
		return d.waitCurrent(ctx, name, log)
	}
	list := container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name="+name))}
	for {
		running, err := d.cli.ContainerList(ctx, list)
		if err == nil && len(running) == 0 && !d.taskReportsRunning(ctx, name) {
			log.printf("Service %s is stopped", name)
			return nil
		}
		sleepCtx(ctx, convergePoll)
		if ctx.Err() != nil {
			return fmt.Errorf("service %s did not stop: %w", name, context.Cause(ctx))
		}
	}
}

// taskReportsRunning tells whether Swarm still reports a task of the
// service running. The node's agent reports a container's exit a moment
// after it happens: until then ServiceInfo counts the task as exiting, so
// a stop that returned on the container alone was read back as
// "stopping". An error counts as running: the caller polls again.
func (d *Docker) taskReportsRunning(ctx context.Context, name string) bool {
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", name))})
	if err != nil {
		return true
	}
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			return true
		}
	}
	return false
}

// waitCurrent waits for the service's current spec to converge.
func (d *Docker) waitCurrent(ctx context.Context, name string, log LogFunc) error {
	svc, _, err := d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect service %s: %w", name, err)
	}
	spec := ServiceSpec{Name: name}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		spec.Image = cs.Image
	}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		spec.Replicas = *r.Replicas
	}
	if u := svc.Spec.UpdateConfig; u != nil {
		spec.MonitorPeriod = u.Monitor
	}
	return d.waitConverged(ctx, svc.ID, spec, log)
}
