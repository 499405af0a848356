package docker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dokploy/e2e/testkit"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

func TestStackValidate(t *testing.T) {
	ok := stackSvc("shop_web", "web:1")
	long := "shop_" + strings.Repeat("a", 59)
	cases := []struct {
		name string
		spec StackSpec
		want string
	}{
		{"underscore in stack", StackSpec{Name: "my_shop", Services: []swarm.ServiceSpec{stackSvc("my_shop_web", "web:1")}}, "invalid stack name"},
		{"empty stack", StackSpec{Name: "", Services: []swarm.ServiceSpec{ok}}, "invalid stack name"},
		{"no services", StackSpec{Name: "shop"}, "has no services"},
		{"not scoped", StackSpec{Name: "shop", Services: []swarm.ServiceSpec{stackSvc("web", "web:1")}}, "is not part of stack shop: name it shop_<service>"},
		{"underscore in service", StackSpec{Name: "shop", Services: []swarm.ServiceSpec{stackSvc("shop_my_web", "web:1")}}, "invalid service name"},
		{"too long", StackSpec{Name: "shop", Services: []swarm.ServiceSpec{stackSvc(long, "web:1")}}, "at most 63"},
		{"bad image", StackSpec{Name: "shop", Services: []swarm.ServiceSpec{stackSvc("shop_web", "Web:1")}}, "service web: invalid image reference"},
		{"duplicate", StackSpec{Name: "shop", Services: []swarm.ServiceSpec{ok, ok}}, "appears twice"},
		{"job", StackSpec{Name: "shop", Services: []swarm.ServiceSpec{func() swarm.ServiceSpec {
			s := stackSvc("shop_web", "web:1")
			s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}
			return s
		}()}}, "job modes are not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateStackSpec(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if err := validateStackSpec(StackSpec{Name: "shop", Services: []swarm.ServiceSpec{ok, stackSvc(long[:63], "web:1")}}); err != nil {
		t.Fatalf("valid spec refused: %v", err)
	}
}

func TestStackServiceSpec_LabelsNetworksDefaults(t *testing.T) {
	in := stackSvc("shop_web", "web:1")
	in.Labels = map[string]string{"com.docker.stack.image": "web:1"}
	in.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "shop_default", Aliases: []string{"web"}}}
	in.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{
		{TargetPort: 80, PublishedPort: 8080},
		{TargetPort: 53, PublishedPort: 5353, Protocol: swarm.PortConfigProtocolUDP, PublishMode: swarm.PortConfigPublishModeHost},
	}}
	before, _ := copyServiceSpec(in)

	out, err := stackServiceSpec("shop", map[string]string{LabelDeployment: "42"}, in, EndpointModeDNSRR)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) {
		t.Error("the caller's spec was modified")
	}
	for _, labels := range []map[string]string{out.Labels, out.TaskTemplate.ContainerSpec.Labels} {
		if labels[LabelStack] != "shop" || labels[StackNamespaceLabel] != "shop" || labels[LabelKind] != "compose" || labels[LabelDeployment] != "42" {
			t.Errorf("labels = %v", labels)
		}
	}
	if out.Labels["com.docker.stack.image"] != "web:1" {
		t.Errorf("convert's labels lost: %v", out.Labels)
	}
	want := []swarm.NetworkAttachmentConfig{{Target: "shop_default", Aliases: []string{"web"}}, {Target: DefaultNetwork}}
	if !reflect.DeepEqual(out.TaskTemplate.Networks, want) {
		t.Errorf("networks = %+v", out.TaskTemplate.Networks)
	}
	if out.EndpointSpec.Mode != swarm.ResolutionModeDNSRR || out.EndpointSpec.Ports[0].PublishMode != "host" || !stackSwitchedPorts(in, out) {
		t.Errorf("dnsrr endpoint = %+v", out.EndpointSpec)
	}
	u := out.UpdateConfig
	if u.Parallelism != 1 || u.FailureAction != "rollback" || u.Monitor != 5*time.Second || u.Order != "stop-first" {
		t.Errorf("update config = %+v", u)
	}
	if r := out.RollbackConfig; r == nil || r.FailureAction != "pause" || r.Order != "stop-first" {
		t.Errorf("rollback config = %+v", r)
	}
	rp := out.TaskTemplate.RestartPolicy
	if rp.Condition != "any" || *rp.Delay != 5*time.Second || rp.MaxAttempts != nil {
		t.Errorf("restart policy = %+v", rp)
	}
	if replicas(out) != 1 {
		t.Errorf("replicas = %d", replicas(out))
	}

	// Under VIP ingress stays, no host port means start-first, and what the
	// compose file gave is kept.
	in.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080}}}
	in.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: DefaultNetwork}}
	in.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure}
	in.RollbackConfig = &swarm.UpdateConfig{Parallelism: 3}
	out, _ = stackServiceSpec("shop", nil, in, EndpointModeVIP)
	if out.EndpointSpec.Mode != "vip" || out.EndpointSpec.Ports[0].PublishMode != "" || stackSwitchedPorts(in, out) {
		t.Errorf("vip endpoint = %+v", out.EndpointSpec)
	}
	if out.UpdateConfig.Order != "start-first" || out.RollbackConfig.Parallelism != 3 || out.TaskTemplate.RestartPolicy.Condition != "on-failure" {
		t.Errorf("defaults overrode the compose file: %+v %+v %+v", out.UpdateConfig, out.RollbackConfig, out.TaskTemplate.RestartPolicy)
	}
	if len(out.TaskTemplate.Networks) != 1 {
		t.Errorf("DefaultNetwork attached twice: %+v", out.TaskTemplate.Networks)
	}
	// An explicit mode wins over the engine's.
	in.EndpointSpec = &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	if out, _ = stackServiceSpec("shop", nil, in, EndpointModeDNSRR); out.EndpointSpec.Mode != "vip" {
		t.Errorf("explicit vip replaced: %+v", out.EndpointSpec)
	}
}

