package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The probe copy is rewritten only when its bytes differ from the binary.
func TestSameContent(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := bytes.Repeat([]byte("dokploy"), 50_000) // spans several 64 KiB chunks
	lastByte := append(bytes.Clone(big[:len(big)-1]), 'X')
	a, same, last, short := write("a", big), write("b", bytes.Clone(big)), write("c", lastByte), write("d", big[:1000])
	for _, tc := range []struct {
		name string
		b    string
		want bool
	}{{"identical", same, true}, {"last byte differs", last, false}, {"shorter", short, false}} {
		got, err := sameContent(a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%s: sameContent = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := sameContent(a, filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing copy is not an error")
	}
}
