package jobs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/jobs/docker"
	"dokploy/jobs/git"
)

// fakeEngine is an in-memory Engine and Cloner for fast runner tests. It
// records every call, can make a step fail, take time or wait for the test
// to release it, and every waiting step ends when its ctx is cancelled,
// returning an error that wraps ctx.Err() as the real engine does.
type fakeEngine struct {
	mu       sync.Mutex
	calls    []fakeCall
	images   map[string]bool
	services map[string]docker.ServiceSpec
	fail     map[string]error         // method → error it returns
	delay    map[string]time.Duration // method → time it takes
	gates    map[string]chan struct{} // method → closed when it may finish
	active   map[string]int           // service → deployments in flight (Build..DeployService)
	maxAct   map[string]int           // service → most seen at once
	changed  chan struct{}            // closed and replaced on every call
	entered  map[string]int           // method → calls started
	finished map[string]int           // method → calls returned
	byMethod map[string][]string      // method → args, in order
	// runOutput is what RunContainer writes to its stdout.
	runOutput []byte
	stacks    map[string]map[string]uint64
}

type fakeCall struct {
	Method string
	Arg    string
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		images: map[string]bool{}, services: map[string]docker.ServiceSpec{},
		fail: map[string]error{}, delay: map[string]time.Duration{}, gates: map[string]chan struct{}{},
		active: map[string]int{}, maxAct: map[string]int{}, changed: make(chan struct{}),
		entered: map[string]int{}, finished: map[string]int{}, byMethod: map[string][]string{},
	}
}

// Fail makes every later call of method return err (nil clears it).
func (f *fakeEngine) Fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = err
}

// Slow makes every later call of method take d.
func (f *fakeEngine) Slow(method string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay[method] = d
}

// Hold makes calls of method wait until the returned release is called
// (or their ctx ends).
func (f *fakeEngine) Hold(method string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gate := make(chan struct{})
	f.gates[method] = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			close(gate)
			if f.gates[method] == gate {
				delete(f.gates, method)
			}
		})
	}
}

// Calls returns the arguments method was called with, in order.
func (f *fakeEngine) Calls(method string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.byMethod[method]...)
}

// MaxConcurrent is the most deployments of service seen in flight at once.
func (f *fakeEngine) MaxConcurrent(service string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxAct[service]
}

// WaitEntered blocks until method has been entered n times.
func (f *fakeEngine) WaitEntered(t testing.TB, method string, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		f.mu.Lock()
		got, ch := f.entered[method], f.changed
		f.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s entered %d times, want %d within %s", method, got, n, within)
		}
	}
}

func (f *fakeEngine) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// step records a call and plays the configured behaviour.
func (f *fakeEngine) step(ctx context.Context, method, arg string) error {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method, arg})
	f.byMethod[method] = append(f.byMethod[method], arg)
	f.entered[method]++
	f.notifyLocked()
	gate, delay, err := f.gates[method], f.delay[method], f.fail[method]
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.finished[method]++
		f.notifyLocked()
		f.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return fmt.Errorf("fake %s: %w", method, ctx.Err())
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("fake %s: %w", method, ctx.Err())
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("fake %s: %w", method, ctx.Err())
	}
	return err
}

// begin and end bracket the part of a deployment that must never run twice
// at once for one service.
func (f *fakeEngine) begin(service string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active[service]++
	if f.active[service] > f.maxAct[service] {
		f.maxAct[service] = f.active[service]
	}
}

func (f *fakeEngine) end(service string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active[service]--
}

func repoOf(ref string) string {
	repo, _, _ := strings.Cut(ref, ":")
	return repo
}

// Clone implements Cloner.
func (f *fakeEngine) Clone(ctx context.Context, src git.Source, dir string, log git.LogFunc) (git.Commit, error) {
	if err := f.step(ctx, "Clone", src.URL+"#"+src.Branch); err != nil {
		return git.Commit{}, err
	}
	if log != nil {
		log("fake clone of " + src.URL)
	}
	return git.Commit{SHA: "0123456789abcdef0123456789abcdef01234567", Message: "fake commit\n\nbody", Author: "t <t@example.com>"}, nil
}

func (f *fakeEngine) Ping(ctx context.Context) (bool, error) {
	return true, f.step(ctx, "Ping", "")
}

func (f *fakeEngine) Build(ctx context.Context, spec docker.BuildSpec, log docker.LogFunc) (string, error) {
	tag := strings.Join(spec.Tags, ",")
	service := repoOf(spec.Tags[0])
	f.begin(service)
	defer f.end(service)
	if log != nil {
		log("fake build of " + tag)
	}
	if err := f.step(ctx, "Build", tag); err != nil {
		return "", err
	}
	f.mu.Lock()
	for _, t := range spec.Tags {
		f.images[t] = true
	}
	f.mu.Unlock()
	return "sha256:fake-" + spec.Tags[0], nil
}