func TestStackNodeMatches(t *testing.T) {
	node := swarm.Node{ID: "n1"}
	node.Description.Hostname = "Box"
	node.Spec.Role = swarm.NodeRoleManager
	node.Spec.Labels = map[string]string{"Zone": "eu"}
	node.Status.Addr = "10.0.0.5"
	for _, tc := range []struct {
		constraints []string
		want        bool
	}{
		{nil, true},
		{[]string{"node.role==manager", "node.hostname == box"}, true},
		{[]string{"node.role!=manager"}, false},
		{[]string{"node.labels.zone==eu"}, true},
		{[]string{"node.labels.zone==us"}, false},
		{[]string{"node.labels.disk==ssd"}, false},
		{[]string{"node.labels.disk!=ssd"}, true},
		{[]string{"node.ip==10.0.0.0/24"}, true},
		{[]string{"node.ip==10.1.0.0/16"}, false},
		{[]string{"node.id==n2"}, false},
	} {
		if got := nodeMatches(node, tc.constraints); got != tc.want {
			t.Errorf("nodeMatches(%v) = %v, want %v", tc.constraints, got, tc.want)
		}
	}
}

func TestStackPortString(t *testing.T) {
	if got := portString(swarm.PortConfig{PublishedPort: 8080, TargetPort: 80, Protocol: "tcp", PublishMode: "host"}); got != "8080→80/tcp (host)" {
		t.Errorf("got %q", got)
	}
	if got := portString(swarm.PortConfig{TargetPort: 53, Protocol: "udp"}); got != "53/udp (ingress)" {
		t.Errorf("got %q", got)
	}
}

func TestStackRunBounded(t *testing.T) {
	var running, peak atomic.Int32
	err := runBounded(context.Background(), 10, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if err != nil || peak.Load() > stackParallelism || peak.Load() < 2 {
		t.Fatalf("err %v, peak %d", err, peak.Load())
	}
	boom := errors.New("boom")
	start := time.Now()
	err = runBounded(context.Background(), 3, func(ctx context.Context, i int) error {
		if i == 0 {
			return boom
		}
		<-ctx.Done() // the first failure must stop the others
		return ctx.Err()
	})
	if !errors.Is(err, boom) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v", err)
	}
}

