package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
)

// TestVolumeBackup is what a user does with an app's volume: declare it,
// deploy, back it up with the app stopped during the copy (it runs again
// after), find the object and its sidecar's sha256 in the bucket, change
// the files, restore with the app's name as confirmation and find the
// files as they were; retention keeps only the newest.
func TestVolumeBackup(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	f := newBackupFixture(t, c, "")
	image := resScratchImage(t)
	dk := deployDocker(t)

	appID, name := c.newApp(t, f.project, map[string]any{"type": "image", "image": image})
	vol := name + "-uploads"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = dk.RemoveService(ctx, name) // before its volume can go
		_ = dk.RemoveVolume(ctx, vol, 30*time.Second)
	})
	status, body, err := c.api("PATCH", fmt.Sprintf("/api/v1/applications/%d", appID),
		map[string]any{"volumes": []any{map[string]any{"name": "uploads", "path": "../x"}}})
	if err != nil || status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "absolute") {
		t.Fatalf("a relative volume path: %d %s (%v), want 422 naming the rule", status, body, err)
	}
	var app struct {
		Volumes []struct {
			Name, Path   string
			DockerVolume string `json:"docker_volume"`
		} `json:"volumes"`
	}
	c.mustAPI(t, "PATCH", fmt.Sprintf("/api/v1/applications/%d", appID),
		map[string]any{"volumes": []any{map[string]any{"name": "uploads", "path": "/srv/uploads/"}}}, http.StatusOK, &app)
	if len(app.Volumes) != 1 || app.Volumes[0].Path != "/srv/uploads" || app.Volumes[0].DockerVolume != vol {
		t.Fatalf("volumes after PATCH: %+v", app.Volumes)
	}
	c.operation(t, c.deploy(t, appID), "deploy")
	mounts := volDocker(t, "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Mounts}}", name)
	if !strings.Contains(mounts, `"Source":"`+vol+`"`) || !strings.Contains(mounts, `"Target":"/srv/uploads"`) || !strings.Contains(mounts, `"dokploy.volume":"uploads"`) {
		t.Fatalf("the service does not mount %s at /srv/uploads with its labels: %s", vol, mounts)
	}

	// What the app wrote: two files in a folder tree and a symlink.
	volWrite(t, image, vol, map[string]string{"a.txt": "alpha", "sub/deep/b.txt": "bravo"}, map[string]string{"link": "a.txt"})

	var plan struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", fmt.Sprintf("/api/v1/applications/%d/backups", appID), map[string]any{
		"volume": "uploads", "destination_id": f.destID, "stop_during_backup": true, "prefix": "vol", "keep_last": 1,
	}, http.StatusCreated, &plan)
	run := c.backupNow(t, plan.ID, "done")
	// The run is done once its object is whole; its operation goes on to
	// start the app again and apply retention.
	c.operation(t, run.OperationID, "the backup")
	f.checkArtifact(t, run, ".tar.gz")
	if !strings.HasPrefix(run.ObjectKey, "vol/"+name+"/"+name+"-uploads-") || run.Format != "volume-tar-gzip" {
		t.Fatalf("run %d: key %q format %q", run.ID, run.ObjectKey, run.Format)
	}
	log := c.logs(t, run.OperationID)
	if !strings.Contains(log, "Stopping "+name) || !strings.Contains(log, "Starting "+name+" again") {
		t.Errorf("the backup log does not show the app stopped and started:\n%s", log)
	}
	volWaitRunning(t, dk, name)

	// The files change after the backup.
	volWrite(t, image, vol, map[string]string{"a.txt": "changed", "extra.txt": "new"}, nil)
	if got := volCat(t, image, vol, "a.txt"); got != "changed" {
		t.Fatalf("a.txt reads %q before the restore", got)
	}
	status, body, err = c.api("POST", fmt.Sprintf("/api/v1/backup-runs/%d/restore", run.ID), map[string]any{"confirm": "wrong"})
	if err != nil || status != http.StatusUnprocessableEntity {
		t.Fatalf("a restore with the wrong name: %d %s (%v), want 422", status, body, err)
	}
	start := time.Now()
	log = c.restore(t, run, name)
	t.Logf("restore in %s", time.Since(start).Round(100*time.Millisecond))
	if !strings.Contains(log, "Safety backup #") || !strings.Contains(log, "matches its sha256") {
		t.Errorf("the restore log lacks the sha256 check or the safety backup:\n%s", log)
	}
	for file, want := range map[string]string{"a.txt": "alpha", "sub/deep/b.txt": "bravo", "link": "alpha"} {
		if got := volCat(t, image, vol, file); got != want {
			t.Errorf("after the restore %s reads %q, want %q", file, got, want)
		}
	}
	if got := volCat(t, image, vol, "extra.txt"); !strings.HasPrefix(got, "cat:") {
		t.Errorf("extra.txt, written after the backup, survived the restore: %q", got)
	}
	volWaitRunning(t, dk, name)

	// keep_last 1: after another run only its object is left (the
	// restore's safety backup counted as one of the plan's too).
	second := c.backupNow(t, plan.ID, "done")
	c.operation(t, second.OperationID, "the second backup")
	var objects []string
	for _, k := range f.objects(t, "") {
		if strings.HasSuffix(k, ".tar.gz") {
			objects = append(objects, k)
		}
	}
	if len(objects) != 1 || objects[0] != second.ObjectKey {
		t.Fatalf("after two runs with keep_last 1 the bucket holds %v, want only %s; log:\n%s", objects, second.ObjectKey, c.logs(t, second.OperationID))
	}
	if first := c.backupRun(t, run.ID); first.DeletedAt == nil {
		t.Errorf("run %d is not marked deleted by retention", run.ID)
	}
	var runs struct {
		Items []backupRunJSON `json:"items"`
	}
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/applications/%d/backup-runs", appID), nil, http.StatusOK, &runs)
	if len(runs.Items) != 3 {
		t.Errorf("the app lists %d runs, want 3 (backup, safety, backup)", len(runs.Items))
	}
}

func volDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := imgDocker(ctx, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// volWrite copies files and symlinks into the volume through a created
// (never started) container of image: no shell is needed in it.
func volWrite(t *testing.T, image, vol string, files, links map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	id := volDocker(t, "create", "-v", vol+":/data", image)
	defer func() { _ = exec.Command("docker", "rm", "-f", id).Run() }()
	volDocker(t, "cp", dir+"/.", id+":/data/")
}

// volCat is a file of the volume as the test app's -cat prints it.
func volCat(t *testing.T, image, vol, file string) string {
	t.Helper()
	return volDocker(t, "run", "--rm", "--network", "none", "-v", vol+":/data:ro", image, "-cat", "/data/"+file)
}

// volWaitRunning waits until the app's service runs its replica again.
func volWaitRunning(t *testing.T, dk *docker.Docker, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := dk.ServiceInfo(context.Background(), name)
		if err == nil && st.Exists && st.Replicas == 1 && st.Running == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not running again: %+v (%v)", name, st, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
