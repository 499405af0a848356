package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"dokploy/e2e/testkit"
)

// TestDockerBuild_Timing times Build of a small app build whose last
// instruction changes every run (what a deploy after a code change sees):
// FROM scratch, COPY the binary, ENV with a fresh value, ENTRYPOINT. It
// reports every run and the median. It only runs when
// DOKPLOY_BUILD_TIMING=<runs> is set: the numbers are for a person.
func TestDockerBuild_Timing(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("DOKPLOY_BUILD_TIMING"))
	if runs <= 0 {
		t.Skip("set DOKPLOY_BUILD_TIMING=<runs> to time builds")
	}
	d := testDocker(t)
	repo := testName(t)
	dir := t.TempDir()
	buildTestApp(t, dir)
	var took []time.Duration
	for i := 0; i <= runs; i++ { // run 0 warms the cache (COPY app)
		df := fmt.Sprintf("FROM scratch\nCOPY app /app\nENV X=%d-%d\nENTRYPOINT [\"/app\"]\n", time.Now().UnixNano(), i)
		mustWrite(t, filepath.Join(dir, "Dockerfile"), df)
		logs := &testkit.LogRecorder{}
		start := time.Now()
		if _, err := d.Build(context.Background(), BuildSpec{Dir: dir, Tags: []string{fmt.Sprintf("%s:%d", repo, i)}}, logs.Log); err != nil {
			t.Fatalf("%v\n%s", err, logs.All())
		}
		if i == 0 {
			t.Logf("build log of the warm-up run:\n%s", logs.All())
			continue
		}
		took = append(took, time.Since(start))
	}
	t.Logf("runs: %v", took)
	slices.Sort(took)
	t.Logf("median of %d builds: %s (min %s, max %s)", len(took), took[len(took)/2].Round(time.Millisecond),
		took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}
