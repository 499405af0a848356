package docker

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dokploy/e2e/testkit"
)

// BenchmarkDockerBuild_Label times Build of a small app build whose last
// instruction changes every run (what a deploy after a code change sees):
// FROM scratch, COPY the binary, ENV with a fresh value, ENTRYPOINT. Runs
// alternate between an app build as it is now (no label) and as it was
// (the dokploy.image label: one more LABEL step), so both see the same
// load; it reports the median of each (b.N builds per variant):
//
//	DOKPLOY_INTEGRATION=1 go test -run '^$' -bench DockerBuild_Label -benchtime 15x ./jobs/docker/
func BenchmarkDockerBuild_Label(b *testing.B) {
	t, runs := b, b.N
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
		if i > 0 {
			took[labelled] = append(took[labelled], elapsed)
		}
	}
	for _, labelled := range []bool{true, false} {
		list := took[labelled]
		slices.Sort(list)
		unit := "median-ms-no-label"
		if labelled {
			unit = "median-ms-label"
		}
		b.ReportMetric(float64(list[len(list)/2].Microseconds())/1000, unit)
	}
}
