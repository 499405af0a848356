package traefik

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Temp files start with this prefix and end in ".tmp": Traefik only reads
// .yml/.yaml/.toml, so a temp file in the watched directory is invisible to
// it, and a rename within one directory is atomic.
const (
	tmpPrefix = ".dokploy-"
	tmpSuffix = ".tmp"
	fileExt   = ".yml"
)

// Dir manages the file provider's watched directory: one <app>.yml per app
// with at least one enabled domain. Files whose first line is the Marker are
// ours; every other file ("foreign", e.g. hand-written) is never touched.
// All methods are safe for concurrent use; they serialize on one mutex so a
// Reconcile never interleaves with a Write.
type Dir struct {
	path string
	mu   sync.Mutex
	// internal files (name → content) are the platform's own, not an app's:
	// Reconcile writes and keeps them.
	internal map[string][]byte
}

// SetInternal writes the platform's own file name.yml (its content starts
// with Marker(name)) and keeps it across Reconcile. Names start with
// "dokploy", which app names may not.
func (d *Dir) SetInternal(name string, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.internal == nil {
		d.internal = map[string][]byte{}
	}
	d.internal[name] = data
	_, err := d.write(name, data)
	return err
}

// Current is name.yml as it is on disk, nil when it cannot be read.
func (d *Dir) Current(name string) []byte {
	data, err := os.ReadFile(filepath.Join(d.path, name+fileExt))
	if err != nil {
		return nil
	}
	return data
}

// NewDir returns a manager for the directory at path, which must exist.
func NewDir(path string) *Dir { return &Dir{path: path} }

// Path returns the managed directory.
func (d *Dir) Path() string { return d.path }

// Report says what Reconcile did. All lists are sorted.
type Report struct {
	Written   []string // apps whose file was created or rewritten
	Removed   []string // apps whose file was deleted (stale or without routes)
	Unchanged []string // apps whose file already had the rendered content
	Invalid   []string // apps that failed Validate; their file was left as it was
	Foreign   []string // entries Traefik reads that are not ours (file or directory names)
}

// Write checks data with Check and atomically replaces <app>.yml with it.
// Identical content is not rewritten, which spares Traefik a reload.
func (d *Dir) Write(app string, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.write(app, data)
	return err
}

// Remove deletes <app>.yml if it exists and is ours. A foreign file with
// that name is left in place and reported as an error.
func (d *Dir) Remove(app string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.remove(app)
	return err
}

// Apply renders app and writes its file, or removes the file when app has no
// enabled domain. An invalid app returns Validate's error and leaves the
// directory as it was, so the last good configuration keeps serving.
func (d *Dir) Apply(app App) error {
	data, err := Render(app)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case errors.Is(err, ErrNoRoutes):
		_, err = d.remove(app.Name)
		return err
	case err != nil:
		return err
	}
	_, err = d.write(app.Name, data)
	return err
}

// Reconcile makes the directory match apps: it writes every app's file
// whose content differs, removes our files for apps that are absent or have
// no routes, removes temp files left by a crash, and reports foreign files.
// An app that fails validation keeps its current file and is listed in
// Report.Invalid; its error is included in the returned error, but the other
// apps are still reconciled.
func (d *Dir) Reconcile(apps []App) (Report, error) {
	d.mu.Lock()
	defer d.mu.Unlock()

	var rep Report
	var errs []error
	keep := map[string]bool{} // apps whose file must stay, as written or as it was
	for name, data := range d.internal {
		keep[name] = true
		if _, err := d.write(name, data); err != nil {
			errs = append(errs, err)
		}
	}
	for _, app := range apps {
		if keep[app.Name] {
			errs = append(errs, fmt.Errorf("traefik: reconcile: duplicate app %q", app.Name))
			continue
		}
		data, err := Render(app)
		switch {
		case errors.Is(err, ErrNoRoutes):
			continue // its file, if any, is removed below
		case err != nil:
			keep[app.Name] = true
			rep.Invalid = append(rep.Invalid, app.Name)
			errs = append(errs, fmt.Errorf("traefik: reconcile %s: %w", app.Name, err))
			continue
		}
		keep[app.Name] = true
		changed, err := d.write(app.Name, data)
		switch {
		case err != nil:
			errs = append(errs, err)
		case changed:
			rep.Written = append(rep.Written, app.Name)
		default:
			rep.Unchanged = append(rep.Unchanged, app.Name)
		}
	}
	errs = append(errs, d.sweep(keep, &rep))
	for _, l := range [][]string{rep.Written, rep.Removed, rep.Unchanged, rep.Invalid, rep.Foreign} {
		slices.Sort(l)
	}
	return rep, errors.Join(errs...)
}

