package views

import (
	"bytes"
	"strings"
	"testing"
)

// TestChartAssets_OnlyOnChartPages: the chart library loads on the pages
// that draw charts and on no other.
func TestChartAssets_OnlyOnChartPages(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []struct {
		name   string
		charts bool
	}{{"server", true}, {"settings", false}, {"login", false}, {"api", false}} {
		var buf bytes.Buffer
		err := r.Page(&buf, page.name, &Page{Title: page.name, Version: "test"})
		if err != nil && buf.Len() == 0 {
			t.Fatalf("%s: %v", page.name, err)
		}
		if got := strings.Contains(buf.String(), "uPlot.iife.min.js"); got != page.charts {
			t.Errorf("%s page loads uPlot: %v, want %v", page.name, got, page.charts)
		}
	}
}
