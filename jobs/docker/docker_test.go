package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dokploy/e2e/testkit"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

func TestSafeJoin(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mustMkdir(t, filepath.Join(root, "sub", "deep"))
	mustWrite(t, filepath.Join(root, "sub", "Dockerfile"), "FROM scratch\n")
	mustSymlink(t, outside, filepath.Join(root, "escape"))
	mustSymlink(t, "/etc/passwd", filepath.Join(root, "passwd"))
	mustSymlink(t, "sub", filepath.Join(root, "inside"))
	mustSymlink(t, "../../..", filepath.Join(root, "sub", "deep", "up"))

	tests := []struct {
		name, rel string
		want      string // relative to root; "" means an error is expected
		notExist  bool
	}{
		{name: "empty is root", rel: "", want: "."},
		{name: "dot", rel: ".", want: "."},
		{name: "subdir", rel: "sub", want: "sub"},
		{name: "file", rel: "sub/Dockerfile", want: "sub/Dockerfile"},
		{name: "dot-dot inside", rel: "sub/deep/../Dockerfile", want: "sub/Dockerfile"},
		{name: "symlink inside", rel: "inside/Dockerfile", want: "sub/Dockerfile"},
		{name: "parent", rel: "../x"},
		{name: "parent after subdir", rel: "sub/../../x"},
		{name: "absolute", rel: "/etc/passwd"},
		{name: "symlink to outside dir", rel: "escape"},
		{name: "symlink to outside file", rel: "passwd"},
		{name: "relative symlink climbing out", rel: "sub/deep/up"},
		{name: "missing", rel: "nope/Dockerfile", notExist: true},
	}
	realRoot, _ := filepath.EvalSymlinks(root)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SafeJoin(root, tt.rel)
			switch {
			case tt.notExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("SafeJoin(%q) err = %v, want fs.ErrNotExist", tt.rel, err)
				}
			case tt.want == "":
				if err == nil {
					t.Fatalf("SafeJoin(%q) = %q, want error", tt.rel, got)
				}
			default:
				if err != nil || got != filepath.Join(realRoot, tt.want) {
					t.Fatalf("SafeJoin(%q) = %q, %v; want %q", tt.rel, got, err, filepath.Join(realRoot, tt.want))
				}
			}
		})
	}
}

func TestValidateImageRef(t *testing.T) {
	for _, ref := range []string{"nginx", "nginx:1.27", "ghcr.io/o/app:v1", "localhost:5000/app", "app@sha256:" + strings.Repeat("a", 64)} {
		if err := ValidateImageRef(ref); err != nil {
			t.Errorf("ValidateImageRef(%q) = %v", ref, err)
		}
	}
	for _, ref := range []string{"", " nginx", "Nginx", "app:", "-app", "app:tag with space", "a/b/../c"} {
		if err := ValidateImageRef(ref); err == nil {
			t.Errorf("ValidateImageRef(%q) = nil, want error", ref)
		}
	}
}

func TestDockerEndpointSpec_IngressNeedsVIP(t *testing.T) {
	_, _, err := endpointSpec(EndpointModeDNSRR, []PortSpec{{Published: 8080, Target: 80, Mode: PublishIngress}})
	if err == nil || !strings.Contains(err.Error(), "ingress publishing needs VIP") {
		t.Fatalf("err = %v", err)
	}
	spec, hostPorts, err := endpointSpec(EndpointModeDNSRR, []PortSpec{{Published: 8080, Target: 80}})
	if err != nil || !hostPorts || spec.Ports[0].PublishMode != "host" || spec.Mode != "dnsrr" {
		t.Fatalf("dnsrr default: %+v %v %v", spec, hostPorts, err)
	}
	spec, hostPorts, err = endpointSpec(EndpointModeVIP, []PortSpec{{Published: 8080, Target: 80, Protocol: ProtocolUDP}})
	if err != nil || hostPorts || spec.Ports[0].PublishMode != "ingress" || spec.Ports[0].Protocol != "udp" {
		t.Fatalf("vip default: %+v %v %v", spec, hostPorts, err)
	}
}