// TestStack_Lifecycle deploys a two-service stack and takes it through
// redeploys, scaling, a restart and removal.
func TestStack_Lifecycle(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	stack := testStack(t, d)
	img := buildStackImage(t, d, stack)
	port := uint32(testkit.FreePort(t))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	logs := &testkit.LogRecorder{}
	log := stepLog(t, logs)
	a, b := stack+"_a", stack+"_b"

	// 1. Deploy: a (secret, volume) and b (config, published port), which
	// reaches a by its short name on the stack network.
	spec := lifecycleSpec(stack, img, port, "s3cret-1", true)
	if err := d.DeployStack(ctx, spec, log("deploy")); err != nil {
		t.Fatalf("deploy: %v\n%s", err, logs.All())
	}
	testkit.WaitBody(t, url+"/config", "conf-1")
	testkit.WaitBody(t, url+"/fetch/a/secret", "s3cret-1")
	if out, err := d.ExecInService(ctx, a, ExecSpec{Cmd: []string{"/app", "-cat", "/run/secrets/token"}}); err != nil || out != "s3cret-1" {
		t.Errorf("secret in the container: %q, %v", out, err)
	}
	for _, want := range []string{"Creating network " + stack + "_private", "Creating secret " + spec.Secrets[0].Name,
		"Creating config " + spec.Configs[0].Name, "a: Task " + a + ".1", "b: Service " + b + " is running"} {
		if !logs.Contains(want) {
			t.Errorf("log lacks %q:\n%s", want, logs.All())
		}
	}
	if d.EndpointMode(ctx) == EndpointModeDNSRR && strings.Count(logs.All(), "b: ports published in ingress mode are published in host mode") != 1 {
		t.Errorf("ingress → host switch not logged once:\n%s", logs.All())
	}
	assertStackService(t, d, a, stack)
	assertStackService(t, d, b, stack)
	if ok, err := d.VolumeExists(ctx, stack+"_data"); err != nil || !ok {
		t.Errorf("volume %s_data: %v %v", stack, ok, err)
	}
	states, err := d.StackServices(ctx, stack)
	if err != nil || len(states) != 2 {
		t.Fatalf("StackServices = %+v, %v", states, err)
	}
	sa, sb := states[0], states[1]
	if sa.Service != "a" || sa.Name != a || sa.Image != img || sa.Mode != "replicated" || sa.Desired != 1 || sa.Running != 1 ||
		sa.Health != "healthy" || sa.Ports != nil || sa.LastError != "" || sa.UpdatedAt.IsZero() {
		t.Errorf("state of a = %+v", sa)
	}
	if sb.Service != "b" || sb.Running != 1 || !reflect.DeepEqual(sb.Ports, []string{fmt.Sprintf("%d→8080/tcp (host)", port)}) {
		t.Errorf("state of b = %+v", sb)
	}

	// 2. A new secret content gets a new name: a rolls out, the old one goes.
	old := spec.Secrets[0].Name
	spec = lifecycleSpec(stack, img, port, "s3cret-2", true)
	if err := d.DeployStack(ctx, spec, log("redeploy")); err != nil {
		t.Fatalf("redeploy: %v\n%s", err, logs.All())
	}
	testkit.WaitBody(t, url+"/fetch/a/secret", "s3cret-2")
	if _, found, _ := d.secretByName(ctx, old); found {
		t.Errorf("old secret %s still there:\n%s", old, logs.All())
	}
	if _, found, _ := d.secretByName(ctx, spec.Secrets[0].Name); !found {
		t.Error("new secret missing")
	}

	// 3. Without a, a goes, and with it its secret and its own network.
	spec = lifecycleSpec(stack, img, port, "", false)
	if err := d.DeployStack(ctx, spec, log("deploy without a")); err != nil {
		t.Fatalf("deploy without a: %v\n%s", err, logs.All())
	}
	if info, err := d.ServiceInfo(ctx, a); err != nil || info.Exists {
		t.Errorf("a still there: %+v %v", info, err)
	}
	if ok, _ := d.networkExists(ctx, stack+"_private"); ok {
		t.Errorf("network %s_private still there:\n%s", stack, logs.All())
	}
	if secrets, _ := d.cli.SecretList(ctx, swarm.SecretListOptions{Filters: stackFilter(stack)}); len(secrets) != 0 {
		t.Errorf("secrets left: %+v", secrets)
	}
	testkit.WaitBody(t, url+"/config", "conf-1")

	// 4. Stop (recording the replicas), start again, restart.
	recorded, err := d.StackReplicas(ctx, stack)
	if err != nil || !reflect.DeepEqual(recorded, map[string]uint64{b: 1}) {
		t.Fatalf("StackReplicas = %v, %v", recorded, err)
	}
	if err := d.ScaleStack(ctx, stack, map[string]uint64{b: 0}, log("scale to 0")); err != nil {
		t.Fatalf("scale to 0: %v", err)
	}
	if n := runningContainers(t, d, b); n != 0 {
		t.Fatalf("%d containers run after scaling to 0", n)
	}
	if err := d.ScaleStack(ctx, stack, recorded, log("scale back")); err != nil {
		t.Fatalf("scale back: %v\n%s", err, logs.All())
	}
	if states, err := d.StackServices(ctx, stack); err != nil || len(states) != 1 || states[0].Running != 1 || states[0].Desired != 1 {
		t.Fatalf("after scaling back: %+v %v", states, err)
	}
	before, _ := d.ServiceContainer(ctx, b)
	if err := d.RestartStack(ctx, stack, log("restart")); err != nil {
		t.Fatalf("restart: %v\n%s", err, logs.All())
	}
	if after, _ := d.ServiceContainer(ctx, b); after == before || after == "" {
		t.Errorf("restart kept container %s", before)
	}
	testkit.WaitBody(t, url+"/config", "conf-1")
	if err := d.ScaleStack(ctx, stack, map[string]uint64{"other_b": 1}, nil); err == nil || !strings.Contains(err.Error(), "not part of stack") {
		t.Errorf("scaling a foreign service: %v", err)
	}

	// 5. Remove, keeping the volume; then with it; then once more.
	if err := d.RemoveStack(ctx, stack, false, log("remove")); err != nil {
		t.Fatalf("remove: %v", err)
	}
	assertStackGone(t, d, stack, b)
	if ok, _ := d.VolumeExists(ctx, stack+"_data"); !ok {
		t.Error("RemoveStack(removeVolumes=false) removed the volume")
	}
	if !logs.Contains("Removed image " + img) {
		t.Errorf("image removal not logged:\n%s", logs.All())
	}
	if err := d.RemoveStack(ctx, stack, true, log("remove with volumes")); err != nil {
		t.Fatalf("remove with volumes: %v", err)
	}
	if ok, _ := d.VolumeExists(ctx, stack+"_data"); ok {
		t.Error("RemoveStack(removeVolumes=true) kept the volume")
	}
	again := &testkit.LogRecorder{}
	if err := d.RemoveStack(ctx, stack, true, again.Log); err != nil || !again.Contains("Nothing left of stack "+stack) {
		t.Fatalf("second remove: %v\n%s", err, again.All())
	}
}

