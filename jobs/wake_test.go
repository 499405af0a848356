package jobs

import (
	"context"
	"sort"
	"testing"
	"time"
)

// idleBackoff is long enough for every idle worker to have reached the
// library's 5 s polling step (0+10+100+1000 ms of empty fetches).
const idleBackoff = 1500 * time.Millisecond

// TestWake_IdlePoolPicksUpAtOnce: a deployment queued while the pool has
// been idle long enough to poll only every 5 s is still picked up at once,
// because Enqueue wakes the local workers. Without the wake the next poll
// is about 4.6 s away; the bound leaves room for a slow machine.
func TestWake_IdlePoolPicksUpAtOnce(t *testing.T) {
	rig := newFakeRig(t)
	rig.start(1)
	app := rig.newGitApp("wake")
	for i := 1; i <= 2; i++ {
		time.Sleep(idleBackoff)
		d := rig.deploy(app)
		rig.engine.WaitEntered(t, "Clone", i, 3*time.Second)
		rig.wait(d.ID)
	}
}

// BenchmarkQueuePickup measures enqueue → first engine call of the
// deployment on an idle pool, with the wake and with the library's polling
// alone, in the same run. go test -run '^$' -bench QueuePickup -benchtime 10x ./jobs/
func BenchmarkQueuePickup(b *testing.B) {
	for _, mode := range []struct {
		name string
		wake bool
	}{{"wake", true}, {"polling", false}} {
		b.Run(mode.name, func(b *testing.B) {
			rig := newFakeRig(b)
			if !mode.wake {
				rig.runner.wake = nil
			}
			rig.start(1)
			app := rig.newGitApp("pickup")
			var took []time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				time.Sleep(idleBackoff)
				d := rig.create(app)
				b.StartTimer()
				start := time.Now()
				if err := rig.runner.Enqueue(context.Background(), d.ID); err != nil {
					b.Fatal(err)
				}
				rig.engine.WaitEntered(b, "Clone", i+1, 10*time.Second)
				took = append(took, time.Since(start))
				b.StopTimer()
				rig.wait(d.ID)
			}
			reportPercentiles(b, took)
		})
	}
}

// reportPercentiles adds p50 and p99 (ms) to a benchmark's output.
func reportPercentiles(b *testing.B, took []time.Duration) {
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	at := func(q float64) float64 {
		return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
