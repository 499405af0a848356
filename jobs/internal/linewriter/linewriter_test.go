package linewriter

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestWriter_SplitsLinesAndThrottlesProgress(t *testing.T) {
	var got []string
	w := New(func(l string) { got = append(got, l) }, time.Hour)
	_, _ = w.Write([]byte("one\ntw"))
	_, _ = w.Write([]byte("o  \n10%\r20%\r\n\nlast"))
	w.Flush()
	want := []string{"one", "two", "10%", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if _, err := New(nil, 0).Write([]byte("nil log discards\n")); err != nil {
		t.Error(err)
	}
}

func TestWriter_CutsLongLinesWithoutBuffering(t *testing.T) {
	var got []string
	w := New(func(l string) { got = append(got, l) }, 0)
	chunk := []byte(strings.Repeat("y", 4096))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _ = w.Write([]byte("short\nlong:"))
	for i := 0; i < 50<<20/len(chunk); i++ { // one 50 MB line
		_, _ = w.Write(chunk)
	}
	_, _ = w.Write([]byte("tail of the long line\nnext\n"))
	// A line exactly at the limit is kept whole; one byte more is cut.
	_, _ = w.Write([]byte(strings.Repeat("z", MaxLine) + "\n" + strings.Repeat("z", MaxLine+1) + "\n"))
	// A cut never splits a character.
	_, _ = w.Write([]byte(strings.Repeat("a", MaxLine-1) + "é and more\n"))
	w.Flush()
	runtime.ReadMemStats(&after)
	if len(got) != 6 {
		t.Fatalf("%d lines, want 6", len(got))
	}
	if got[0] != "short" || got[2] != "next" {
		t.Errorf("lines around the cut: %q %q", got[0], got[2])
	}
	want := "long:" + strings.Repeat("y", MaxLine-5) + CutMarker
	if got[1] != want {
		t.Errorf("cut line: %d bytes ending %q", len(got[1]), got[1][len(got[1])-40:])
	}
	if got[3] != strings.Repeat("z", MaxLine) || got[4] != strings.Repeat("z", MaxLine)+CutMarker {
		t.Errorf("limit lines: %d %d bytes", len(got[3]), len(got[4]))
	}
	if got[5] != strings.Repeat("a", MaxLine-1)+CutMarker {
		t.Errorf("utf-8 cut: ...%q", got[5][len(got[5])-30:])
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("heap grew by %d bytes for a 50 MB line", grew)
	}
	if Cut("abc") != "abc" || Cut(strings.Repeat("q", MaxLine+10)) != strings.Repeat("q", MaxLine)+CutMarker {
		t.Error("Cut")
	}
}