func TestDockerSwarmServiceSpec_UpdateOrder(t *testing.T) {
	spec := ServiceSpec{Name: "app", Image: "app:1", Env: map[string]string{"B": "2", "A": "1"}, Replicas: 2}
	got := swarmServiceSpec(spec, nil, false)
	if got.UpdateConfig.Order != "start-first" {
		t.Errorf("order without host ports = %s", got.UpdateConfig.Order)
	}
	if got := swarmServiceSpec(spec, nil, true); got.UpdateConfig.Order != "stop-first" {
		t.Errorf("order with host ports = %s", got.UpdateConfig.Order)
	}
	if env := got.TaskTemplate.ContainerSpec.Env; strings.Join(env, ",") != "A=1,B=2" {
		t.Errorf("env = %v", env)
	}
	if n := got.TaskTemplate.Networks; len(n) != 1 || n[0].Target != DefaultNetwork || n[0].Aliases[0] != "app" {
		t.Errorf("networks = %+v", n)
	}
	if got.Labels[LabelApp] != "app" || got.TaskTemplate.ContainerSpec.Labels[LabelApp] != "app" {
		t.Errorf("labels = %v", got.Labels)
	}
}

func TestDockerEndpointMode_OverrideAndProbe(t *testing.T) {
	proc := t.TempDir()
	d := &Docker{opts: Options{ProcRoot: proc}}
	if got := d.EndpointMode(context.Background()); got != EndpointModeDNSRR {
		t.Errorf("no IPVS: got %s", got)
	}
	mustWrite(t, filepath.Join(proc, "modules"), "nf_nat 1 0 - Live\nip_vs 2 0 - Live\n")
	if got := (&Docker{opts: Options{ProcRoot: proc}}).EndpointMode(context.Background()); got != EndpointModeVIP {
		t.Errorf("ip_vs module: got %s", got)
	}
	if got := (&Docker{opts: Options{EndpointMode: EndpointModeDNSRR, ProcRoot: proc}}).EndpointMode(context.Background()); got != EndpointModeDNSRR {
		t.Errorf("override: got %s", got)
	}
	if _, err := New(Options{EndpointMode: "bogus"}); err == nil {
		t.Error("New accepted a bogus endpoint mode")
	}
}

func TestDockerBuild_MissingDockerfile(t *testing.T) {
	d, err := New(Options{}) // no engine call happens
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Build(context.Background(), BuildSpec{Dir: t.TempDir(), Dockerfile: "docker/Dockerfile", Tags: []string{"x:1"}}, nil)
	if !errors.Is(err, ErrDockerfileNotFound) || err.Error() != "Dockerfile not found at docker/Dockerfile" {
		t.Fatalf("err = %v", err)
	}
	_, err = d.Build(context.Background(), BuildSpec{Dir: t.TempDir(), Dockerfile: "../Dockerfile", Tags: []string{"x:1"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("escape: err = %v", err)
	}
}

func TestDockerPing(t *testing.T) {
	d := testDocker(t)
	active, err := d.Ping(context.Background())
	if err != nil || !active {
		t.Fatalf("Ping = %v, %v; want swarm active", active, err)
	}
}

func TestDockerBuild_StreamsLinesAndTags(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	repo := testName(t)
	dir := appContext(t, "FROM scratch\nCOPY app /app\nENV MESSAGE=hello\nCMD [\"/app\"]\n")
	logs := &testkit.LogRecorder{}

	id, err := d.Build(context.Background(), BuildSpec{Dir: dir, Tags: []string{repo + ":v1", repo + ":latest"}, Labels: map[string]string{LabelApp: repo}}, logs.Log)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, logs.All())
	}
	for _, want := range []string{"Step 1/", "COPY app /app", "Successfully tagged " + repo + ":v1"} {
		if !logs.Contains(want) {
			t.Errorf("log lacks %q:\n%s", want, logs.All())
		}
	}
	inspect, err := d.cli.ImageInspect(context.Background(), repo+":latest")
	if err != nil {
		t.Fatal(err)
	}
	if inspect.ID != id {
		t.Errorf("image ID %s, tag points at %s", id, inspect.ID)
	}
	if l := inspect.Config.Labels; l[LabelImageRepo] != repo || l[LabelApp] != repo {
		t.Errorf("labels = %v", l)
	}
}

