package safefile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("marker"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(root, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("sub/file", "inside")
	write("big", strings.Repeat("x", 2000))
	link(outside, "abs-out")
	link("../../"+filepath.Base(filepath.Dir(outside))+"/secret", "rel-out")
	link("sub/file", "in-link")
	link("/", "rootdir")
	link("loop", "loop")
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, ok := range []string{"sub/file", "in-link", "sub/../in-link"} {
		got, err := ReadFile(ctx, root, ok, 100)
		if err != nil || string(got) != "inside" {
			t.Errorf("%s: %q %v", ok, got, err)
		}
	}
	cases := []struct {
		rel  string
		want error
		text string
	}{
		{"abs-out", ErrOutside, "abs-out refused: it leads outside the repository"},
		{"rel-out", ErrOutside, "rel-out refused"},
		{"rootdir/etc/passwd", ErrOutside, "rootdir/etc/passwd refused"},
		{"../x", ErrOutside, "refused"},
		{"fifo", ErrNotRegular, "fifo: not a regular file (a FIFO)"},
		{"sub", ErrNotRegular, "a directory"},
		{"big", ErrTooLarge, "big is larger than 1000 B"},
		{"missing", fs.ErrNotExist, "missing"},
		{"loop", nil, "loop refused"},
	}
	for _, tc := range cases {
		start := time.Now()
		got, err := ReadFile(ctx, root, tc.rel, 1000)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %q, err %v; want %v containing %q", tc.rel, got, err, tc.want, tc.text)
		}
		if got != nil && strings.Contains(string(got), "marker") {
			t.Errorf("%s leaked the outside file", tc.rel)
		}
		if time.Since(start) > time.Second {
			t.Errorf("%s took %s", tc.rel, time.Since(start))
		}
	}
	if _, err := ReadFile(ctx, root, "big", MaxSize); err != nil {
		t.Error(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ReadFile(cctx, root, "sub/file", 100); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v", err)
	}

	if err := CheckDir(root, "sub"); err != nil {
		t.Error(err)
	}
	if err := CheckDir(root, "rootdir"); !errors.Is(err, ErrOutside) {
		t.Errorf("symlinked dir to /: %v", err)
	}
	if err := CheckDir(root, "sub/file"); err == nil {
		t.Error("a file is not a directory")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 20: "1 MiB", 16 << 10: "16 KiB", 5 << 20: "5 MiB", 512: "512 B", 1536 << 10: "1.5 MiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
