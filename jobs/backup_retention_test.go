package jobs

import (
	"sort"
	"testing"
	"time"

	"dokploy/db"
)

// runsAt makes successful runs finished at the given times, newest first
// as RetentionCandidates returns them; ids follow the order of times.
func runsAt(times ...time.Time) []db.BackupRun {
	out := make([]db.BackupRun, len(times))
	for i, t := range times {
		at := t
		out[i] = db.BackupRun{ID: int64(i + 1), FinishedAt: &at, SHA256: "x"}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FinishedAt.After(*out[j].FinishedAt) })
	return out
}

func kept(keep map[int64]bool) []int64 {
	var ids []int64
	for id := range keep {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func TestRetentionKeep(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	// Four runs a day for three days: ids 1..12, oldest first.
	var times []time.Time
	for d := 1; d <= 3; d++ {
		for h := 0; h < 4; h++ {
			times = append(times, day(d, 6*h))
		}
	}
	runs := runsAt(times...)
	for _, tc := range []struct {
		name string
		p    Retention
		want []int64
	}{
		{"last two", Retention{Last: 2}, []int64{11, 12}},
		{"last one and two days", Retention{Last: 1, Daily: 2}, []int64{8, 12}},
		{"daily covers all days", Retention{Last: 1, Daily: 5}, []int64{4, 8, 12}},
		{"zero keeps the newest", Retention{}, []int64{12}},
		{"one month", Retention{Last: 1, Monthly: 1}, []int64{12}},
	} {
		got := kept(RetentionKeep(runs, tc.p, time.UTC))
		if len(got) != len(tc.want) {
			t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	if got := RetentionKeep(nil, Retention{Last: 3}, time.UTC); len(got) != 0 {
		t.Errorf("no runs: kept %v", got)
	}
}

func TestRetentionKeepDaysInTimeZone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	// 14:00 and 16:00 UTC on the same UTC day are two days in Tokyo (+9).
	runs := runsAt(time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 16, 0, 0, 0, time.UTC))
	if got := kept(RetentionKeep(runs, Retention{Last: 1, Daily: 2}, tokyo)); len(got) != 2 {
		t.Errorf("Tokyo days: kept %v, want both", got)
	}
	if got := kept(RetentionKeep(runs, Retention{Last: 1, Daily: 2}, time.UTC)); len(got) != 1 {
		t.Errorf("UTC day: kept %v, want one", got)
	}
}

func TestObjectKeyNamesDatabaseTimeAndFormat(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if got, want := ObjectKey("prod", "shop-db", at, 31, ".dump"), "prod/shop-db/shop-db-20261202T020405Z-31.dump"; got != want {
		t.Errorf("ObjectKey = %q, want %q", got, want)
	}
	if got, want := ObjectKey("", "cache", at, 7, ".rdb"), "cache/cache-20261202T020405Z-7.rdb"; got != want {
		t.Errorf("ObjectKey = %q, want %q", got, want)
	}
}
