package voltar

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteExtract_RoundTrip(t *testing.T) {
	src := t.TempDir()
	at := time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "a", "b"), 0o750))
	must(os.WriteFile(filepath.Join(src, "a", "b", "note.txt"), []byte("hello"), 0o640))
	must(os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Symlink("a/b/note.txt", filepath.Join(src, "link")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "outside"))) // kept as a link, never followed
	must(os.Chtimes(filepath.Join(src, "a", "b", "note.txt"), at, at))
	must(os.Chtimes(filepath.Join(src, "a"), at, at))

	var buf bytes.Buffer
	var warnings []string
	must(Write(&buf, src, func(s string) { warnings = append(warnings, s) }))
	if len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings)
	}

	dst := t.TempDir()
	must(os.WriteFile(filepath.Join(dst, "stale"), []byte("old"), 0o644)) // emptied first
	must(Extract(&buf, dst))

	if _, err := os.Lstat(filepath.Join(dst, "stale")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale file still there: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dst, "a", "b", "note.txt"))
	if err != nil || string(data) != "hello" {
		t.Fatalf("note.txt = %q, %v", data, err)
	}
	st, _ := os.Stat(filepath.Join(dst, "a", "b", "note.txt"))
	if st.Mode().Perm() != 0o640 || !st.ModTime().Equal(at) {
		t.Errorf("note.txt mode %v mtime %v, want 0640 %v", st.Mode().Perm(), st.ModTime(), at)
	}
	if st, _ := os.Stat(filepath.Join(dst, "run.sh")); st.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Join(dst, "a")); st.Mode().Perm() != 0o750 || !st.ModTime().Equal(at) {
		t.Errorf("dir a mode %v mtime %v", st.Mode().Perm(), st.ModTime())
	}
	for link, want := range map[string]string{"link": "a/b/note.txt", "outside": "/etc/passwd"} {
		got, err := os.Readlink(filepath.Join(dst, link))
		if err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
		}
	}
}

func TestExtract_RefusesUnsafeEntries(t *testing.T) {
	cases := []struct {
		name string
		hdr  tar.Header
	}{
		{"parent", tar.Header{Name: "../x", Typeflag: tar.TypeReg, Mode: 0o644}},
		{"nested parent", tar.Header{Name: "a/../../x", Typeflag: tar.TypeReg, Mode: 0o644}},
		{"absolute", tar.Header{Name: "/etc/x", Typeflag: tar.TypeReg, Mode: 0o644}},
		{"hard link out", tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			if err := tw.WriteHeader(&tc.hdr); err != nil {
				t.Fatal(err)
			}
			tw.Close()
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := Extract(&buf, dir); !errors.Is(err, ErrUnsafeEntry) {
				t.Fatalf("Extract = %v, want ErrUnsafeEntry", err)
			}
			if _, err := os.Lstat(filepath.Join(parent, "x")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an entry landed outside the directory")
			}
		})
	}
}

func TestExtract_NeverWritesThroughALink(t *testing.T) {
	outside := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: outside})
	_ = tw.WriteHeader(&tar.Header{Name: "esc/pwned", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	_, _ = tw.Write([]byte("hi"))
	tw.Close()
	if err := Extract(&buf, t.TempDir()); err == nil {
		t.Fatal("a file was written through a symlink out of the directory")
	}
	if _, err := os.Lstat(filepath.Join(outside, "pwned")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("pwned landed outside")
	}
}
