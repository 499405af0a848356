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
// FROM scratch, COPY the binary, ENV with a fresh value, ENTRYPOINT. Runs
// alternate between an app build as it is now (no label) and as it was
// (the dokploy.image label: one more LABEL step), so both see the same
// load; it reports the median of each. It only runs when
// DOKPLOY_BUILD_TIMING=<runs per variant> is set: the numbers are for a
// person, not a pass/fail.
func TestDockerBuild_Timing(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("DOKPLOY_BUILD_TIMING"))
	if runs <= 0 {
		t.Skip("set DOKPLOY_BUILD_TIMING=<runs> to time builds")
	}
	d := testDocker(t)
	repo := testName(t)
	dir := t.TempDir()
	buildTestApp(t, dir)
	took := map[bool][]time.Duration{}
	for i := 0; i < 2*runs+1; i++ { // run 0 warms the cache (COPY app)
		labelled := i%2 == 0
		df := fmt.Sprintf("FROM scratch\nCOPY app /app\nENV X=%d-%d\nENTRYPOINT [\"/app\"]\n", time.Now().UnixNano(), i)
		mustWrite(t, filepath.Join(dir, "Dockerfile"), df)
		spec := BuildSpec{Dir: dir, Tags: []string{fmt.Sprintf("%s:%d", repo, i)}}
		if labelled {
			spec.Labels = map[string]string{LabelImageRepo: repo} // what buildOptions added before
		}
		logs := &testkit.LogRecorder{}
		start := time.Now()
		if _, err := d.Build(context.Background(), spec, logs.Log); err != nil {
			t.Fatalf("%v\n%s", err, logs.All())
		}
		elapsed := time.Since(start)
		if i <= 2 {
			t.Logf("build log (labelled %v):\n%s", labelled, logs.All())
		}
		if i > 0 {
			took[labelled] = append(took[labelled], elapsed)
		}
	}
	for _, labelled := range []bool{true, false} {
		list := took[labelled]
		t.Logf("labelled %v: runs %v", labelled, list)
		slices.Sort(list)
		t.Logf("labelled %v: median of %d builds %s (min %s, max %s)", labelled, len(list), list[len(list)/2].Round(time.Millisecond),
			list[0].Round(time.Millisecond), list[len(list)-1].Round(time.Millisecond))
	}
}
