// Package safefile reads files of a checkout (a cloned repository) that the
// product itself looks at: .dockerignore, the Dockerfile, compose files. The
// checkout is hostile input, so a read is confined to the checkout by
// construction (os.Root: no symlink or ".." may lead out of it), takes only
// regular files (never a device, FIFO or socket, which could block or have
// side effects), is bounded in size and stops when its context ends.
package safefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxSize is the size limit callers use for the files they inspect. Every
// one of them is a small text file; a bigger one is an attack or a mistake.
const MaxSize = 1 << 20

// ErrOutside is returned (wrapped) when a path leads outside the root,
// through ".." or a symlink.
var ErrOutside = errors.New("it leads outside the repository (through a symlink or ..)")

// ErrNotRegular is returned (wrapped) for directories, devices, FIFOs and
// sockets.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned (wrapped) when the file exceeds the limit.
var ErrTooLarge = errors.New("file too large")

// chunk is how much is read between two checks of the context.
const chunk = 64 << 10

// ReadFile reads the file rel (slash-separated, relative to root) and returns
// its content. It fails with an error naming rel when the path or a symlink
// on it leads outside root (ErrOutside), when the file is not a regular file
// (ErrNotRegular), when it is larger than limit bytes (ErrTooLarge: "<rel> is
// larger than 1 MiB"), or when ctx ends. A missing file is reported with an
// error matching fs.ErrNotExist.
func ReadFile(ctx context.Context, root, rel string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open checkout: %w", err)
	}
	defer r.Close()
	return readIn(ctx, r, rel, limit)
}

func readIn(ctx context.Context, r *os.Root, rel string, limit int64) ([]byte, error) {
	name := filepath.FromSlash(rel)
	// Check the type before opening: opening a FIFO blocks until a writer
	// comes, and opening a device can have side effects.
	st, err := r.Stat(name)
	if err != nil {
		return nil, describe(rel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", rel, ErrNotRegular, kind(st.Mode()))
	}
	// O_NONBLOCK: should the file have been swapped for a FIFO since the
	// check, the open still returns at once and the check below refuses it.
	f, err := r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, describe(rel, err)
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", rel, ErrNotRegular, kind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, tooLarge(rel, limit)
	}
	var out []byte
	buf := make([]byte, chunk)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if int64(len(out)) > limit {
			return nil, tooLarge(rel, limit) // it grew since the Stat
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", rel, err)
		}
	}
}

// CheckDir reports whether the directory rel (relative to root) is inside
// root, following symlinks only while they stay inside it.
func CheckDir(root, rel string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("open checkout: %w", err)
	}
	defer r.Close()
	st, err := r.Stat(filepath.FromSlash(rel))
	if err != nil {
		return describe(rel, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: not a directory", rel)
	}
	return nil
}

func describe(rel string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	}
	// os.Root's "path escapes from parent" is not exported; recognise it
	// by its text (a unit test pins it).
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return fmt.Errorf("%s refused: %w", rel, ErrOutside)
		}
	}
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%s refused: too many levels of symlinks", rel)
	}
	return fmt.Errorf("%s: %w", rel, err)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

func tooLarge(rel string, limit int64) error {
	return fmt.Errorf("%s is larger than %s: %w", rel, Size(limit), ErrTooLarge)
}

// Size formats a byte count as people read it: "1 MiB", "16 KiB", "512 B".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
