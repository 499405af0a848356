package linewriter

import (
	"reflect"
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
