package ops

import (
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// DiffLine is one line of a line diff: Op is "+" (added), "-" (removed)
// or " " (unchanged context).
type DiffLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// diffContext is how many unchanged lines are kept around a change.
const diffContext = 3

// LineDiff compares two texts line by line and returns the changed lines
// with a few lines of context; unchanged runs further away are dropped
// (a "…" line marks each gap). Equal texts give no lines.
func LineDiff(before, after string) []DiffLine {
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToChars(before, after)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	var all []DiffLine
	for _, d := range diffs {
		op := map[diffmatchpatch.Operation]string{diffmatchpatch.DiffInsert: "+", diffmatchpatch.DiffDelete: "-", diffmatchpatch.DiffEqual: " "}[d.Type]
		for _, line := range strings.SplitAfter(d.Text, "\n") {
			if line != "" {
				all = append(all, DiffLine{Op: op, Text: strings.TrimSuffix(line, "\n")})
			}
		}
	}
	keep := make([]bool, len(all))
	changed := false
	for i, l := range all {
		if l.Op == " " {
			continue
		}
		changed = true
		for j := max(0, i-diffContext); j <= min(len(all)-1, i+diffContext); j++ {
			keep[j] = true
		}
	}
	if !changed {
		return []DiffLine{}
	}
	out := []DiffLine{}
	gap := false
	for i, l := range all {
		if !keep[i] {
			gap = true
			continue
		}
		if gap && len(out) > 0 {
			out = append(out, DiffLine{Op: " ", Text: "…"})
		}
		gap = false
		out = append(out, l)
	}
	return out
}
