package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, tz, want, err string }{
		{in: "0 3 * * *", want: "0 3 * * *"},
		{in: "  0   3 * * * ", want: "0 3 * * *"},
		{in: "daily", want: "0 3 * * *"},
		{in: "@hourly", want: "0 * * * *"},
		{in: "*/15 * * * 1-5", tz: "Europe/Paris", want: "*/15 * * * 1-5"},
		{in: "", err: "empty"},
		{in: "0 3 * *", err: "has 4 fields"},
		{in: "0 0 3 * * *", err: "has 6 fields"},
		{in: "61 * * * *", err: "not valid cron"},
		{in: "CRON_TZ=UTC 0 3 * * *", err: "time zone separately"},
		{in: "0 3 * * *", tz: "Mars/Olympus", err: "unknown time zone"},
		{in: "0 3 * * *", tz: "../../etc/passwd", err: "unknown time zone"},
		{in: "0 0 30 2 *", err: "never fires"},
	} {
		_, got, err := Parse(tc.in, tc.tz)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q, %q) = %v, want error containing %q", tc.in, tc.tz, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q, %q) = %q, %v; want %q", tc.in, tc.tz, got, err, tc.want)
		}
	}
}

func TestNextHonoursTimeZone(t *testing.T) {
	s, _, err := Parse("0 3 * * *", "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	next := s.Next(from).UTC()
	// 03:00 in New York in July is 07:00 UTC (EDT, UTC-4).
	if want := time.Date(2026, 7, 2, 7, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("next = %s, want %s", next, want)
	}
	if got := s.Interval(from); got != 24*time.Hour {
		t.Fatalf("interval = %s, want 24h", got)
	}
}

func TestMissed(t *testing.T) {
	s, _, _ := Parse("hourly", "")
	now := time.Date(2026, 7, 1, 12, 30, 0, 0, time.UTC)
	recent := now.Add(-90 * time.Minute)
	old := now.Add(-3 * time.Hour)
	if s.Missed(now, recent, nil) {
		t.Error("a plan created 90 min ago with an hourly schedule is not missed yet")
	}
	if !s.Missed(now, old, nil) {
		t.Error("a plan created 3 h ago without a success is missed")
	}
	if s.Missed(now, old, &recent) {
		t.Error("a success 90 min ago is within twice the interval")
	}
	if !s.Missed(now, old.Add(-time.Hour), &old) {
		t.Error("a last success 3 h ago on an hourly schedule is missed")
	}
}