// TestStack_CrashingServiceFails checks a service whose container exits at
// once fails the deploy with its name, next to a healthy one.
func TestStack_CrashingServiceFails(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stack := testStack(t, d)
	img := buildStackImage(t, d, stack)
	good := stackSvc(stack+"_ok", img)
	fastUpdates(&good)
	bad := stackSvc(stack+"_web", img)
	bad.TaskTemplate.ContainerSpec.Env = []string{"CRASH=1"}
	delay := 100 * time.Millisecond // the default 5 s between the two crashes that fail it
	bad.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay}
	logs := &testkit.LogRecorder{}
	err := d.DeployStack(ctx, StackSpec{Name: stack, Services: []swarm.ServiceSpec{good, bad}}, stepLog(t, logs)("deploy"))
	if !errors.Is(err, ErrServiceFailed) || !strings.HasPrefix(err.Error(), "service web: ") || !strings.Contains(err.Error(), "fatal: crashing on purpose") {
		t.Fatalf("err = %v, want service web: … ErrServiceFailed\n%s", err, logs.All())
	}
	t.Logf("crashing stack: %v", err)
	states, err := d.StackServices(ctx, stack)
	if err != nil || len(states) != 2 || states[1].Service != "web" || states[1].LastError == "" {
		t.Fatalf("StackServices = %+v, %v", states, err)
	}
}

