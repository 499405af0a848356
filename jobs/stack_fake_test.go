package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dokploy/db"
)

func (r *fakeRig) newInlineStack(name, file string) *db.ComposeStack {
	r.t.Helper()
	ctx := context.Background()
	proj, err := r.store.CreateProject(ctx, "p-"+name, "")
	if err != nil {
		r.t.Fatal(err)
	}
	c := &db.ComposeStack{EnvironmentID: proj.Environments[0].ID, Name: name, DisplayName: name,
		SourceType: db.ComposeInline, ComposeFile: file, GitBranch: "main"}
	if err := r.store.CreateCompose(ctx, c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *fakeRig) stackOp(c *db.ComposeStack, action string) *db.Deployment {
	r.t.Helper()
	ctx := context.Background()
	var d *db.Deployment
	var err error
	if action == db.ActionDeploy {
		d, err = r.store.CreateDeployment(ctx, c.ID, "user", "test")
	} else {
		d, err = r.store.CreateOperation(ctx, c.ID, action, "test", "")
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.runner.Enqueue(ctx, d.ID); err != nil {
		r.t.Fatal(err)
	}
	return r.wait(d.ID)
}

// settledStack waits for the stack to leave "deploying": the runner
// settles it just after recording the deployment's outcome.
func (r *fakeRig) settledStack(id int64) *db.ComposeStack {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := r.store.Compose(context.Background(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		if c.Status != db.AppDeploying || time.Now().After(deadline) {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const fakeStackFile = `services:
  web:
    image: nginx:1.27
    deploy:
      replicas: 3
  worker:
    image: busybox:1
`

// Stop records each service's replicas and scales all to zero; start
// brings back exactly those counts, even after a second stop.
func TestFake_StackStopStartRestoresReplicas(t *testing.T) {
	rig := newFakeRig(t)
	rig.start(1)
	c := rig.newInlineStack("shop", fakeStackFile)
	if d := rig.stackOp(c, db.ActionDeploy); d.Status != db.DeployDone {
		t.Fatalf("deploy: %s %s\n%s", d.Status, d.Error, rig.logs(d.ID))
	}
	want := map[string]uint64{"shop_web": 3, "shop_worker": 1}
	if got := rig.engine.stackReplicas("shop"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deployed %v, want %v", got, want)
	}
	for range 2 { // a second stop must not record the zeros
		if d := rig.stackOp(c, db.ActionStop); d.Status != db.DeployDone {
			t.Fatalf("stop: %s %s\n%s", d.Status, d.Error, rig.logs(d.ID))
		}
	}
	if got := rig.engine.stackReplicas("shop"); got["shop_web"] != 0 || got["shop_worker"] != 0 {
		t.Fatalf("after stop %v, want all 0", got)
	}
	stopped, _ := rig.store.Compose(context.Background(), c.ID)
	if stopped.Status != db.AppStopped || fmt.Sprint(stopped.Stopped()) != fmt.Sprint(want) {
		t.Fatalf("status %s, recorded %v, want stopped and %v", stopped.Status, stopped.Stopped(), want)
	}
	if d := rig.stackOp(c, db.ActionStart); d.Status != db.DeployDone {
		t.Fatalf("start: %s %s\n%s", d.Status, d.Error, rig.logs(d.ID))
	}
	if got := rig.engine.stackReplicas("shop"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after start %v, want %v", got, want)
	}
	started, _ := rig.store.Compose(context.Background(), c.ID)
	if started.Status != db.AppRunning || len(started.Stopped()) != 0 {
		t.Fatalf("after start: status %s, record %v", started.Status, started.Stopped())
	}
}

// A refused file fails the deploy with the loader's message and never
// reaches the engine.
func TestFake_StackRefusedFileChangesNothing(t *testing.T) {
	rig := newFakeRig(t)
	rig.start(1)
	c := rig.newInlineStack("bad", "services:\n  web:\n    image: nginx\n    privileged: true\n")
	d := rig.stackOp(c, db.ActionDeploy)
	if d.Status != db.DeployError || !strings.Contains(d.Error, "refused") || !strings.Contains(rig.logs(d.ID), "privileged") {
		t.Fatalf("deploy of a privileged service: %s %q\n%s", d.Status, d.Error, rig.logs(d.ID))
	}
	if n := len(rig.engine.Calls("DeployStack")); n != 0 {
		t.Fatalf("DeployStack called %d times for a refused file", n)
	}
	if st := rig.settledStack(c.ID); st.Status != db.AppError {
		t.Errorf("status %s after a refused first deploy, want error", st.Status)
	}
}

// A failed update keeps the stack "running" (Swarm rolled it back) and a
// failed first deploy scales what it created to zero.
func TestFake_StackFailedDeploys(t *testing.T) {
	rig := newFakeRig(t)
	rig.start(1)
	c := rig.newInlineStack("flaky", fakeStackFile)
	rig.engine.Fail("DeployStack", errors.New("service web: task failed"))
	if d := rig.stackOp(c, db.ActionDeploy); d.Status != db.DeployError {
		t.Fatalf("first deploy: %s", d.Status)
	}
	rig.engine.Fail("DeployStack", nil)
	if d := rig.stackOp(c, db.ActionDeploy); d.Status != db.DeployDone {
		t.Fatalf("second deploy: %s %s", d.Status, d.Error)
	}
	rig.engine.Fail("DeployStack", errors.New("service web: task failed"))
	if d := rig.stackOp(c, db.ActionDeploy); d.Status != db.DeployError {
		t.Fatalf("third deploy: %s", d.Status)
	}
	if st := rig.settledStack(c.ID); st.Status != db.AppRunning {
		t.Errorf("status %s after a failed update of a running stack, want running", st.Status)
	}
	if got := rig.engine.stackReplicas("flaky"); got["flaky_web"] != 3 {
		t.Errorf("a failed update changed the replicas: %v", got)
	}
}