func TestDockerBuild_ContextOptionsAndDockerignore(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	repo := testName(t)
	root := t.TempDir()
	ctxDir := filepath.Join(root, "svc")
	mustMkdir(t, ctxDir)
	buildTestApp(t, ctxDir)
	mustMkdir(t, filepath.Join(root, "docker"))
	mustWrite(t, filepath.Join(root, "docker", "Dockerfile"), "FROM scratch AS base\nCOPY app /app\nFROM base AS final\nARG GREETING\nENV MESSAGE=$GREETING\nFROM final AS unused\nCOPY secret.txt /\n")
	mustWrite(t, filepath.Join(ctxDir, "secret.txt"), "s3cret\n")
	mustWrite(t, filepath.Join(ctxDir, ".dockerignore"), "secret.txt\n")

	spec := BuildSpec{Dir: root, ContextPath: "svc", Dockerfile: "docker/Dockerfile", Target: "final",
		BuildArgs: map[string]string{"GREETING": "hi"}, Tags: []string{repo + ":v1"}}
	if _, err := d.Build(context.Background(), spec, nil); err != nil {
		t.Fatalf("Build with Dockerfile outside context and target: %v", err)
	}
	inspect, err := d.cli.ImageInspect(context.Background(), repo+":v1")
	if err != nil || !containsString(inspect.Config.Env, "MESSAGE=hi") {
		t.Fatalf("build arg not applied: %v %v", inspect.Config.Env, err)
	}

	// The last stage copies a file .dockerignore excludes: it must fail.
	spec.Target = ""
	spec.Tags = []string{repo + ":v2"}
	logs := &testkit.LogRecorder{}
	_, err = d.Build(context.Background(), spec, logs.Log)
	if err == nil || !strings.Contains(err.Error(), "secret.txt") {
		t.Fatalf("ignored file was sent: err = %v\n%s", err, logs.All())
	}
	if logs.Contains("s3cret") {
		t.Fatal("ignored file content appeared in the build")
	}
}

func TestDockerBuild_ErrorSurfaces(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	repo := testName(t)
	dir := appContext(t, "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"-fail\"]\n")
	logs := &testkit.LogRecorder{}
	_, err := d.Build(context.Background(), BuildSpec{Dir: dir, Tags: []string{repo + ":v1"}}, logs.Log)
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 2") {
		t.Fatalf("err = %v", err)
	}
	if !logs.Contains("build step failed: boom") {
		t.Errorf("step output not streamed:\n%s", logs.All())
	}
	assertNoContainers(t, d, logs.All())
}