// lifecycleSpec is a compose stack as the converter would produce it: a
// serves its secret, b its config and proxies to a; without a when !withA.
// Only a uses the network <stack>_private, so b stays the same without a.
func lifecycleSpec(stack, img string, port uint32, secret string, withA bool) StackSpec {
	def, private := stack+"_default", stack+"_private"
	ns := map[string]string{StackNamespaceLabel: stack}
	configName := fmt.Sprintf("%s_conf_%s", stack, contentHash("conf-1"))

	b := stackSvc(stack+"_b", img)
	b.TaskTemplate.ContainerSpec.Env = []string{"MESSAGE=hello-b", "CONFIG_FILE=/etc/app.conf"}
	b.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigName: configName,
		File: &swarm.ConfigReferenceFileTarget{Name: "/etc/app.conf", UID: "0", GID: "0", Mode: 0o444}}}
	b.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: def, Aliases: []string{"b"}}}
	b.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 8080, PublishedPort: port, Protocol: "tcp"}}}
	spec := StackSpec{
		Name:     stack,
		Networks: map[string]network.CreateOptions{def: {Labels: ns}},
		Configs:  []swarm.ConfigSpec{{Annotations: swarm.Annotations{Name: configName, Labels: ns}, Data: []byte("conf-1")}},
		Services: []swarm.ServiceSpec{b},
		Labels:   map[string]string{LabelDeployment: "1"},
	}
	if !withA {
		fastUpdates(&spec.Services[0])
		return spec
	}
	secretName := fmt.Sprintf("%s_token_%s", stack, contentHash(secret))
	a := stackSvc(stack+"_a", img)
	a.TaskTemplate.ContainerSpec.Env = []string{"MESSAGE=hello-a", "SECRET_FILE=/run/secrets/token"}
	a.TaskTemplate.ContainerSpec.Secrets = []*swarm.SecretReference{{SecretName: secretName,
		File: &swarm.SecretReferenceFileTarget{Name: "token", UID: "0", GID: "0", Mode: 0o444}}}
	a.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: stack + "_data", Target: "/data",
		VolumeOptions: &mount.VolumeOptions{Labels: ns}}}
	a.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: def, Aliases: []string{"a"}}, {Target: private, Aliases: []string{"a"}}}
	spec.Networks[private] = network.CreateOptions{Labels: ns}
	spec.Secrets = []swarm.SecretSpec{{Annotations: swarm.Annotations{Name: secretName, Labels: ns}, Data: []byte(secret)}}
	spec.Services = append(spec.Services, a)
	for i := range spec.Services {
		fastUpdates(&spec.Services[i])
	}
	return spec
}

// stackSvc is a minimal service, with a short stop grace period.
func stackSvc(name, img string) swarm.ServiceSpec {
	grace := time.Second
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
			Image: img, StopGracePeriod: &grace,
		}},
	}
}

// fastUpdates is a compose update_config with a short monitor period, to
// keep the integration tests fast.
func fastUpdates(s *swarm.ServiceSpec) {
	s.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1, Monitor: time.Second, FailureAction: swarm.UpdateFailureActionRollback, Order: swarm.UpdateOrderStartFirst}
	if s.EndpointSpec != nil {
		s.UpdateConfig.Order = swarm.UpdateOrderStopFirst // its host port cannot be bound twice
	}
}

func contentHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:10]
}

// testStack returns a unique stack name and removes the stack (volumes
// too) when the test ends, whatever it left.
func testStack(t *testing.T, d *Docker) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	stack := "st" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := d.RemoveStack(ctx, stack, true, nil); err != nil {
			t.Errorf("cleanup stack %s: %v", stack, err)
		}
	})
	return stack
}

// buildStackImage builds the stack test server into a FROM scratch image
// labelled as the stack's, so RemoveStack removes it.
func buildStackImage(t *testing.T, d *Docker, stack string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mustMkdir(t, src)
	mustWrite(t, filepath.Join(src, "go.mod"), "module stackserver\n\ngo 1.21\n")
	mustWrite(t, filepath.Join(src, "main.go"), stackServerSource)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "app"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stack test server: %v\n%s", err, out)
	}
	mustWrite(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY app /app\nCMD [\"/app\"]\n"+
		"HEALTHCHECK --interval=1s --timeout=10s --retries=3 CMD [\"/app\", \"-probe\"]\n")
	img := stack + "-app:v1"
	start := time.Now()
	defer func() { t.Logf("built %s in %s", img, time.Since(start).Round(time.Millisecond)) }()
	if _, err := d.Build(context.Background(), BuildSpec{Dir: dir, Tags: []string{img}, Labels: map[string]string{LabelStack: stack}}, nil); err != nil {
		t.Fatalf("build image: %v", err)
	}
	t.Cleanup(func() { _ = d.RemoveImages(context.Background(), stack+"-app") })
	return img
}