func (f *fakeEngine) Pull(ctx context.Context, ref string, _ *docker.RegistryAuth, _ docker.LogFunc) error {
	if err := f.step(ctx, "Pull", ref); err != nil {
		return err
	}
	f.mu.Lock()
	f.images[ref] = true
	f.mu.Unlock()
	return nil
}

func (f *fakeEngine) HasImage(ctx context.Context, ref string) bool {
	_ = f.step(ctx, "HasImage", ref)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.images[ref]
}

func (f *fakeEngine) RemoveImage(ctx context.Context, ref string) error {
	if err := f.step(ctx, "RemoveImage", ref); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.images, ref)
	return nil
}

func (f *fakeEngine) RemoveImages(ctx context.Context, repo string) error {
	if err := f.step(ctx, "RemoveImages", repo); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for ref := range f.images {
		if repoOf(ref) == repo {
			delete(f.images, ref)
		}
	}
	return nil
}

func (f *fakeEngine) DeployService(ctx context.Context, spec docker.ServiceSpec, log docker.LogFunc) error {
	f.begin(spec.Name)
	defer f.end(spec.Name)
	if log != nil {
		log("fake roll-out of " + spec.Image)
	}
	if err := f.step(ctx, "DeployService", spec.Name+"="+spec.Image); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services[spec.Name] = spec
	return nil
}

func (f *fakeEngine) ScaleService(ctx context.Context, name string, replicas uint64) error {
	return f.step(ctx, "ScaleService", fmt.Sprintf("%s=%d", name, replicas))
}

func (f *fakeEngine) RestartService(ctx context.Context, name string) error {
	return f.step(ctx, "RestartService", name)
}

func (f *fakeEngine) RemoveService(ctx context.Context, name string) error {
	if err := f.step(ctx, "RemoveService", name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.services, name)
	return nil
}

func (f *fakeEngine) ServiceLogs(ctx context.Context, name string, _ bool, _ int) (io.ReadCloser, error) {
	if err := f.step(ctx, "ServiceLogs", name); err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader("fake log of " + name + "\n")), nil
}

func (f *fakeEngine) RemoveContainer(ctx context.Context, id string) error {
	return f.step(ctx, "RemoveContainer", id)
}

func (f *fakeEngine) PruneDanglingImages(ctx context.Context, label string) (int, error) {
	return 0, f.step(ctx, "PruneDanglingImages", label)
}

func (f *fakeEngine) DanglingImages(ctx context.Context) ([]string, error) {
	return nil, f.step(ctx, "DanglingImages", "")
}

func (f *fakeEngine) RemoveUntaggedImages(ctx context.Context, ids []string) int {
	_ = f.step(ctx, "RemoveUntaggedImages", strings.Join(ids, ","))
	return 0
}

func (f *fakeEngine) PruneBuildCache(ctx context.Context, until string) (uint64, error) {
	return 0, f.step(ctx, "PruneBuildCache", until)
}

func (f *fakeEngine) DiskUsage(ctx context.Context) (docker.DiskUsage, error) {
	return docker.DiskUsage{}, f.step(ctx, "DiskUsage", "")
}

var (
	_ Engine = (*fakeEngine)(nil)
	_ Cloner = (*fakeEngine)(nil)
)

func (f *fakeEngine) RestartServiceWait(ctx context.Context, name string, _ docker.LogFunc) error {
	return f.step(ctx, "RestartServiceWait", name)
}

