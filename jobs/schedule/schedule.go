// Package schedule reads the 5-field cron expressions of backup plans in a
// time zone, and tells when a schedule next fires and whether it was
// missed.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Presets are the schedules the UI offers by name.
var Presets = []Preset{
	{Name: "hourly", Cron: "0 * * * *", Label: "Every hour"},
	{Name: "daily", Cron: "0 3 * * *", Label: "Every day at 03:00"},
	{Name: "weekly", Cron: "0 3 * * 0", Label: "Every Sunday at 03:00"},
}

// Preset is a named schedule.
type Preset struct{ Name, Cron, Label string }

// Schedule is a parsed cron expression in its time zone.
type Schedule struct {
	spec cron.Schedule
	loc  *time.Location
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Parse reads a 5-field cron expression ("minute hour day month weekday")
// or a preset name, in the IANA time zone tz ("" is UTC). It returns the
// expression to store (presets expanded).
func Parse(expr, tz string) (Schedule, string, error) {
	expr = strings.Join(strings.Fields(expr), " ")
	for _, p := range Presets {
		if expr == p.Name || expr == "@"+p.Name {
			expr = p.Cron
		}
	}
	if expr == "" {
		return Schedule{}, "", errors.New("the schedule is empty")
	}
	if strings.ContainsAny(expr, "\r\n\x00") || strings.HasPrefix(expr, "CRON_TZ") || strings.HasPrefix(expr, "TZ=") {
		return Schedule{}, "", errors.New("the schedule must be 5 cron fields; set the time zone separately")
	}
	if n := len(strings.Fields(expr)); n != 5 {
		return Schedule{}, "", fmt.Errorf("the schedule %q has %d fields; cron needs 5: minute hour day-of-month month day-of-week (e.g. \"0 3 * * *\" is every day at 03:00)", expr, n)
	}
	spec, err := parser.Parse(expr)
	if err != nil {
		return Schedule{}, "", fmt.Errorf("the schedule %q is not valid cron: %v", expr, err)
	}
	loc, err := Location(tz)
	if err != nil {
		return Schedule{}, "", err
	}
	s := Schedule{spec: spec, loc: loc}
	if s.Next(time.Now()).IsZero() {
		return Schedule{}, "", fmt.Errorf("the schedule %q never fires", expr)
	}
	return s, expr, nil
}

// Location loads an IANA time zone ("Europe/Paris"); "" is UTC.
func Location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if len(tz) > 64 || strings.ContainsAny(tz, " \r\n\x00") || strings.Contains(tz, "..") {
		return nil, fmt.Errorf("unknown time zone %q", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as UTC or Europe/Paris)", tz)
	}
	return loc, nil
}

// Next is the first time after t the schedule fires.
func (s Schedule) Next(t time.Time) time.Time { return s.spec.Next(t.In(s.loc)) }

// Interval is the gap between the next two firings after t: the expected
// distance between two backups.
func (s Schedule) Interval(t time.Time) time.Duration {
	a := s.Next(t)
	return s.Next(a).Sub(a)
}

// Missed reports whether a schedule that has been running since since
// went without a success (last, or nil) for more than twice its interval.
func (s Schedule) Missed(now, since time.Time, last *time.Time) bool {
	ref := since
	if last != nil && last.After(ref) {
		ref = *last
	}
	return now.Sub(ref) > 2*s.Interval(ref)
}
