package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dokploy/e2e/testkit"
)

// hostMarker writes a file outside any checkout holding a random marker
// and returns its path and the marker.
func hostMarker(t *testing.T) (string, string) {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := "host-secret-" + hex.EncodeToString(b)
	path := filepath.Join(t.TempDir(), "shadow")
	mustWrite(t, path, marker+"\n")
	return path, marker
}

// TestDockerBuild_HostileCheckout runs builds of checkouts that try to make
// the control plane read host files; each must fail clearly, fast, and
// without the host file's content anywhere.
func TestDockerBuild_HostileCheckout(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	secret, marker := hostMarker(t)
	cases := []struct {
		name  string
		setup func(dir string)
		spec  func(*BuildSpec)
		want  string
	}{
		{"dockerignore symlink to a host file", func(dir string) {
			mustSymlink(t, secret, filepath.Join(dir, ".dockerignore"))
		}, nil, ".dockerignore refused: it leads outside the repository"},
		{"dockerignore FIFO", func(dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, ".dockerignore"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, ".dockerignore: not a regular file (a FIFO)"},
		{"huge dockerignore", func(dir string) {
			mustWrite(t, filepath.Join(dir, ".dockerignore"), strings.Repeat("x\n", 600<<10))
		}, nil, ".dockerignore is larger than 1 MiB"},
		{"Dockerfile symlink to a host file", func(dir string) {
			mustSymlink(t, secret, filepath.Join(dir, "Dockerfile.evil"))
		}, func(s *BuildSpec) { s.Dockerfile = "Dockerfile.evil" }, "escapes the repository (through a symlink)"},
		{"context symlinked to /", func(dir string) {
			mustSymlink(t, "/", filepath.Join(dir, "ctx"))
		}, func(s *BuildSpec) { s.ContextPath = "ctx" }, "build context: path \"ctx\" escapes the repository (through a symlink)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := appContext(t, "FROM scratch\nCOPY app /app\n")
			tc.setup(dir)
			spec := BuildSpec{Dir: dir, Tags: []string{testName(t) + ":v1"}}
			if tc.spec != nil {
				tc.spec(&spec)
			}
			logs := &testkit.LogRecorder{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := d.Build(ctx, spec, logs.Log)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q\n%s", err, tc.want, logs.All())
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("refusal took %s", took)
			}
			if strings.Contains(err.Error()+logs.All(), marker) {
				t.Errorf("the host file's content surfaced: %v\n%s", err, logs.All())
			}
		})
	}
}

// TestDockerBuild_SymlinksStayLinks: a symlink inside the context pointing
// at a host file is sent as a link, so a build step reading it never sees
// the host file.
func TestDockerBuild_SymlinksStayLinks(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	secret, marker := hostMarker(t)
	dir := appContext(t, "FROM scratch\nCOPY app /app\nCOPY . /ctx/\nRUN [\"/app\", \"-cat\", \"/ctx/leak\"]\n")
	mustSymlink(t, secret, filepath.Join(dir, "leak"))
	logs := &testkit.LogRecorder{}
	_, err := d.Build(context.Background(), BuildSpec{Dir: dir, Tags: []string{testName(t) + ":v1"}}, logs.Log)
	if strings.Contains(logs.All(), marker) || (err != nil && strings.Contains(err.Error(), marker)) {
		t.Fatalf("a build step read the host file through a symlink: %v\n%s", err, logs.All())
	}
	if err == nil && !logs.Contains("cat: ") {
		t.Errorf("the step should have found a dangling link:\n%s", logs.All())
	}
}