func TestDockerBuild_CancelStopsAndCleansUp(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	repo := testName(t)
	// The first layer is this test's own, so no build of a parallel test can
	// take the intermediate images below as its cache and keep them alive.
	dir := appContext(t, "FROM scratch\nCOPY own /own\nCOPY app /app\nRUN [\"/app\", \"-sleep\", \"60s\"]\nCMD [\"/app\"]\n")
	mustWrite(t, filepath.Join(dir, "own"), repo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testkit.LogRecorder{}
	var cancelledAt time.Time
	_, err := d.Build(ctx, BuildSpec{Dir: dir, NoCache: true, Tags: []string{repo + ":v1"}}, func(line string) {
		logs.Log(line)
		if strings.HasPrefix(line, "sleeping") && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled\n%s", err, logs.All())
	}
	if took := time.Since(cancelledAt); took > 20*time.Second {
		t.Fatalf("Build returned %s after cancel", took)
	}
	all := logs.All()
	assertNoContainers(t, d, all)
	for _, m := range regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12})$`).FindAllStringSubmatch(all, -1) {
		if _, err := d.cli.ImageInspect(context.Background(), m[1]); !cerrdefs.IsNotFound(err) {
			t.Errorf("intermediate image %s still exists (err %v)", m[1], err)
		}
	}
}

func TestDockerPull_UsesLocalImageWhenRegistryUnreachable(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	repo := testName(t)
	dir := appContext(t, "FROM scratch\nCOPY app /app\n")
	if _, err := d.Build(context.Background(), BuildSpec{Dir: dir, Tags: []string{repo + ":v1"}}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &testkit.LogRecorder{}
	auth := &RegistryAuth{Username: "u", Password: "registry-password", ServerAddress: "docker.io"}
	if err := d.Pull(ctx, repo+":v1", auth, logs.Log); err != nil {
		t.Fatalf("Pull of local image: %v", err)
	}
	if !logs.Contains("registry unreachable, using local image " + repo + ":v1") {
		t.Errorf("log = %s", logs.All())
	}
	if err := d.Pull(ctx, repo+":missing", nil, logs.Log); err == nil {
		t.Error("Pull of an image that exists nowhere succeeded")
	}
	if logs.Contains("registry-password") {
		t.Error("registry password logged")
	}
}

func TestDockerService_Lifecycle(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	name := testName(t)
	port := uint32(testkit.FreePort(t))
	cleanupService(t, d, name)

	for _, v := range []string{"v1", "v2"} {
		df := fmt.Sprintf("FROM scratch\nCOPY app /app\nENV MESSAGE=hello-%s PORT=8080\nCMD [\"/app\"]\n", v)
		if v == "v2" { // v2 also proves convergence waits for a HEALTHCHECK
			df += "HEALTHCHECK --interval=1s --timeout=2s CMD [\"/app\", \"-probe\"]\n"
		}
		if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, df), Tags: []string{name + ":" + v}}, nil); err != nil {
			t.Fatalf("build %s: %v", v, err)
		}
	}
	spec := ServiceSpec{
		Name:            name,
		Image:           name + ":v1",
		Replicas:        1,
		Env:             map[string]string{"EXTRA": "1"},
		MemoryBytes:     64 << 20,
		NanoCPUs:        500_000_000,
		Labels:          map[string]string{LabelDeployment: "1"},
		Ports:           []PortSpec{{Published: port, Target: 8080, Mode: PublishHost}},
		MonitorPeriod:   2 * time.Second,
		StopGracePeriod: time.Second, // the test app ignores SIGTERM as PID 1
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)

	logs := &testkit.LogRecorder{}
	// "Serving" is told once, when the task first runs: the monitor
	// period comes after it.
	var servingAt []time.Time
	spec.OnServing = func(at time.Time) { servingAt = append(servingAt, at) }
	if err := d.DeployService(ctx, spec, logs.Log); err != nil {
		t.Fatalf("create: %v\n%s", err, logs.All())
	}
	returned := time.Now()
	if len(servingAt) != 1 {
		t.Fatalf("OnServing called %d times, want once", len(servingAt))
	}
	if gap := returned.Sub(servingAt[0]); gap < spec.MonitorPeriod {
		t.Errorf("DeployService returned %s after the service was serving, want at least the monitor period %s", gap, spec.MonitorPeriod)
	}
	spec.OnServing = nil
	if !logs.Contains("running") {
		t.Errorf("no task states logged:\n%s", logs.All())
	}
	testkit.WaitBody(t, url, "hello-v1")
	info, err := d.ServiceInfo(ctx, name)
	if err != nil || !info.Exists || info.Running != 1 || info.Replicas != 1 || info.Image != name+":v1" || info.Labels[LabelApp] != name {
		t.Fatalf("ServiceInfo = %+v, %v", info, err)
	}

	spec.Image = name + ":v2"
	spec.Labels[LabelDeployment] = "2"
	if err := d.DeployService(ctx, spec, logs.Log); err != nil {
		t.Fatalf("update: %v\n%s", err, logs.All())
	}
	testkit.WaitBody(t, url, "hello-v2")

	// A crashing update fails with the container's output; Swarm rolls back.
	bad := spec
	bad.Env = map[string]string{"CRASH": "1"}
	err = d.DeployService(ctx, bad, logs.Log)
	if !errors.Is(err, ErrServiceFailed) || !strings.Contains(err.Error(), "fatal: crashing on purpose") {
		t.Fatalf("crashing update: err = %v", err)
	}
	t.Logf("crashing update error: %v", err)
	testkit.WaitBody(t, url, "hello-v2")

	// Redeploying the same spec with ForceUpdate replaces the task.
	spec.ForceUpdate = true
	if err := d.DeployService(ctx, spec, logs.Log); err != nil {
		t.Fatalf("forced redeploy after rollback: %v\n%s", err, logs.All())
	}
	testkit.WaitBody(t, url, "hello-v2")

	rc, err := d.ServiceLogs(ctx, name, false, 50)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(out), "listening on 8080") || strings.ContainsRune(string(out), 0) {
		t.Errorf("ServiceLogs = %q", out)
	}

	if err := d.ScaleService(ctx, name, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.RestartService(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveService(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveService(ctx, name); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if info, err := d.ServiceInfo(ctx, name); err != nil || info.Exists {
		t.Fatalf("after remove: %+v %v", info, err)
	}
	if err := d.RemoveImages(ctx, name); err != nil {
		t.Fatal(err)
	}
	left, err := d.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", name))})
	if err != nil || len(left) != 0 {
		t.Fatalf("images left after RemoveImages: %v %v", left, err)
	}
}

func TestDockerService_CrashOnCreateReportsOutput(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := testName(t)
	cleanupService(t, d, name)
	dir := appContext(t, "FROM scratch\nCOPY app /app\nENV CRASH=1 MESSAGE=boom\nCMD [\"/app\"]\n")
	if _, err := d.Build(ctx, BuildSpec{Dir: dir, Tags: []string{name + ":v1"}}, nil); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogRecorder{}
	err := d.DeployService(ctx, ServiceSpec{Name: name, Image: name + ":v1", Replicas: 1, MonitorPeriod: time.Second}, logs.Log)
	if !errors.Is(err, ErrServiceFailed) {
		t.Fatalf("err = %v, want ErrServiceFailed\n%s", err, logs.All())
	}
	for _, want := range []string{"non-zero exit (1)", "starting attempt line 1", "fatal: crashing on purpose: boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !logs.Contains("failed") {
		t.Errorf("failed task state not logged:\n%s", logs.All())
	}
}

func TestDockerService_MissingImageFails(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	name := testName(t)
	cleanupService(t, d, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := d.DeployService(ctx, ServiceSpec{Name: name, Image: name + ":nope", Replicas: 1}, nil)
	if !errors.Is(err, ErrServiceFailed) || !strings.Contains(err.Error(), "No such image") {
		t.Fatalf("missing image: err = %v", err)
	}
}

func TestDockerService_CancelWhileWaitingIsCanceled(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	name := testName(t)
	cleanupService(t, d, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nCMD [\"/app\"]\n"), Tags: []string{name + ":v1"}}, nil); err != nil {
		t.Fatal(err)
	}
	// The first health probe is an hour away, so the task stays "starting".
	never := &HealthCheck{Test: []string{"CMD", "/app", "-probe"}, Interval: time.Hour, Timeout: time.Hour}
	cctx, ccancel := context.WithCancel(ctx)
	time.AfterFunc(3*time.Second, ccancel)
	start := time.Now()
	err := d.DeployService(cctx, ServiceSpec{Name: name, Image: name + ":v1", Replicas: 1, HealthCheck: never, StopGracePeriod: time.Second}, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "0/1 tasks running") {
		t.Fatalf("err = %v, want context.Canceled with the task state", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("DeployService returned %s after start, cancel was at 3s", took)
	}
	t.Logf("cancelled deploy: %v", err)
}

// testDocker returns a client for the integration tests. They run only with
// DOKPLOY_INTEGRATION=1, and then an unreachable engine is a failure.
func testDocker(t testing.TB) *Docker {
	t.Helper()
	testkit.RequireIntegration(t)
	d, err := New(Options{EndpointMode: EndpointModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if active, err := d.Ping(ctx); err != nil || !active {
		t.Fatalf("Docker engine in swarm mode required: active=%v err=%v", active, err)
	}
	return d
}

// testName returns a unique lowercase name and removes images named after
// it when the test ends.
func testName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "dokploy-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		d, err := New(Options{})
		if err != nil {
			return
		}
		defer d.Close()
		_ = d.RemoveImages(context.Background(), name)
	})
	return name
}

func cleanupService(t *testing.T, d *Docker, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.RemoveService(ctx, name); err != nil {
			t.Errorf("cleanup %s: %v", name, err)
		}
	})
}

// appContext makes a build context with the static test server as ./app
// and the given Dockerfile.
func appContext(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	buildTestApp(t, dir)
	mustWrite(t, filepath.Join(dir, "Dockerfile"), dockerfile)
	return dir
}

func buildTestApp(t testing.TB, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "app"), "../testdata/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test app: %v\n%s", err, out)
	}
}

// assertNoContainers checks every container a build reported ("Running in
// <id>") is gone.
func assertNoContainers(t *testing.T, d *Docker, buildLog string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`Running in ([0-9a-f]{12})`).FindAllStringSubmatch(buildLog, -1) {
		if _, err := d.cli.ContainerInspect(context.Background(), m[1]); !cerrdefs.IsNotFound(err) {
			t.Errorf("build container %s left behind (err %v)", m[1], err)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestBuildContainerFromLog(t *testing.T) {
	for line, want := range map[string]string{
		" ---> Running in 0123456789ab": "0123456789ab",
		" ---> 0123456789ab":            "",
		"Step 1/2 : FROM scratch":       "",
	} {
		id, ok := BuildContainerFromLog(line)
		if id != want || ok != (want != "") {
			t.Errorf("BuildContainerFromLog(%q) = %q, %v; want %q", line, id, ok, want)
		}
	}
}

func TestSwarmServiceSpec_BindMounts(t *testing.T) {
	spec := swarmServiceSpec(ServiceSpec{Name: "web", Image: "web:1", Replicas: 1,
		Mounts: []BindMount{{Source: "/usr/local/bin/dokploy", Target: "/.dokploy/probe", ReadOnly: true}}}, nil, false)
	got := spec.TaskTemplate.ContainerSpec.Mounts
	if len(got) != 1 || got[0].Type != "bind" || got[0].Source != "/usr/local/bin/dokploy" || got[0].Target != "/.dokploy/probe" || !got[0].ReadOnly {
		t.Errorf("mounts %+v", got)
	}
	if spec := swarmServiceSpec(ServiceSpec{Name: "web", Image: "web:1"}, nil, false); spec.TaskTemplate.ContainerSpec.Mounts != nil {
		t.Errorf("no mounts asked, got %+v", spec.TaskTemplate.ContainerSpec.Mounts)
	}
}
