// Package voltar writes a directory tree as a tar stream and extracts one
// back, for volume backups. It runs inside a helper container (as the
// hidden `dokploy volume-tar` and `dokploy volume-untar` subcommands of the
// static binary mounted there), so it needs nothing from the image.
//
// Write stores regular files, directories and symbolic links (as links,
// never followed) with their modes, owners and modification times; other
// kinds (sockets, devices, pipes) are skipped with a warning. Extract
// empties the directory first and then recreates the stream's entries
// through an os.Root, so no entry can write outside the directory:
// absolute names and names with ".." are refused, and so are hard links
// that point outside; symbolic links are recreated as they were (the app
// reads them in its own file system) but never followed.
package voltar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Write writes the tree under root to w as a tar stream; warn receives a
// line for each entry skipped.
func Write(w io.Writer, root string, warn func(string)) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info() // Lstat: a link is itself, not its target
		if err != nil {
			return err
		}
		link := ""
		switch mode := info.Mode(); {
		case mode.IsRegular(), mode.IsDir():
		case mode&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			warn(fmt.Sprintf("skipped %s: a %s is not backed up", rel, kind(mode)))
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX // long names, exact times
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err != nil {
			return fmt.Errorf("read %s: %w", rel, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("%s changed size while it was read (%d of %d bytes): stop the app during the backup", rel, n, hdr.Size)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// ErrUnsafeEntry is returned (wrapped) for an entry that would land
// outside the directory.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// cleanName checks a name of the stream and returns it relative to the
// root, "" for the root itself.
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return "", fmt.Errorf("%w: %q is an absolute path", ErrUnsafeEntry, name)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: %q climbs out with ..", ErrUnsafeEntry, name)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// Extract empties dir and extracts the tar stream r into it. An unsafe
// entry stops it with ErrUnsafeEntry; what was extracted until then stays.
func Extract(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := empty(root); err != nil {
		return fmt.Errorf("empty %s: %w", dir, err)
	}
	type dirMeta struct {
		name string
		mode fs.FileMode
		at   time.Time
	}
	// Set last: creating entries changes a directory's time, and a
	// read-only directory could not take them.
	var dirs []dirMeta
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the archive: %w", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if parent := path.Dir(name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		mode := fs.FileMode(hdr.Mode).Perm() | fs.FileMode(hdr.Mode)&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			_ = root.Lchown(name, hdr.Uid, hdr.Gid)
			dirs = append(dirs, dirMeta{name, mode, hdr.ModTime})
			continue
		case tar.TypeReg:
			if err := extractFile(root, name, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
			_ = root.Lchown(name, hdr.Uid, hdr.Gid)
			continue
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil || target == "" {
				return fmt.Errorf("%w: the hard link %q points at %q, outside", ErrUnsafeEntry, hdr.Name, hdr.Linkname)
			}
			if err := root.Link(target, name); err != nil {
				return err
			}
			continue
		default:
			continue // the writer never makes other kinds
		}
		_ = root.Lchown(name, hdr.Uid, hdr.Gid) // needs root; a plain user keeps its own
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
		if err := root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
			return err
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- { // deepest first
		if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
			return err
		}
		if err := root.Chtimes(dirs[i].name, dirs[i].at, dirs[i].at); err != nil {
			return err
		}
	}
	return nil
}

func extractFile(root *os.Root, name string, r io.Reader) error {
	// O_EXCL: a name already there (a link of an earlier entry) is never
	// written through.
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}

// empty removes everything inside root, keeping root itself (it is the
// mount point of the volume).
func empty(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := root.RemoveAll(e.Name()); err != nil {
			return err
		}
	}
	return nil
}