// sweep removes our files not in keep and stale temp files, and lists
// foreign entries.
func (d *Dir) sweep(keep map[string]bool, rep *Report) error {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return fmt.Errorf("traefik: read %s: %w", d.path, err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) && strings.HasSuffix(name, tmpSuffix) {
			errs = append(errs, ignoreNotExist(os.Remove(filepath.Join(d.path, name))))
			continue
		}
		if !traefikReads(e) {
			continue
		}
		owner, ours := d.owner(name)
		if !ours {
			rep.Foreign = append(rep.Foreign, name)
			continue
		}
		// A marked file is current only as <owner>.yml of an app we keep.
		if keep[owner] && name == owner+fileExt {
			continue
		}
		if err := d.removeFile(name); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Removed = append(rep.Removed, strings.TrimSuffix(name, fileExt))
	}
	return errors.Join(errs...)
}

// traefikReads reports whether Traefik's file provider would load e: it
// reads .yml, .yaml and .toml files and recurses into directories.
func traefikReads(e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	switch strings.ToLower(filepath.Ext(e.Name())) {
	case ".yml", ".yaml", ".toml":
		return true
	}
	return false
}

// owner returns the app named by the marker on the first line of the
// regular file name, and whether there is one.
func (d *Dir) owner(name string) (string, bool) {
	f, err := os.Open(filepath.Join(d.path, name))
	if err != nil {
		return "", false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", false
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return "", false
	}
	app, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), markerPrefix)
	return app, ok && ValidateAppName(app) == nil
}

// write is Write without the lock; it reports whether the file changed.
func (d *Dir) write(app string, data []byte) (bool, error) {
	if _, internal := d.internal[app]; internal {
		// The platform's own routers (other entry points, @internal
		// services) are outside what Check allows apps; still strict YAML.
		if _, err := decodeStrict(data); err != nil {
			return false, fmt.Errorf("traefik: check %s: %w", app, err)
		}
	} else if err := Check(app, data); err != nil {
		return false, err
	}
	target := filepath.Join(d.path, app+fileExt)
	if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := d.refuseForeign(app); err != nil {
		return false, err
	}
	if err := writeAtomic(d.path, target, tmpPrefix+app+"-*"+tmpSuffix, data, 0o644); err != nil {
		return false, fmt.Errorf("traefik: write %s: %w", app, err)
	}
	return true, nil
}

// refuseForeign keeps Write from overwriting a hand-written <app>.yml.
func (d *Dir) refuseForeign(app string) error {
	name := app + fileExt
	if _, err := os.Lstat(filepath.Join(d.path, name)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, ours := d.owner(name); !ours {
		return fmt.Errorf("traefik: %s exists and is not managed by dokploy", name)
	}
	return nil
}

// remove is Remove without the lock; it reports whether a file was deleted.
func (d *Dir) remove(app string) (bool, error) {
	if err := ValidateAppName(app); err != nil {
		return false, fmt.Errorf("traefik: remove: %w", err)
	}
	name := app + fileExt
	if _, err := os.Lstat(filepath.Join(d.path, name)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if _, ours := d.owner(name); !ours {
		return false, fmt.Errorf("traefik: %s is not managed by dokploy, not removing it", name)
	}
	return true, d.removeFile(name)
}

func (d *Dir) removeFile(name string) error {
	if err := ignoreNotExist(os.Remove(filepath.Join(d.path, name))); err != nil {
		return fmt.Errorf("traefik: remove %s: %w", name, err)
	}
	return syncDir(d.path)
}

// WriteFile replaces path with data atomically, unless it already holds
// exactly that: data goes to a temp file in the same directory (named
// .dokploy-*.tmp, which Traefik ignores), is fsynced, gets mode, is renamed
// over path, and the directory is fsynced so the rename survives a crash.
// Readers such as Traefik's watcher only ever see the old or the new
// complete file. It is the one atomic write of the project.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return writeAtomic(filepath.Dir(path), path, tmpPrefix+"*"+tmpSuffix, data, mode)
}

// writeAtomic writes data to a temp file in dir named after pattern and
// renames it over target; see WriteFile.
func writeAtomic(dir, target, pattern string, data []byte, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, target); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
