package jobs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
	"dokploy/jobs/notify"
)

// runtimeImage builds a FROM-scratch image with the test app (/app: CRASH=1
// exits 1, -fail exits 2) and the burner (/burn: GROW_AFTER grows its
// memory until the kernel kills it).
func runtimeImage(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	buildTestApp(t, dir)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "burn"), "./e2e/testdata/burn")
	cmd.Dir = testkit.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build burn: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY app /app\nCOPY burn /burn\nENV PORT=8080\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := name + ":events"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", tag, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
	return tag
}

// runService deploys spec as the product deploys an app's service
// (DeployService labels it and its containers dokploy.app) and removes it
// when the test ends. These services never converge, so the deploy's
// wait is left running in the background until then.
func runService(t *testing.T, dk *docker.Docker, spec docker.ServiceSpec) {
	t.Helper()
	spec.Replicas = 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = dk.DeployService(ctx, spec, nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = dk.RemoveService(context.Background(), spec.Name)
	})
}

// TestRuntimeEvents_CrashLoopOOMAndUnhealthyNotifyOnce runs three real
// Swarm services next to a Runner watching the engine: one exits 1 on
// every start, one's health check always fails, one outgrows its memory
// limit. Each queues exactly one notification of its kind for a webhook
// channel, about its project and service, with the details and no more
// while the condition repeats (the dedupe key's cooldown).
func TestRuntimeEvents_CrashLoopOOMAndUnhealthyNotifyOnce(t *testing.T) {
	dk := testDocker(t)
	store := dbtest.NewStore(t)
	ctx := context.Background()
	pool, err := OpenRedis(ctx, dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })

	name := testName(t)
	image := runtimeImage(t, name)
	ch := webhookChannel(t, store, notify.EventServiceCrashLoop, notify.EventServiceOOM, notify.EventServiceUnhealthy)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := notify.New(store, nil, notify.WithPublicURL("https://dash.example.com"), notify.WithLogger(quiet))
	r := NewRunner(Options{Store: store, Redis: pool, Docker: dk, Namespace: dbtest.RedisNamespace(t, pool), Logger: quiet, Notifier: n})
	if err := r.StartWorker(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.StopWorker)

	apps := map[string]*db.App{}
	for _, kind := range []string{"crash", "sick", "oom"} {
		proj, err := store.CreateProject(ctx, "p-"+kind+"-"+name, "")
		if err != nil {
			t.Fatal(err)
		}
		a := &db.App{EnvironmentID: proj.Environments[0].ID, Name: kind, AppName: name + "-" + kind, SourceType: db.SourceImage,
			Image: image, Port: 8080, Replicas: 1}
		if err := store.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		apps[kind] = a
	}
	// The watcher is already following the engine (StartWorker).
	runService(t, dk, docker.ServiceSpec{Name: apps["crash"].AppName, Image: image, Env: map[string]string{"CRASH": "1", "MESSAGE": "s3cr3t-token"}})
	runService(t, dk, docker.ServiceSpec{Name: apps["sick"].AppName, Image: image,
		HealthCheck: &docker.HealthCheck{Test: []string{"CMD", "/app", "-fail"}, Interval: time.Second, Timeout: 5 * time.Second, Retries: 2}})
	runService(t, dk, docker.ServiceSpec{Name: apps["oom"].AppName, Image: image, Command: []string{"/burn"},
		Env: map[string]string{"HOLD_MB": "4", "GROW_AFTER": "1s"}, MemoryBytes: 32 << 20, NanoCPUs: 250_000_000})

	type key struct{ event, service string }
	want := []key{{notify.EventServiceCrashLoop, apps["crash"].AppName}, {notify.EventServiceUnhealthy, apps["sick"].AppName}, {notify.EventServiceOOM, apps["oom"].AppName}}
	count := func() (map[key][]db.Notification, []db.Notification) {
		rows, err := store.Notifications(ctx, ch.ID, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[key][]db.Notification{}
		for _, r := range rows {
			out[key{r.Event, r.Service}] = append(out[key{r.Event, r.Service}], r)
		}
		return out, rows
	}
	deadline := time.Now().Add(4 * time.Minute)
	var got map[key][]db.Notification
	for {
		got, _ = count()
		missing := 0
		for _, k := range want {
			if len(got[k]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("docker", "ps", "-a", "--filter", "label="+docker.LabelApp, "--format", "{{.Names}} {{.Status}}").CombinedOutput()
			t.Fatalf("within 4 minutes the outbox has %+v; want %v\n%s", got, want, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The crash loop goes on: more deaths, no second message.
	crashKey := key{notify.EventServiceCrashLoop, apps["crash"].AppName}
	first := got[crashKey][0].CreatedAt
	for time.Since(first) < 15*time.Second {
		time.Sleep(500 * time.Millisecond)
	}
	got, rows := count()
	for _, k := range want {
		if len(got[k]) != 1 {
			t.Errorf("%d %s rows for %s; want exactly 1", len(got[k]), k.event, k.service)
		}
	}
	for k, rs := range got {
		if k.service == apps["crash"].AppName && k.event != notify.EventServiceCrashLoop {
			t.Errorf("the crashing service also notified %s: %+v", k.event, rs)
		}
		// Swarm stops unhealthy containers itself: those deaths are no crashes.
		if k.service == apps["sick"].AppName && k.event != notify.EventServiceUnhealthy {
			t.Errorf("the unhealthy service also notified %s: %+v", k.event, rs)
		}
	}
	for _, m := range rows {
		if strings.Contains(m.Body+m.Title+string(m.Data), "s3cr3t-token") {
			t.Errorf("a message quotes the container's output: %+v", m)
		}
	}

	crash := got[crashKey][0]
	a := apps["crash"]
	if crash.Severity != notify.SeverityError || crash.ServiceID == nil || *crash.ServiceID != a.ID || crash.ServiceKind != db.KindApp ||
		crash.Project != "p-crash-"+name || !strings.Contains(crash.Body, "last exit code was 1") || crash.URL != "https://dash.example.com/apps/"+itoa(a.ID) {
		t.Errorf("crash loop row = %+v; want one about %s with exit code 1 and its page", crash, a.AppName)
	}
	var cd map[string]any
	if err := json.Unmarshal(crash.Data, &cd); err != nil || cd["exit_code"] != float64(1) || cd["deaths"] != float64(3) || cd["swarm_service"] != a.AppName {
		t.Errorf("crash loop data %s", crash.Data)
	}
	sick := got[key{notify.EventServiceUnhealthy, apps["sick"].AppName}][0]
	var sd map[string]any
	if err := json.Unmarshal(sick.Data, &sd); err != nil || sick.Severity != notify.SeverityWarning || sick.ServiceID == nil ||
		*sick.ServiceID != apps["sick"].ID || sd["failing_streak"] == nil || sd["failing_streak"].(float64) < 2 {
		t.Errorf("unhealthy row = %+v data %s; want a warning with a failing streak of 2 or more", sick, sick.Data)
	}
	oom := got[key{notify.EventServiceOOM, apps["oom"].AppName}][0]
	var od map[string]any
	if err := json.Unmarshal(oom.Data, &od); err != nil || oom.Severity != notify.SeverityError || oom.ServiceID == nil ||
		*oom.ServiceID != apps["oom"].ID || od["memory_limit_bytes"] != float64(32<<20) || !strings.Contains(oom.Body, "32.0 MiB") {
		t.Errorf("oom row = %+v data %s; want an error naming the 32 MiB limit", oom, oom.Data)
	}
	t.Logf("crash loop: %s — %s", crash.Title, crash.Body)
	t.Logf("unhealthy: %s — %s", sick.Title, sick.Body)
	t.Logf("oom: %s — %s", oom.Title, oom.Body)
}

// Only the tasks of services this product runs count: apps, databases and
// compose stacks' services, not other Swarm services nor helper
// containers (which are no Swarm tasks).
func TestProductContainer(t *testing.T) {
	for _, c := range []struct {
		name string
		e    docker.ContainerEvent
		want bool
	}{
		{"app", docker.ContainerEvent{Service: "shop", App: "shop"}, true},
		{"database", docker.ContainerEvent{Service: "pg", App: "pg", Kind: db.KindDatabase}, true},
		{"compose service", docker.ContainerEvent{Service: "shop_web", Stack: "shop", Kind: db.KindCompose}, true},
		{"foreign swarm service", docker.ContainerEvent{Service: "portainer"}, false},
		{"volume helper", docker.ContainerEvent{App: "shop", Kind: "volume-helper"}, false},
		{"drill as a service", docker.ContainerEvent{Service: "x", App: "pg", Kind: "drill"}, false},
	} {
		if got := productContainer(c.e); got != c.want {
			t.Errorf("%s: productContainer = %v, want %v", c.name, got, c.want)
		}
	}
	if got := (docker.ContainerEvent{Service: "shop_web", Stack: "shop"}).Target(); got != "shop" {
		t.Errorf("a stack service's target is %q, want the stack", got)
	}
}

// Three non-zero exits within five minutes make a crash loop; older ones
// and exits right after the engine was asked to stop the container do not
// count, and a reported loop starts the count again.
func TestRuntimeWatch_CrashLoopWindow(t *testing.T) {
	var w runtimeWatch
	t0 := time.Now()
	die := func(id string, at time.Duration) bool {
		_, loop := w.died(7, docker.ContainerEvent{ContainerID: id, Action: docker.ContainerDied, ExitCode: 1, Time: t0.Add(at)})
		return loop
	}
	if die("a", 0) || die("b", 4*time.Minute) {
		t.Fatal("two deaths made a loop")
	}
	if die("c", 6*time.Minute) {
		t.Fatal("the death 6 minutes ago still counted")
	}
	w.killed = map[string]time.Time{"d": t0.Add(7 * time.Minute)}
	if die("d", 7*time.Minute+time.Second) {
		t.Fatal("a death right after a stop counted as a crash")
	}
	if !die("e", 8*time.Minute) {
		t.Fatal("three deaths within 5 minutes made no loop")
	}
	if die("f", 8*time.Minute+time.Second) {
		t.Fatal("the count did not start again after a reported loop")
	}
}
