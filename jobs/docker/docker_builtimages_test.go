package docker

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dokploy/e2e/testkit"
)

// builtImages is an in-memory BuildSpec.Builders: image ID → its builders.
type builtImages struct {
	mu   sync.Mutex
	byID map[string][]ImageBuilder
	err  error
}

func (b *builtImages) record(id string, who ...ImageBuilder) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byID[id] = append(b.byID[id], who...)
}

func (b *builtImages) builders(_ context.Context, id string) ([]ImageBuilder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byID[id], b.err
}

// TestDockerBuild_AppBuildsCarryNoLabel: a build without labels has no
// LABEL step and its image no label; a build with labels (compose) gets
// them and the repository label, a LABEL step each at the end.
func TestDockerBuild_AppBuildsCarryNoLabel(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx := context.Background()
	repo := testName(t)
	logs := &testkit.LogRecorder{}
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nENV X="+repo+"\n"), Tags: []string{repo + ":1"}}, logs.Log); err != nil {
		t.Fatal(err)
	}
	if logs.Contains("LABEL") || !logs.Contains("Step 3/3 : ENV") {
		t.Errorf("an app build has a LABEL step:\n%s", logs.All())
	}
	if inspect, err := d.cli.ImageInspect(ctx, repo+":1"); err != nil || len(inspect.Config.Labels) != 0 {
		t.Errorf("labels of an app build's image: %v %v", inspect.Config.Labels, err)
	}
	logs = &testkit.LogRecorder{}
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nENV X="+repo+"\n"), Tags: []string{repo + "_web:2"},
		Labels: map[string]string{LabelApp: repo, LabelStack: repo}}, logs.Log); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.All(), " : LABEL "); n != 3 || !logs.Contains("Step 6/6 : LABEL") {
		t.Errorf("%d LABEL steps for three labels, want one each at the end:\n%s", n, logs.All())
	}
	inspect, err := d.cli.ImageInspect(ctx, repo+"_web:2")
	if err != nil || inspect.Config.Labels[LabelApp] != repo || inspect.Config.Labels[LabelStack] != repo || inspect.Config.Labels[LabelImageRepo] != repo+"_web" {
		t.Errorf("labels of a compose build's image: %v %v", inspect.Config.Labels, err)
	}
	_ = d.RemoveImages(ctx, repo+"_web")
}