// TestDockerBuild_OtherAppsImagesAreRefused: FROM and COPY --from of
// another app's local image are refused before the build; the app's own
// images and registry images are not.
func TestDockerBuild_OtherAppsImagesAreRefused(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	ctx := context.Background()
	victim, attacker := testName(t), testName(t)
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\n"), Tags: []string{victim + ":7"},
		Labels: map[string]string{LabelApp: victim}}, nil); err != nil {
		t.Fatal(err)
	}
	inspect, err := d.cli.ImageInspect(ctx, victim+":7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\n"), Tags: []string{attacker + ":1"},
		Labels: map[string]string{LabelApp: attacker}}, nil); err != nil {
		t.Fatal(err)
	}
	build := func(df string, args map[string]string) error {
		_, err := d.Build(ctx, BuildSpec{Dir: appContext(t, df), Tags: []string{attacker + ":2"}, BuildArgs: args,
			Labels: map[string]string{LabelApp: attacker}}, nil)
		return err
	}
	refused := []struct{ df, line string }{
		{"FROM " + victim + ":7\n", "Dockerfile line 1 (FROM " + victim + ":7)"},
		{"ARG BASE=" + victim + "\nFROM ${BASE}:7 AS b\n", "Dockerfile line 2 (FROM ${BASE}:7 AS b)"},
		{"FROM docker.io/library/" + victim + ":7\n", "line 1"},
		{"FROM " + strings.TrimPrefix(inspect.ID, "sha256:")[:12] + "\n", "line 1"},
		{"FROM scratch\nCOPY --from=" + victim + ":7 /app /app\n", "Dockerfile line 2 (COPY --from="},
		{"ARG V\nFROM $V\n", "line 2"}, // with the build arg below
	}
	for i, tc := range refused {
		var args map[string]string
		if i == len(refused)-1 {
			args = map[string]string{"V": victim + ":7"}
		}
		err := build(tc.df, args)
		if !errors.Is(err, ErrForeignImage) || !strings.Contains(err.Error(), tc.line) || !strings.Contains(err.Error(), "app "+victim+"'s") {
			t.Errorf("%q: err = %v, want a refusal naming %q", tc.df, err, tc.line)
		}
	}
	if d.HasImage(ctx, attacker+":2") {
		t.Error("a refused build left an image")
	}
	// The second check, on what the engine reports it used, refuses too
	// and removes what was built.
	if _, err := d.Build(ctx, BuildSpec{Dir: appContext(t, "FROM scratch\nCOPY app /app\n"), Tags: []string{attacker + ":3"},
		Labels: map[string]string{LabelApp: attacker}}, nil); err != nil {
		t.Fatal(err)
	}
	tracker := &buildTracker{bases: []baseImage{{id: inspect.ID[7:19], step: "Step 1/2 : FROM sneaky"}}}
	err = d.checkBuiltBases(ctx, tracker, BuildSpec{Tags: []string{attacker + ":3"}, Labels: map[string]string{LabelApp: attacker}})
	if !errors.Is(err, ErrForeignImage) || !strings.Contains(err.Error(), "Dockerfile step 1/2 (FROM sneaky)") || d.HasImage(ctx, attacker+":3") {
		t.Errorf("post-build check: %v (image left: %v)", err, d.HasImage(ctx, attacker+":3"))
	}
	// Its own earlier image, a stage and scratch are fine.
	if err := build("FROM "+attacker+":1 AS own\nFROM scratch\nCOPY --from=own /app /app\n", nil); err != nil {
		t.Errorf("own image refused: %v", err)
	}
	// A registry image is not refused (it cannot be pulled here: the error
	// is the engine's, not a refusal).
	if err := build("FROM registry.invalid/someone/base:1\n", nil); errors.Is(err, ErrForeignImage) {
		t.Errorf("registry image refused: %v", err)
	}
}

// TestDockerBuild_ResourceLimits: BuildSpec's limits reach the containers
// the build steps run in (their cgroup says so).
func TestDockerBuild_ResourceLimits(t *testing.T) {
	d := testDocker(t)
	t.Parallel()
	df := "FROM scratch\nCOPY app /app\n"
	// cgroup v2 files, then v1's (this CI host has v1).
	for _, f := range []string{"memory.max", "cpu.max", "memory/memory.limit_in_bytes", "cpu/cpu.cfs_quota_us"} {
		df += fmt.Sprintf("RUN [\"/app\", \"-cat\", \"/sys/fs/cgroup/%s\"]\n", f)
	}
	dir := appContext(t, df)
	logs := &testkit.LogRecorder{}
	_, err := d.Build(context.Background(), BuildSpec{Dir: dir, NoCache: true, Tags: []string{testName(t) + ":v1"},
		MemoryBytes: 96 << 20, NanoCPUs: 500_000_000}, logs.Log)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.All())
	}
	v2 := logs.Contains("100663296") && logs.Contains("50000 100000")
	v1 := logs.Contains("100663296") && logs.Contains("50000")
	if !v2 && !v1 {
		t.Errorf("a build step's cgroup does not show 96 MiB and half a CPU:\n%s", logs.All())
	}
}
