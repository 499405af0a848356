package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// Actions of a ContainerEvent.
const (
	ContainerDied      = "die"
	ContainerKilled    = "kill" // the engine was asked to stop it (docker stop, a Swarm update or scale-down)
	ContainerOOM       = "oom"
	ContainerUnhealthy = "unhealthy"
	ContainerHealthy   = "healthy"
)

// SwarmServiceLabel is the label Swarm puts on a task's container.
const SwarmServiceLabel = "com.docker.swarm.service.name"

// ContainerEvent is what the engine said about one container of a Swarm
// task: it died, the engine killed it, the kernel killed a process of it
// for memory, or its health check changed. It carries the container's
// labels only as the few fields below, never its environment or output.
type ContainerEvent struct {
	Time        time.Time
	Action      string // one of the Container* actions
	ContainerID string
	Service     string // Swarm service name (com.docker.swarm.service.name)
	Stack       string // compose stack (com.docker.stack.namespace), or ""
	App         string // dokploy.app, or ""
	Kind        string // dokploy.kind, or "" (apps)
	ExitCode    int    // of ContainerDied
	// MemoryLimit (bytes, 0 for none) is set on ContainerOOM and
	// FailingStreak (consecutive failed checks) on ContainerUnhealthy,
	// when the container could be inspected.
	MemoryLimit   int64
	FailingStreak int
}

// ServiceTarget names the product service a Swarm service belongs to: its
// compose stack when it has one, else itself (what services.name holds).
func ServiceTarget(service, stack string) string {
	if stack != "" {
		return stack
	}
	return service
}

// Target is the product service the event's container belongs to.
func (e ContainerEvent) Target() string { return ServiceTarget(e.Service, e.Stack) }

// containerEvent maps an engine message; ok is false for the ones that
// are not about a Swarm task's container.
func containerEvent(m events.Message) (ContainerEvent, bool) {
	attrs := m.Actor.Attributes
	e := ContainerEvent{ContainerID: m.Actor.ID, Service: attrs[SwarmServiceLabel], Stack: attrs[StackNamespaceLabel],
		App: attrs[LabelApp], Kind: attrs[LabelKind]}
	if m.TimeNano > 0 {
		e.Time = time.Unix(0, m.TimeNano)
	} else {
		e.Time = time.Unix(m.Time, 0)
	}
	if e.Service == "" || e.ContainerID == "" {
		return e, false
	}
	switch action := string(m.Action); {
	case action == string(events.ActionDie):
		e.Action = ContainerDied
		e.ExitCode, _ = strconv.Atoi(attrs["exitCode"])
	case action == string(events.ActionKill):
		e.Action = ContainerKilled
	case action == string(events.ActionOOM):
		e.Action = ContainerOOM
	case strings.HasPrefix(action, string(events.ActionHealthStatus)):
		switch strings.TrimSpace(strings.TrimPrefix(action, string(events.ActionHealthStatus)+":")) {
		case "unhealthy":
			e.Action = ContainerUnhealthy
		case "healthy":
			e.Action = ContainerHealthy
		default:
			return e, false
		}
	default:
		return e, false
	}
	return e, true
}

// ContainerEvents follows the local engine's container events (die, kill,
// oom, health_status) of Swarm tasks from since, calling each in order,
// until ctx ends or the stream breaks (the engine restarted): it returns
// the error then, and the caller reconnects from the last event's time.
// An oom or unhealthy event gets the container's memory limit or failing
// streak from an inspect first. It watches this engine only.
func (d *Docker) ContainerEvents(ctx context.Context, since time.Time, each func(ContainerEvent)) error {
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionDie)), filters.Arg("event", string(events.ActionKill)),
		filters.Arg("event", string(events.ActionOOM)), filters.Arg("event", string(events.ActionHealthStatus)),
		filters.Arg("label", SwarmServiceLabel))
	opts := events.ListOptions{Filters: f}
	if !since.IsZero() {
		opts.Since = strconv.FormatInt(since.Unix(), 10)
	}
	msgs, errs := d.cli.Events(ctx, opts)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			if err == nil {
				err = errors.New("the engine closed the event stream")
			}
			return fmt.Errorf("docker events: %w", err)
		case m := <-msgs:
			if e, ok := containerEvent(m); ok {
				if e.Action == ContainerOOM || e.Action == ContainerUnhealthy {
					ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
					if f, err := d.containerFacts(ictx, e.ContainerID); err == nil {
						e.MemoryLimit, e.FailingStreak = f.MemoryLimit, f.FailingStreak
					}
					cancel()
				}
				each(e)
			}
		}
	}
}

// containerFacts are the few settings and counters of a container the
// runtime notifications quote.
type containerFacts struct {
	MemoryLimit   int64 // bytes; 0 without limit
	FailingStreak int   // consecutive failed health checks
}

// containerFacts inspects a container for its memory limit and health
// streak (never its environment or health check output).
func (d *Docker) containerFacts(ctx context.Context, id string) (containerFacts, error) {
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return containerFacts{}, fmt.Errorf("inspect container: %w", err)
	}
	var f containerFacts
	if info.HostConfig != nil {
		f.MemoryLimit = info.HostConfig.Memory
	}
	if info.State != nil && info.State.Health != nil {
		f.FailingStreak = info.State.Health.FailingStreak
	}
	return f, nil
}
