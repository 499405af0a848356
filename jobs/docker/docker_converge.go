package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
)

const (
	defaultConvergeTimeout = 10 * time.Minute
	convergePoll           = 500 * time.Millisecond
	// servingPoll is the poll interval until the first new task runs: that
	// moment is recorded as "serving", and users wait on it.
	servingPoll = 100 * time.Millisecond
	// maxTaskFailures is how many failed tasks of the new spec make a deploy
	// fail. One crash may be a dependency that was not up yet; two in a row
	// means the app keeps crashing.
	maxTaskFailures = 2
	failureLogLines = 20
)

// convergeState is what one poll of the service saw.
type convergeState struct {
	running  []string     // IDs of up-to-date tasks that are running
	failed   []swarm.Task // up-to-date tasks that failed or were rejected
	pending  []swarm.Task // up-to-date tasks that should run but do not yet
	rollback *swarm.UpdateStatus
}

// waitConverged polls the service until the new spec's tasks are all
// running and stay so for the monitor period, or fails with the reason.
func (d *Docker) waitConverged(ctx context.Context, serviceID string, spec ServiceSpec, log LogFunc) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultConvergeTimeout)
		defer cancel()
	}
	settle := spec.MonitorPeriod
	if settle <= 0 {
		settle = defaultMonitor
	}
	seen := map[string]swarm.TaskState{}
	failedSeen := map[string]swarm.Task{} // survives a rollback, which changes what "up to date" means
	var stableSince time.Time
	var stableSet string
	var last convergeState
	serving := false
	for {
		st, err := d.pollService(ctx, serviceID, spec.Name, seen, log)
		if err != nil {
			if ctx.Err() != nil {
				return d.notConverged(ctx, spec, last)
			}
			return err
		}
		last = st
		for _, t := range st.failed {
			failedSeen[t.ID] = t
		}
		if st.rollback != nil {
			failure := d.taskFailure(ctx, spec.Name, d.latestFailedTask(ctx, serviceID, spec.Image, failedSeen), st.rollback.Message)
			d.awaitRollback(ctx, spec.Name, log)
			return failure
		}
		if len(st.failed) >= maxTaskFailures {
			return d.taskFailure(ctx, spec.Name, latest(st.failed), "")
		}
		if len(st.running) > 0 && !serving && spec.OnServing != nil {
			serving = true
			spec.OnServing(time.Now())
		}
		if uint64(len(st.running)) == spec.Replicas {
			set := strings.Join(st.running, ",")
			if set != stableSet || stableSince.IsZero() {
				stableSet, stableSince = set, time.Now()
			}
			if time.Since(stableSince) >= settle {
				log.printf("Service %s is running (%d/%d)", spec.Name, len(st.running), spec.Replicas)
				return nil
			}
		} else {
			stableSince = time.Time{}
		}
		poll := convergePoll
		if !serving && spec.OnServing != nil {
			poll = servingPoll
		}
		sleepCtx(ctx, poll)
		if ctx.Err() != nil {
			return d.notConverged(ctx, spec, last)
		}
	}
}

// pollService reads the service's update status and its up-to-date tasks,
// logging every task state change (and every new reason for one).
func (d *Docker) pollService(ctx context.Context, serviceID, name string, seen map[string]swarm.TaskState, log LogFunc) (convergeState, error) {
	var st convergeState
	svc, _, err := d.cli.ServiceInspectWithRaw(ctx, serviceID, swarm.ServiceInspectOptions{})
	if err != nil {
		return st, fmt.Errorf("inspect service %s: %w", name, err)
	}
	if us := svc.UpdateStatus; us != nil {
		switch us.State {
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackStarted,
			swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
			st.rollback = us
		}
	}
	// "_up-to-date" is the filter `docker service create/update` uses to
	// see only tasks that run the current spec version.
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", serviceID),
		filters.Arg("_up-to-date", "true"),
	)})
	if err != nil {
		return st, fmt.Errorf("list tasks of %s: %w", name, err)
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].CreatedAt.Before(tasks[j].CreatedAt) })
	for _, t := range tasks {
		// A state is logged once per reason: a pending task logs
		// "pending task scheduling" and again when Swarm says why (no
		// suitable node), so the deploy log shows it while it waits.
		if key := t.ID + "\x00" + t.Status.Err; seen[key] != t.Status.State {
			seen[key] = t.Status.State
			log.line(describeTask(name, t))
		}
		switch {
		case t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected:
			st.failed = append(st.failed, t)
		case t.DesiredState != swarm.TaskStateRunning:
			// shutting down or done; neither counts
		case t.Status.State == swarm.TaskStateRunning:
			st.running = append(st.running, t.ID)
		default:
			st.pending = append(st.pending, t)
		}
	}
	return st, nil
}