// assertStackService checks the labels and the DefaultNetwork attachment
// DeployStack adds.
func assertStackService(t *testing.T, d *Docker, name, stack string) {
	t.Helper()
	ctx := context.Background()
	svc, _, err := d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []map[string]string{svc.Spec.Labels, svc.Spec.TaskTemplate.ContainerSpec.Labels} {
		if l[LabelStack] != stack || l[StackNamespaceLabel] != stack || l[LabelKind] != "compose" || l[LabelDeployment] != "1" {
			t.Errorf("labels of %s = %v", name, l)
		}
	}
	dn, err := d.cli.NetworkInspect(ctx, DefaultNetwork, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	attached := false
	for _, n := range svc.Spec.TaskTemplate.Networks {
		attached = attached || n.Target == dn.ID || n.Target == DefaultNetwork
	}
	if !attached {
		t.Errorf("%s not attached to %s: %+v", name, DefaultNetwork, svc.Spec.TaskTemplate.Networks)
	}
}

// assertStackGone checks RemoveStack left no service, network, secret,
// config or image of the stack.
func assertStackGone(t *testing.T, d *Docker, stack, service string) {
	t.Helper()
	ctx := context.Background()
	var left []string
	if services, _ := d.stackServiceList(ctx, stack); len(services) > 0 {
		left = append(left, fmt.Sprintf("%d services", len(services)))
	}
	if nets, _ := d.cli.NetworkList(ctx, network.ListOptions{Filters: stackFilter(stack)}); len(nets) > 0 {
		left = append(left, fmt.Sprintf("%d networks", len(nets)))
	}
	if secrets, _ := d.cli.SecretList(ctx, swarm.SecretListOptions{Filters: stackFilter(stack)}); len(secrets) > 0 {
		left = append(left, fmt.Sprintf("%d secrets", len(secrets)))
	}
	if configs, _ := d.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: stackFilter(stack)}); len(configs) > 0 {
		left = append(left, fmt.Sprintf("%d configs", len(configs)))
	}
	if images, _ := d.cli.ImageList(ctx, image.ListOptions{Filters: stackFilter(stack)}); len(images) > 0 {
		left = append(left, fmt.Sprintf("%d images", len(images)))
	}
	if n := runningContainers(t, d, service); n > 0 {
		left = append(left, fmt.Sprintf("%d containers", n))
	}
	if len(left) > 0 {
		t.Errorf("RemoveStack left %s", strings.Join(left, ", "))
	}
}

func runningContainers(t *testing.T, d *Docker, service string) int {
	t.Helper()
	list, err := d.cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name="+service))})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// stackServerSource is the stack test server: it serves $MESSAGE on
// :8080, the files $SECRET_FILE and $CONFIG_FILE on /secret and /config,
// and /fetch/<host>/<path> from http://<host>:8080/<path>, which shows the
// services reach each other by name. -probe is its HEALTHCHECK, -cat F
// prints a file, CRASH=1 exits at once.
const stackServerSource = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-cat" {
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Stdout.Write(data)
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "-probe" {
		resp, err := http.Get("http://127.0.0.1:8080/")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		return
	}
	if os.Getenv("CRASH") == "1" {
		fmt.Fprintln(os.Stderr, "fatal: crashing on purpose")
		os.Exit(1)
	}
	// As PID 1 the default SIGTERM action is ignored; exit at once so
	// scaling down and updates do not wait for the grace period.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; os.Exit(0) }()

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getenv("MESSAGE")) })
	serveFile := func(env string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			data, err := os.ReadFile(os.Getenv(env))
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			w.Write(data)
		}
	}
	http.HandleFunc("/secret", serveFile("SECRET_FILE"))
	http.HandleFunc("/config", serveFile("CONFIG_FILE"))
	client := &http.Client{Timeout: 2 * time.Second}
	http.HandleFunc("/fetch/", func(w http.ResponseWriter, r *http.Request) {
		host, path, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/fetch/"), "/")
		resp, err := client.Get("http://" + host + ":8080/" + path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})
	fmt.Println("listening on 8080")
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// stepLog returns, per step, a LogFunc that records into r and logs each
// line with the step's name and its time since the step began, so a slow
// or failing step shows where the time went.
func stepLog(t *testing.T, r *testkit.LogRecorder) func(step string) LogFunc {
	return func(step string) LogFunc {
		start := time.Now()
		return func(line string) {
			r.Log(line)
			t.Logf("%s %5.1fs: %s", step, time.Since(start).Seconds(), line)
		}
	}
}