// TestDockerBuild_RecordedImagesOfOtherAppsAreRefused: with no label on
// app images, what the store recorded decides. Another app's image is
// refused however it is named (tag, docker.io name, ID prefix, COPY
// --from, the engine's own report), also once that app is deleted, and
// when the store cannot answer; the app's own images, an image both apps
// built and a local image no app built are not, even when its repository
// is an app's name (postgres:16 next to an app called postgres).
func TestDockerBuild_RecordedImagesOfOtherAppsAreRefused(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx := context.Background()
	victim, attacker := testName(t), testName(t)
	store := &builtImages{byID: map[string][]ImageBuilder{}}
	build := func(app, tag, df string) (string, error) {
		return d.Build(ctx, BuildSpec{Dir: appContext(t, df), Tags: []string{app + ":" + tag}, Builders: store.builders}, nil)
	}
	victimID, err := build(victim, "7", "FROM scratch\nCOPY app /app\nENV OWNER="+victim+"\n")
	if err != nil {
		t.Fatal(err)
	}
	store.record(victimID, ImageBuilder{App: victim})
	ownID, err := build(attacker, "1", "FROM scratch\nCOPY app /app\nENV OWNER="+attacker+"\n")
	if err != nil {
		t.Fatal(err)
	}
	store.record(ownID, ImageBuilder{App: attacker})
	// A registry image pulled earlier whose repository is the victim's
	// name: built here by no app, so not recorded.
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nENV REGISTRY="+victim+"\n"), Tags: []string{victim + ":16-alpine"}}, nil); err != nil {
		t.Fatal(err)
	}
	short := strings.TrimPrefix(victimID, "sha256:")[:12]
	refused := []string{
		"FROM " + victim + ":7\n",
		"FROM docker.io/library/" + victim + ":7\n",
		"FROM " + short + "\n",
		"FROM scratch\nCOPY --from=" + victim + ":7 /app /app\n",
		"FROM scratch\nCOPY --from=" + short + " /app /app\n",
	}
	for _, df := range refused {
		_, err := build(attacker, "2", df)
		if !errors.Is(err, ErrForeignImage) || !strings.Contains(err.Error(), "the image is app "+victim+"'s") {
			t.Errorf("%q: err = %v, want a refusal naming %s", df, err, victim)
		}
	}
	if d.HasImage(ctx, attacker+":2") {
		t.Error("a refused build left an image")
	}
	// What the engine reports it used is checked the same way.
	if _, err := build(attacker, "3", "FROM scratch\nCOPY app /app\n"); err != nil {
		t.Fatal(err)
	}
	tracker := &buildTracker{bases: []baseImage{{id: short, step: "Step 1/2 : FROM sneaky"}}}
	err = d.checkBuiltBases(ctx, tracker, BuildSpec{Tags: []string{attacker + ":3"}, Builders: store.builders})
	if !errors.Is(err, ErrForeignImage) || !strings.Contains(err.Error(), "Dockerfile step 1/2 (FROM sneaky)") || d.HasImage(ctx, attacker+":3") {
		t.Errorf("post-build check: %v (image left: %v)", err, d.HasImage(ctx, attacker+":3"))
	}
	allowed := []string{
		"FROM " + attacker + ":1\nENV X=1\n",                                   // its own image
		"FROM " + victim + ":16-alpine\nENV X=2\n",                             // no app's image, an app's name
		"FROM scratch AS s\nCOPY app /app\nFROM s\nCOPY --from=s /app /app2\n", // a stage
	}
	for _, df := range allowed {
		if _, err := build(attacker, "4", df); err != nil {
			t.Errorf("%q refused: %v", df, err)
		}
	}
	// A build with no app in its spec may take no app's image.
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM "+attacker+":1\n"), Tags: []string{"dokploy-test-nobody:1"}, Builders: store.builders}, nil); !errors.Is(err, ErrForeignImage) {
		t.Errorf("a build of another name took the app's image: %v", err)
	}
	// An image both apps built (the same sources, fully cached) is either's.
	store.record(victimID, ImageBuilder{App: attacker})
	if _, err := build(attacker, "5", "FROM "+victim+":7\nENV X=5\n"); err != nil {
		t.Errorf("an image the app built too was refused: %v", err)
	}
	// Once its app is deleted, an image is nobody else's.
	store.mu.Lock()
	store.byID[victimID] = []ImageBuilder{{App: victim, Deleted: true}}
	store.mu.Unlock()
	if _, err := build(attacker, "6", "FROM "+victim+":7\n"); !errors.Is(err, ErrForeignImage) || !strings.Contains(err.Error(), "deleted app "+victim+"'s") {
		t.Errorf("a deleted app's image: %v", err)
	}
	if _, err := build(victim, "8", "FROM "+victim+":7\n"); !errors.Is(err, ErrForeignImage) {
		t.Errorf("a new app of a deleted app's name took its image: %v", err)
	}
	// The store not answering refuses the build.
	store.mu.Lock()
	store.err = errors.New("database down")
	store.mu.Unlock()
	if _, err := build(attacker, "9", "FROM "+attacker+":1\n"); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Errorf("with the store down: %v", err)
	}
}

// TestDockerBuild_FailedBuildLeftoversAreFoundAndRemoved: a failed build
// keeps what its steps committed (cache for the next build) and returns the
// last image, which is dangling; RemoveUntaggedImages removes it and the
// layers under it. BuildImagesFromLog finds the same images in the log.
func TestDockerBuild_FailedBuildLeftoversAreFoundAndRemoved(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx := context.Background()
	repo := testName(t)
	// The first layer is this test's own, so no parallel build shares it.
	dir := appContext(t, "FROM scratch\nCOPY own /own\nCOPY app /app\nRUN [\"/app\", \"-fail\"]\n")
	mustWrite(t, filepath.Join(dir, "own"), repo)
	logs := &testkit.LogRecorder{}
	left, err := d.Build(ctx, BuildSpec{Dir: dir, Tags: []string{repo + ":1"}}, logs.Log)
	if err == nil || !strings.HasPrefix(left, "sha256:") {
		t.Fatalf("failed build: %q %v\n%s", left, err, logs.All())
	}
	committed := BuildImagesFromLog(strings.Split(strings.TrimSuffix(logs.All(), "\n"), "\n"))
	if len(committed) != 2 || !strings.HasPrefix(left, "sha256:"+committed[1]) {
		t.Fatalf("images in the log %v, returned %s\n%s", committed, left, logs.All())
	}
	dangling, err := d.DanglingImages(ctx)
	if err != nil || !containsString(dangling, left) {
		t.Fatalf("%s is not among the dangling images (%v)", left, err)
	}
	if n := d.RemoveUntaggedImages(ctx, append([]string{left}, committed...)); n == 0 {
		t.Error("nothing removed")
	}
	for _, id := range append([]string{left}, committed...) {
		if d.HasImage(ctx, id) {
			t.Errorf("image %s of the failed build is still there", id)
		}
	}
	// A tagged image is never removed.
	ok, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\nENV X="+repo+"\n"), Tags: []string{repo + ":2"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := d.RemoveUntaggedImages(ctx, []string{ok}); n != 0 || !d.HasImage(ctx, repo+":2") {
		t.Errorf("a tagged image was removed (%d)", n)
	}
}