func (f *fakeEngine) ScaleServiceWait(ctx context.Context, name string, replicas uint64, _ docker.LogFunc) error {
	if err := f.step(ctx, "ScaleServiceWait", fmt.Sprintf("%s=%d", name, replicas)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec, ok := f.services[name]; ok {
		spec.Replicas = replicas
		f.services[name] = spec
	}
	return nil
}

func (f *fakeEngine) ExecInService(ctx context.Context, service string, spec docker.ExecSpec) (string, error) {
	return "", f.step(ctx, "ExecInService", service+" "+strings.Join(spec.Cmd, " "))
}

func (f *fakeEngine) VolumeExists(ctx context.Context, name string) (bool, error) {
	return false, f.step(ctx, "VolumeExists", name)
}

func (f *fakeEngine) RemoveVolume(ctx context.Context, name string, _ time.Duration) error {
	return f.step(ctx, "RemoveVolume", name)
}

func (f *fakeEngine) ServiceInfo(ctx context.Context, name string) (docker.ServiceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	spec, ok := f.services[name]
	return docker.ServiceState{Exists: ok, Image: spec.Image, Replicas: int(spec.Replicas), Running: int(spec.Replicas)}, nil
}

func (f *fakeEngine) LocalNodeID(context.Context) (string, error) { return "fake-node", nil }

func (f *fakeEngine) StreamInService(ctx context.Context, service string, spec docker.StreamExec) error {
	return f.step(ctx, "StreamInService", service+" "+strings.Join(spec.Cmd, " "))
}

func (f *fakeEngine) ServiceContainer(ctx context.Context, service string) (string, error) {
	return "container-of-" + service, f.step(ctx, "ServiceContainer", service)
}

func (f *fakeEngine) CreateContainer(ctx context.Context, spec docker.ContainerSpec) (string, error) {
	return "container-" + spec.Name, f.step(ctx, "CreateContainer", spec.Name)
}

func (f *fakeEngine) StartContainer(ctx context.Context, id string) error {
	return f.step(ctx, "StartContainer", id)
}

func (f *fakeEngine) WaitContainer(ctx context.Context, id string) (int64, error) {
	return 0, f.step(ctx, "WaitContainer", id)
}

func (f *fakeEngine) ContainerRunning(ctx context.Context, id string) (bool, int, error) {
	return true, 0, f.step(ctx, "ContainerRunning", id)
}

func (f *fakeEngine) ExecInContainer(ctx context.Context, id string, spec docker.ExecSpec) (string, error) {
	return "", f.step(ctx, "ExecInContainer", id+" "+strings.Join(spec.Cmd, " "))
}

func (f *fakeEngine) StreamInContainer(ctx context.Context, id string, spec docker.StreamExec) error {
	return f.step(ctx, "StreamInContainer", id+" "+strings.Join(spec.Cmd, " "))
}

func (f *fakeEngine) CopyFileToContainer(ctx context.Context, id, dir, name string, _ io.Reader, _ int64, _ int64, _, _ int) error {
	return f.step(ctx, "CopyFileToContainer", id+" "+dir+"/"+name)
}

func (f *fakeEngine) RunContainer(ctx context.Context, id string, stdin io.Reader, stdout io.Writer, _ docker.LogFunc) error {
	if err := f.step(ctx, "RunContainer", id); err != nil {
		return err
	}
	f.mu.Lock()
	out := f.runOutput
	f.mu.Unlock()
	if stdin != nil {
		_, _ = io.Copy(io.Discard, stdin)
	}
	_, err := stdout.Write(out)
	return err
}

// Compose stacks: the fake keeps each stack's services and their replicas
// (stack → scoped service → count); Swarm's behaviour itself is tested
// against the real engine.
func (f *fakeEngine) DeployStack(ctx context.Context, spec docker.StackSpec, _ docker.LogFunc) error {
	if err := f.step(ctx, "DeployStack", spec.Name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stacks == nil {
		f.stacks = map[string]map[string]uint64{}
	}
	services := map[string]uint64{}
	for _, s := range spec.Services {
		n := uint64(1)
		if s.Mode.Replicated != nil && s.Mode.Replicated.Replicas != nil {
			n = *s.Mode.Replicated.Replicas
		}
		services[s.Annotations.Name] = n
	}
	f.stacks[spec.Name] = services
	return nil
}

func (f *fakeEngine) StackReplicas(ctx context.Context, stack string) (map[string]uint64, error) {
	if err := f.step(ctx, "StackReplicas", stack); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]uint64{}
	for name, n := range f.stacks[stack] {
		out[name] = n
	}
	return out, nil
}

func (f *fakeEngine) ScaleStack(ctx context.Context, stack string, replicas map[string]uint64, _ docker.LogFunc) error {
	if err := f.step(ctx, "ScaleStack", stack); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, n := range replicas {
		if _, ok := f.stacks[stack][name]; ok {
			f.stacks[stack][name] = n
		}
	}
	return nil
}

func (f *fakeEngine) RestartStack(ctx context.Context, stack string, _ docker.LogFunc) error {
	return f.step(ctx, "RestartStack", stack)
}

func (f *fakeEngine) RemoveStack(ctx context.Context, stack string, _ bool, _ docker.LogFunc) error {
	if err := f.step(ctx, "RemoveStack", stack); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stacks, stack)
	return nil
}

func (f *fakeEngine) StackServices(ctx context.Context, stack string) ([]docker.StackServiceState, error) {
	return nil, f.step(ctx, "StackServices", stack)
}

// stackReplicas is a copy of what the fake runs for stack.
func (f *fakeEngine) stackReplicas(stack string) map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]uint64{}
	for name, n := range f.stacks[stack] {
		out[name] = n
	}
	return out
}
