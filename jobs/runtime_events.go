package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/notify"
)

// Crash-loop detection: this many deaths of a service's containers within
// the window is a crash loop.
const (
	crashLoopDeaths = 3
	crashLoopWindow = 5 * time.Minute
	// killGrace is how long after the engine was asked to stop a container
	// its death counts as that stop (an update, a scale-down, an unhealthy
	// container replaced), not as a crash.
	killGrace = time.Minute
)

// runtimeEventSource is the engine's container event stream
// (*docker.Docker); engines without one (the tests' fake) get no watcher.
type runtimeEventSource interface {
	ContainerEvents(ctx context.Context, since time.Time, each func(docker.ContainerEvent)) error
}

// runtimeWatch is the crash-loop detector's memory: recent deaths per
// service and the containers the engine was asked to stop. The zero value
// is ready.
type runtimeWatch struct {
	mu     sync.Mutex
	deaths map[int64][]time.Time // service id → non-zero exits within the window
	killed map[string]time.Time  // container id → when it was asked to stop
}

// watchRuntimeEvents follows the local engine's container events and
// notifies crash loops, OOM kills and failing health checks of the
// services this product runs. It watches this node's engine only: on
// several nodes, each node's agent forwards its engine's events to
// HandleContainerEvent. A stream that ends (the engine restarted) is
// reopened from the last event's time, after a backoff.
func (r *Runner) watchRuntimeEvents(ctx context.Context) {
	src, ok := r.docker.(runtimeEventSource)
	if !ok {
		return
	}
	since, last := time.Now(), time.Time{}
	backoff := time.Second
	for {
		opened := time.Now()
		err := src.ContainerEvents(ctx, since, func(e docker.ContainerEvent) {
			if !e.Time.After(last) {
				return // replayed after a reconnect
			}
			last, since = e.Time, e.Time
			r.HandleContainerEvent(ctx, e)
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(opened) > time.Minute {
			backoff = time.Second
		}
		r.log.Warn("docker event stream ended; reconnecting", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// productContainer reports whether e is about a task of a service this
// product runs (an app, a database or a compose stack's service); its own
// build and helper containers are no Swarm tasks, and other Swarm
// services carry none of its labels.
func productContainer(e docker.ContainerEvent) bool {
	switch {
	case e.Service == "":
		return false
	case e.Kind == "":
		return e.App != ""
	default:
		return e.Kind == db.KindDatabase || e.Kind == db.KindCompose
	}
}

// HandleContainerEvent turns one container event into notifications: a
// crash loop (crashLoopDeaths non-zero exits within crashLoopWindow), an
// OOM kill, or a failing health check. Each notifies at most once per
// cooldown per service (the dedupe key). It never quotes the container's
// output or health check output, which may hold secrets. Events of
// containers that are not ours, or of services this database does not
// know, are ignored.
func (r *Runner) HandleContainerEvent(ctx context.Context, e docker.ContainerEvent) {
	if !productContainer(e) {
		return
	}
	w := &r.runtime
	if e.Action == docker.ContainerKilled {
		w.mu.Lock()
		if w.killed == nil {
			w.killed = map[string]time.Time{}
		}
		w.killed[e.ContainerID] = e.Time
		for id, at := range w.killed {
			if e.Time.Sub(at) > killGrace {
				delete(w.killed, id)
			}
		}
		w.mu.Unlock()
		return
	}
	if e.Action == docker.ContainerDied && e.ExitCode == 0 || e.Action == docker.ContainerHealthy {
		return
	}
	svc, err := r.store.ServiceByName(ctx, e.Target())
	if errors.Is(err, db.ErrNotFound) {
		return
	}
	if err != nil {
		r.log.Warn("runtime event: find service", "service", e.Target(), "err", err)
		return
	}
	var ev notify.Event
	switch e.Action {
	case docker.ContainerDied:
		deaths, loop := w.died(svc.ID, e)
		if !loop {
			return
		}
		ev = r.crashLoopEvent(svc, e, deaths)
	case docker.ContainerOOM:
		ev = r.oomEvent(svc, e)
	case docker.ContainerUnhealthy:
		ev = r.unhealthyEvent(svc, e)
	default:
		return
	}
	ev.Subject = r.subject(ctx, svc.ID)
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	ev.Data["container_id"] = e.ContainerID
	ev.Data["swarm_service"] = e.Service
	if n, err := r.notifier.Notify(ctx, ev); err != nil {
		r.log.Warn("queue notification", "service", svc.Name, "event", ev.Name, "err", err)
	} else if n > 0 {
		r.log.Info("runtime event notified", "service", svc.Name, "event", ev.Name, "channels", n)
	}
}

// died records a non-zero exit and reports whether it makes a crash loop,
// with the deaths counted. An exit shortly after the engine was asked to
// stop the container is that stop, not a crash. The count restarts once a
// loop is reported, so the next report needs fresh deaths.
func (w *runtimeWatch) died(serviceID int64, e docker.ContainerEvent) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at, ok := w.killed[e.ContainerID]; ok {
		delete(w.killed, e.ContainerID)
		if e.Time.Sub(at) <= killGrace {
			return 0, false
		}
	}
	if w.deaths == nil {
		w.deaths = map[int64][]time.Time{}
	}
	kept := w.deaths[serviceID][:0]
	for _, t := range w.deaths[serviceID] {
		if e.Time.Sub(t) < crashLoopWindow {
			kept = append(kept, t)
		}
	}
	kept = append(kept, e.Time)
	if len(kept) < crashLoopDeaths {
		w.deaths[serviceID] = kept
		return len(kept), false
	}
	delete(w.deaths, serviceID)
	return len(kept), true
}

func (r *Runner) crashLoopEvent(svc *db.Service, e docker.ContainerEvent, deaths int) notify.Event {
	return notify.Event{Name: notify.EventServiceCrashLoop, Severity: notify.SeverityError,
		Title: fmt.Sprintf("%s is crash looping", svc.Name),
		Body: fmt.Sprintf("The containers of %s exited %d times within %s; the last exit code was %d. Swarm keeps restarting it; its logs say why.",
			e.Service, deaths, crashLoopWindow, e.ExitCode),
		URL:       r.notifier.Link(servicePage(svc, "logs")),
		DedupeKey: notify.EventServiceCrashLoop + ":" + strconv.FormatInt(svc.ID, 10),
		Data:      map[string]any{"exit_code": e.ExitCode, "deaths": deaths, "window_seconds": int(crashLoopWindow.Seconds())}}
}

func (r *Runner) oomEvent(svc *db.Service, e docker.ContainerEvent) notify.Event {
	limit := "no memory limit is set, so the node ran out of memory"
	if e.MemoryLimit > 0 {
		limit = "it reached its memory limit of " + humanBytes(e.MemoryLimit)
	}
	return notify.Event{Name: notify.EventServiceOOM, Severity: notify.SeverityError,
		Title:     fmt.Sprintf("%s was killed for memory", svc.Name),
		Body:      fmt.Sprintf("The kernel killed a process of %s (container %s) because %s.", e.Service, shortID(e.ContainerID), limit),
		URL:       r.notifier.Link(servicePage(svc, "logs")),
		DedupeKey: notify.EventServiceOOM + ":" + strconv.FormatInt(svc.ID, 10),
		Data:      map[string]any{"memory_limit_bytes": e.MemoryLimit}}
}

func (r *Runner) unhealthyEvent(svc *db.Service, e docker.ContainerEvent) notify.Event {
	return notify.Event{Name: notify.EventServiceUnhealthy, Severity: notify.SeverityWarning,
		Title: fmt.Sprintf("%s is unhealthy", svc.Name),
		Body: fmt.Sprintf("The health check of %s (container %s) failed %d times in a row; Swarm replaces unhealthy containers.",
			e.Service, shortID(e.ContainerID), e.FailingStreak),
		URL:       r.notifier.Link(servicePage(svc, "logs")),
		DedupeKey: notify.EventServiceUnhealthy + ":" + strconv.FormatInt(svc.ID, 10),
		Data:      map[string]any{"failing_streak": e.FailingStreak}}
}

// servicePage is the dashboard path of a service's section (tab "logs",
// "backups"); an app's page shows every section at once.
func servicePage(svc *db.Service, tab string) string {
	id := strconv.FormatInt(svc.ID, 10)
	switch svc.Kind {
	case db.KindDatabase:
		return "/databases/" + id + "/" + tab
	case db.KindCompose:
		return "/compose/" + id + "/" + tab
	}
	return "/apps/" + id
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