func describeTask(service string, t swarm.Task) string {
	s := fmt.Sprintf("Task %s.%d (%s): %s", service, t.Slot, shortID(t.ID), t.Status.State)
	if t.Status.Message != "" && !strings.EqualFold(t.Status.Message, string(t.Status.State)) {
		s += " - " + t.Status.Message
	}
	if t.Status.Err != "" {
		s += ": " + t.Status.Err
	}
	return s
}

// latestFailedTask returns the newest failed task of the new spec. After a
// rollback the up-to-date filter matches the old spec, so when no failure
// was seen while polling it searches all tasks for ones running image.
func (d *Docker) latestFailedTask(ctx context.Context, serviceID, image string, seen map[string]swarm.Task) *swarm.Task {
	var failed []swarm.Task
	for _, t := range seen {
		failed = append(failed, t)
	}
	if len(failed) > 0 {
		return latest(failed)
	}
	tasks, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID))})
	if err != nil {
		return nil
	}
	for _, t := range tasks {
		bad := t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected
		if bad && t.Spec.ContainerSpec != nil && strings.HasPrefix(t.Spec.ContainerSpec.Image, image) {
			failed = append(failed, t)
		}
	}
	return latest(failed)
}

func latest(tasks []swarm.Task) *swarm.Task {
	var out *swarm.Task
	for i := range tasks {
		if out == nil || tasks[i].Status.Timestamp.After(out.Status.Timestamp) {
			out = &tasks[i]
		}
	}
	return out
}

// taskFailure builds the error for a failed deploy: the reason, the task's
// error and the last lines its container printed.
func (d *Docker) taskFailure(ctx context.Context, name string, t *swarm.Task, reason string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", name)
	if reason != "" {
		fmt.Fprintf(&b, " (%s)", reason)
	}
	if t != nil {
		fmt.Fprintf(&b, ": task %d %s", t.Slot, t.Status.State)
		if t.Status.Err != "" {
			fmt.Fprintf(&b, ": %s", t.Status.Err)
		} else if t.Status.Message != "" {
			fmt.Fprintf(&b, ": %s", t.Status.Message)
		}
		if out := d.taskOutput(ctx, *t, failureLogLines); out != "" {
			fmt.Fprintf(&b, "\nlast %d lines of output:\n%s", failureLogLines, out)
		}
	}
	return fmt.Errorf("%w: %s", ErrServiceFailed, b.String())
}

// notConverged explains a deploy that ran out of time (or was cancelled)
// and wraps ctx.Err() so callers can tell cancel from failure.
func (d *Docker) notConverged(ctx context.Context, spec ServiceSpec, st convergeState) error {
	msg := fmt.Sprintf("service %s did not converge: %d/%d tasks running", spec.Name, len(st.running), spec.Replicas)
	if t := latest(st.pending); t != nil {
		msg += "; " + describeTask(spec.Name, *t)
	}
	if t := latest(st.failed); t != nil {
		msg += "; " + describeTask(spec.Name, *t)
	}
	return fmt.Errorf("%s: %w", msg, ctx.Err())
}

// taskOutput returns the last lines a task's container wrote to stdout and
// stderr, read directly from the local container (the common single-node
// case) or through the swarm log broker. It uses a fresh short context
// because the deploy context may be about to expire.
func (d *Docker) taskOutput(ctx context.Context, t swarm.Task, lines int) string {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(lines)}
	var rc io.ReadCloser
	var err error
	if cs := t.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
		rc, err = d.cli.ContainerLogs(lctx, cs.ContainerID, opts)
	}
	if rc == nil {
		rc, err = d.cli.TaskLogs(lctx, t.ID, opts)
	}
	if err != nil {
		return ""
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, _ = stdcopy.StdCopy(&buf, &buf, rc)
	return lastLines(buf.String(), lines)
}

func lastLines(s string, n int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.TrimSpace(strings.Join(all, "\n"))
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// awaitRollback waits until Swarm has put the previous version back and it
// runs again, so a failed update returns only once the old version serves
// (with host-mode ports the update had stopped it first).
func (d *Docker) awaitRollback(ctx context.Context, name string, log LogFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	announced := false
	for {
		st, err := d.ServiceInfo(ctx, name)
		switch {
		case err != nil || !st.Exists:
			return
		case strings.HasPrefix(st.UpdateState, "rollback_paused"):
			log.line("Swarm paused the rollback: check the service's tasks (docker service ps " + name + ")")
			return
		case st.UpdateState == "rollback_completed" && st.Running >= st.Replicas:
			if announced {
				log.line("The previous version is serving again.")
			}
			return
		case !strings.HasPrefix(st.UpdateState, "rollback"):
			return // no rollback under way: nothing to wait for
		}
		if !announced {
			log.line("Swarm is rolling back to the previous version…")
			announced = true
		}
		select {
		case <-ctx.Done():
			log.line("The rollback is still running; the previous version will serve again once it completes.")
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}
