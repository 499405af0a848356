package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
	"dokploy/jobs/internal/linewriter"
)

// hostMarker writes a host file outside every checkout holding a random
// marker and returns its path and the marker.
func hostMarker(t *testing.T) (string, string) {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := "host-secret-" + hex.EncodeToString(b)
	path := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(path, []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, marker
}

// TestPipeline_HostileRepositoryIsRefused pushes repositories whose
// .dockerignore, Dockerfile or build context is a symlink out of the
// checkout: each deployment fails with a clear reason and the host file's
// content is stored nowhere.
func TestPipeline_HostileRepositoryIsRefused(t *testing.T) {
	p := newPipeline(t)
	app, _ := p.newGitApp(testName(t))
	secret, marker := hostMarker(t)
	ctx := context.Background()
	work := p.git.Work
	// go-git checks absolute symlink targets out relative to the checkout
	// (a link to / points at the checkout's root), so the links that reach
	// the host are relative ones climbing out.
	up := strings.Repeat("../", 40)
	cases := []struct {
		name          string
		link, target  string
		context, file string
		want          string
	}{
		{"dockerignore symlink", ".dockerignore", up + secret[1:], ".", "Dockerfile", ".dockerignore refused: it leads outside the repository"},
		{"dockerignore absolute symlink", ".dockerignore", secret, ".", "Dockerfile", ".dockerignore refused: it leads outside the repository"},
		{"Dockerfile symlink", "Dockerfile.link", up + secret[1:], ".", "Dockerfile.link", `Dockerfile: path "Dockerfile.link" escapes the repository (through a symlink)`},
		{"context symlinked to /", "ctx", up, "ctx", "Dockerfile", `build context: path "ctx" escapes the repository (through a symlink)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			link := filepath.Join(work, tc.link)
			if err := os.Symlink(tc.target, link); err != nil {
				t.Fatal(err)
			}
			p.git.commit("hostile: "+tc.name, serverDockerfile("hostile"))
			t.Cleanup(func() {
				_ = os.Remove(link)
				p.git.commit("clean", serverDockerfile("clean"))
			})
			a, _ := p.store.App(ctx, app.ID)
			a.GitContext, a.GitDockerfile = tc.context, tc.file
			if err := p.store.UpdateApp(ctx, a); err != nil {
				t.Fatal(err)
			}
			d := p.wait(p.deploy(a).ID, time.Minute)
			logs := p.logs(d.ID)
			if d.Status != db.DeployError || !strings.Contains(d.Error, tc.want) {
				t.Errorf("status %s error %q, want an error containing %q\n%s", d.Status, d.Error, tc.want, logs)
			}
			var stored int
			if err := p.store.DB().Get(&stored, `SELECT count(*) FROM deployment_logs WHERE position($1 in line) > 0`, marker); err != nil {
				t.Fatal(err)
			}
			if stored > 0 || strings.Contains(d.Error, marker) {
				t.Errorf("the host file's content reached the log (%d lines) or the error %q", stored, d.Error)
			}
			if p.docker.HasImage(ctx, d.Image) {
				t.Errorf("a refused build left image %s", d.Image)
			}
		})
	}
}

// TestPipeline_BaseImagesOfOtherAppsAreRefused: FROM another app's image
// is refused with the line, by tag and by ID; FROM the app's own earlier
// image is built; FROM a registry image is not refused (the pull then
// fails here), nor a local non-app image whose repository is another
// app's name (postgres:16 next to an app called postgres).
func TestPipeline_BaseImagesOfOtherAppsAreRefused(t *testing.T) {
	p := newPipeline(t)
	victim, _ := p.newGitApp(testName(t))
	attacker, _ := p.newGitApp(testName(t))
	ctx := context.Background()
	// The victim's image as its deployments build it now: tag <app>:<id>,
	// no label, its ID recorded.
	p.git.commit("victim", serverDockerfile("victim-"+dbtest.RandomSuffix()))
	dv := p.wait(p.deploy(victim).ID, 2*time.Minute)
	if dv.Status != db.DeployDone {
		t.Fatalf("victim's deployment: %s %q\n%s", dv.Status, dv.Error, p.logs(dv.ID))
	}
	if logs := p.logs(dv.ID); strings.Contains(logs, " : LABEL ") {
		t.Errorf("an app build has a LABEL step:\n%s", logs)
	}
	victimID := imageID(t, p.docker, dv.Image)
	if b, err := p.store.ImageBuilders(ctx, victimID); err != nil || len(b) != 1 || b[0].AppName != victim.AppName {
		t.Fatalf("builders of the victim's image %s: %+v %v", victimID, b, err)
	}
	// The attacker's earlier image as app builds were made before: label
	// dokploy.app=<app>, not recorded. Then a local image that no app
	// built, named like the victim (a registry image pulled earlier).
	dir := t.TempDir()
	buildTestApp(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(serverDockerfile("earlier")), 0o644); err != nil {
		t.Fatal(err)
	}
	da := &db.Deployment{Image: attacker.AppName + ":1000"}
	if _, err := p.docker.Build(ctx, docker.BuildSpec{Dir: dir, Tags: []string{da.Image},
		Labels: map[string]string{docker.LabelApp: attacker.AppName}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(serverDockerfile("registry-"+dbtest.RandomSuffix())), 0o644); err != nil {
		t.Fatal(err)
	}
	registryLike := victim.AppName + ":16-alpine"
	if _, err := p.docker.Build(ctx, docker.BuildSpec{Dir: dir, Tags: []string{registryLike}}, nil); err != nil {
		t.Fatal(err)
	}

	p.git.commit("steal", "ARG BASE="+dv.Image+"\nFROM scratch\nCOPY app /app\nFROM ${BASE}\nENTRYPOINT [\"/app\"]\n")
	d := p.wait(p.deploy(attacker).ID, time.Minute)
	want := fmt.Sprintf("Dockerfile line 4 (FROM ${BASE}): the image is app %s's, not this app's: a build may use registry images and its own app's images only", victim.AppName)
	if d.Status != db.DeployError || d.Error != want {
		t.Errorf("FROM another app's image: %s %q, want %q\n%s", d.Status, d.Error, want, p.logs(d.ID))
	}
	if strings.Contains(p.logs(d.ID), "Step 1/") {
		t.Error("the refused build started")
	}

	short := strings.TrimPrefix(victimID, "sha256:")[:12]
	p.git.commit("steal by id", "FROM scratch\nCOPY --from="+short+" /app /app\nENTRYPOINT [\"/app\"]\n")
	d = p.wait(p.deploy(attacker).ID, time.Minute)
	if d.Status != db.DeployError || !strings.Contains(d.Error, "the image is app "+victim.AppName+"'s") {
		t.Errorf("COPY --from=<the victim's image ID>: %s %q\n%s", d.Status, d.Error, p.logs(d.ID))
	}

	p.git.commit("own base", "FROM "+da.Image+"\nENV MESSAGE=own-base\n")
	if d := p.wait(p.deploy(attacker).ID, 2*time.Minute); d.Status != db.DeployDone {
		t.Errorf("FROM the app's own image: %s %q\n%s", d.Status, d.Error, p.logs(d.ID))
	}
	// The attacker's image just built is recorded as its own: it may build
	// on it.
	cur, _ := p.store.App(ctx, attacker.ID)
	p.git.commit("own recorded base", "FROM "+cur.CurrentImage+"\nENV MESSAGE=own-recorded-base\n")
	if d := p.wait(p.deploy(attacker).ID, 2*time.Minute); d.Status != db.DeployDone {
		t.Errorf("FROM the app's own recorded image: %s %q\n%s", d.Status, d.Error, p.logs(d.ID))
	}

	p.git.commit("registry-like base", "FROM "+registryLike+"\nENV MESSAGE=registry-like\n")
	if d := p.wait(p.deploy(attacker).ID, 2*time.Minute); d.Status != db.DeployDone {
		t.Errorf("FROM %s, a local image no app built: %s %q\n%s", registryLike, d.Status, d.Error, p.logs(d.ID))
	}

	p.git.commit("registry base", "FROM registry.invalid/library/base:1\n")
	d = p.wait(p.deploy(attacker).ID, 2*time.Minute)
	if d.Status != db.DeployError || strings.Contains(d.Error, "registry images and its own") {
		t.Errorf("FROM a registry image: %s %q, want the engine's pull error, not a refusal", d.Status, d.Error)
	}
}

// imageID is the engine's ID of a local image.
func imageID(t *testing.T, d *docker.Docker, ref string) string {
	t.Helper()
	id, err := d.ImageID(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPipeline_FloodingBuildLogIsBounded: a build printing one 50 MB line
// and then 200,000 short lines runs to the end while the stored log stays
// under its limits with the cut marker and the truncation line, and the
// control plane's heap stays flat.
func TestPipeline_FloodingBuildLogIsBounded(t *testing.T) {
	p := newPipeline(t)
	app, _ := p.newGitApp(testName(t))
	// A fresh RUN_ID per run: a cached RUN step would print nothing.
	p.git.commit("flood", "FROM scratch\nCOPY app /app\nENV RUN_ID="+dbtest.RandomSuffix()+"\nRUN [\"/app\", \"-longline\", \"50000000\", \"-lines\", \"200000\"]\n"+
		"ENV PORT=8080 MESSAGE=flooded\nENTRYPOINT [\"/app\"]\n")

	var peak uint64
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
	}()
	start := time.Now()
	d := p.wait(p.deploy(app).ID, 2*time.Minute)
	close(stop)
	wg.Wait()
	took := time.Since(start)
	if d.Status != db.DeployDone {
		t.Fatalf("the flooding build must go on and finish: %s %q\n%s", d.Status, d.Error, testkit.Truncate(p.logs(d.ID)))
	}
	var lines, size int
	if err := p.store.DB().QueryRow(`SELECT count(*), coalesce(sum(octet_length(line)), 0) FROM deployment_logs WHERE deployment_id = $1`, d.ID).Scan(&lines, &size); err != nil {
		t.Fatal(err)
	}
	logs := p.logs(d.ID)
	grew := int64(peak) - int64(base.HeapAlloc)
	t.Logf("deploy took %s; stored %d lines, %d bytes; heap peak %d MiB above the start", took.Round(time.Millisecond), lines, size, grew>>20)
	if size > maxLogBytes || lines > maxLogLines {
		t.Errorf("stored %d lines, %d bytes: over the limits (%d lines, %d bytes)", lines, size, maxLogLines, maxLogBytes)
	}
	for _, want := range []string{linewriter.CutMarker, "log truncated: this deployment's output reached the limit of 5 MiB or 50000 lines",
		"the build goes on", "lines not stored; the last 40:", fmt.Sprintf("Deployment #%d finished", d.ID)} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if strings.Contains(logs, "line 199000\n") {
		t.Error("lines past the limit were stored")
	}
	if grew > 64<<20 {
		t.Errorf("the control plane's heap grew by %d MiB during the build", grew>>20)
	}
}

// TestDeployLog_LimitsAndMasking checks the log's bounds and the masking of
// a secret cut in two by the 16 KiB limit, against the real database.
func TestDeployLog_LimitsAndMasking(t *testing.T) {
	testkit.RequireIntegration(t)
	store := dbtest.NewStore(t)
	ctx := context.Background()
	proj, err := store.CreateProject(ctx, "p", "")
	if err != nil {
		t.Fatal(err)
	}
	a := &db.App{EnvironmentID: proj.Environments[0].ID, Name: "logs", AppName: "logs", SourceType: db.SourceImage, Image: "x:1", Port: 80, Replicas: 1}
	if err := store.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	d, err := store.CreateDeployment(ctx, a.ID, "user", "test")
	if err != nil {
		t.Fatal(err)
	}
	l := newDeployLog(store, d.ID, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const secret = "SECRETVALUE-1234567890"
	l.Mask(secret)
	l.Line(strings.Repeat("a", linewriter.MaxLine-5) + secret + " more") // cut inside the secret
	l.Line("x " + secret)
	for i := 0; i < maxLogLines+100; i++ {
		l.Line(fmt.Sprintf("flood %d", i))
	}
	l.Line("the last line")
	l.Close()
	st, err := store.LogStats(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines > maxLogLines || st.Bytes > maxLogBytes {
		t.Errorf("stored %+v, over the limits", st)
	}
	lines, _ := store.Logs(ctx, d.ID, 0, 2*maxLogLines)
	var all strings.Builder
	for _, ln := range lines {
		all.WriteString(ln.Line + "\n")
	}
	got := all.String()
	if strings.Contains(got, "SECR") || !strings.Contains(got, "x ********\n") || !strings.Contains(got, "a********"+linewriter.CutMarker) {
		t.Errorf("masking around the cut failed: %q", testkit.Truncate(got[:200]))
	}
	if !strings.Contains(got, "log truncated") || !strings.HasSuffix(got, "the last line\n") ||
		!strings.Contains(got, fmt.Sprintf("lines not stored; the last %d:", tailLines)) {
		t.Errorf("truncation or tail missing; end of log: %q", got[len(got)-600:])
	}
	// The byte limit: 400 lines of 16 KiB are 6.4 MB.
	d2, err := store.CreateDeployment(ctx, a.ID, "user", "test")
	if err != nil {
		t.Fatal(err)
	}
	l2 := newDeployLog(store, d2.ID, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < 400; i++ {
		l2.Line(strings.Repeat("b", 20<<10))
	}
	l2.Close()
	if st, _ := store.LogStats(ctx, d2.ID); st.Bytes > maxLogBytes || st.Bytes < maxLogBytes-tailReserveBytes || st.Lines > 330 {
		t.Errorf("byte limit: stored %+v", st)
	}
	// A second attempt of the same deployment continues under the same limits.
	l = newDeployLog(store, d.ID, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l.Line("after restart")
	l.Close()
	if st2, _ := store.LogStats(ctx, d.ID); st2.Lines > maxLogLines || st2.LastSeq < st.LastSeq {
		t.Errorf("after a second attempt: %+v (before %+v)", st2, st)
	}
}
