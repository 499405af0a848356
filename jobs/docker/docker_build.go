package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/moby/go-archive"
	"github.com/moby/patternmatcher/ignorefile"

	"dokploy/jobs/internal/safefile"
)

// BuildSpec describes a Dockerfile build. ContextPath and Dockerfile are
// user input, relative to Dir (the checkout root), as in Dokploy's UI.
type BuildSpec struct {
	Dir         string            // checkout root
	ContextPath string            // build context inside Dir; "." when empty
	Dockerfile  string            // Dockerfile inside Dir; "Dockerfile" when empty
	Target      string            // multi-stage target, optional
	BuildArgs   map[string]string // values are never logged
	NoCache     bool
	Tags        []string // at least one; the first names the app (its repository) when Labels has no LabelApp
	// Labels go on the final image. Leave them empty for app builds: the
	// classic builder applies them with a LABEL step of its own (see
	// buildOptions). Compose builds set LabelApp and LabelStack.
	Labels map[string]string
	// Builders says which apps' builds produced a local image, by its ID
	// ("sha256:…"); the runner answers from what deployments recorded
	// (db.Store.ImageBuilders). A build may take no image another app
	// built (see docker_sources.go). When nil, only images' labels count.
	Builders func(ctx context.Context, imageID string) ([]ImageBuilder, error)
	// Resource limits of each build step's container; 0 means none.
	MemoryBytes int64
	NanoCPUs    int64
}

// injectedDockerfile is the name under which a Dockerfile that lives outside
// the context is added to the context tar (what the docker CLI does too).
const injectedDockerfile = ".dokploy.Dockerfile"

// cleanupTimeout bounds the work done after a build was cancelled.
const cleanupTimeout = 30 * time.Second

// ErrDockerfileNotFound is returned (wrapped) when BuildSpec.Dockerfile is missing.
var ErrDockerfileNotFound = errors.New("Dockerfile not found")

// SafeJoin resolves the user-supplied relative path rel inside root and
// returns the real (symlink-free) path. It refuses absolute paths, ".."
// escapes and symlinks that lead outside root. A path that does not exist is
// reported with an error matching fs.ErrNotExist.
func SafeJoin(root, rel string) (string, error) {
	if rel == "" {
		rel = "."
	}
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) {
		return "", fmt.Errorf("path %q must be relative to the repository", rel)
	}
	clean := filepath.Clean(rel)
	if !isLocal(clean) {
		return "", fmt.Errorf("path %q escapes the repository", rel)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve checkout directory: %w", err)
	}
	realPath, err := filepath.EvalSymlinks(filepath.Join(realRoot, clean))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("path %q: %w", rel, fs.ErrNotExist)
		}
		return "", fmt.Errorf("resolve path %q: %w", rel, err)
	}
	inside, err := filepath.Rel(realRoot, realPath)
	if err != nil || !isLocal(inside) {
		return "", fmt.Errorf("path %q escapes the repository (through a symlink)", rel)
	}
	return realPath, nil
}

// isLocal reports whether a cleaned relative path stays below its base.
func isLocal(clean string) bool {
	return clean != ".." && !strings.HasPrefix(clean, ".."+string(filepath.Separator))
}

// Build runs a Dockerfile build with the engine's classic builder, streams
// every output line to log and returns the image ID ("sha256:…").
// Intermediate containers are always removed. If ctx is cancelled the build
// stops, its containers and the untagged images it committed are removed,
// and ctx.Err() is returned. If a step fails, the images the earlier steps
// committed stay as cache for the next build: Build returns, with the
// error, the ID of the last one (a dangling image, "" if none), so the
// caller can record it and cleanup can find it later.
func (d *Docker) Build(ctx context.Context, spec BuildSpec, log LogFunc) (string, error) {
	opts, err := buildOptions(spec)
	if err != nil {
		return "", err
	}
	contextDir, err := SafeJoin(spec.Dir, spec.ContextPath)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	dockerfile, content, err := readDockerfile(ctx, spec)
	if err != nil {
		return "", err
	}
	if err := d.checkImageSources(ctx, content, spec); err != nil {
		return "", err
	}
	tarball, name, err := buildContextTar(ctx, contextDir, dockerfile, content)
	if err != nil {
		return "", err
	}
	defer tarball.Close()
	opts.Dockerfile = name

	log.printf("Building %s", strings.Join(spec.Tags, ", "))
	resp, err := d.cli.ImageBuild(ctx, tarball, opts)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("start build: %w", err)
	}
	defer resp.Body.Close()

	tracker := &buildTracker{}
	imageID, err := readBuildStream(resp.Body, func(line string) {
		tracker.observe(line)
		log.line(line)
	})
	if ctx.Err() != nil {
		d.cleanupCancelledBuild(ctx, tracker, spec.Tags[0], log)
		return "", ctx.Err()
	}
	if err != nil {
		return d.lastCommitted(ctx, tracker), err
	}
	if err := d.checkBuiltBases(ctx, tracker, spec); err != nil {
		return "", err
	}
	if imageID == "" {
		inspect, err := d.cli.ImageInspect(ctx, spec.Tags[0])
		if err != nil {
			return "", fmt.Errorf("inspect built image %s: %w", spec.Tags[0], err)
		}
		imageID = inspect.ID
	}
	return imageID, nil
}

func buildOptions(spec BuildSpec) (build.ImageBuildOptions, error) {
	if len(spec.Tags) == 0 {
		return build.ImageBuildOptions{}, errors.New("build needs at least one tag")
	}
	for _, tag := range spec.Tags {
		if err := ValidateImageRef(tag); err != nil {
			return build.ImageBuildOptions{}, err
		}
	}
	// The classic builder turns each label into a LABEL step of its own at
	// the end of the last stage, which creates and commits a container
	// (0.3–0.5 s each on an idle machine, more under load). It is cached
	// only when every earlier step is, which after a code change it never
	// is. So app builds (no Labels) carry none: the platform knows their
	// images by ID instead (BuildSpec.Builders, the built_images table),
	// for the ownership check and for cleanup. Builds that carry labels
	// (compose) also get the repository label, as they always did.
	var labels map[string]string
	if len(spec.Labels) > 0 {
		labels = map[string]string{LabelImageRepo: imageRepo(spec.Tags[0])}
		for k, v := range spec.Labels {
			labels[k] = v
		}
	}
	args := make(map[string]*string, len(spec.BuildArgs))
	for k, v := range spec.BuildArgs {
		args[k] = &v
	}
	opts := build.ImageBuildOptions{
		Tags:        spec.Tags,
		Target:      spec.Target,
		BuildArgs:   args,
		NoCache:     spec.NoCache,
		Labels:      labels,
		Remove:      true,
		ForceRemove: true,
		// The classic builder streams plain lines and needs no BuildKit
		// session; it is what the engine uses for API clients by default.
		Version: build.BuilderV1,
	}
	if spec.MemoryBytes > 0 {
		opts.Memory, opts.MemorySwap = spec.MemoryBytes, spec.MemoryBytes // no swap on top
	}
	if spec.NanoCPUs > 0 {
		opts.CPUPeriod = 100_000
		opts.CPUQuota = spec.NanoCPUs * opts.CPUPeriod / 1e9
	}
	return opts, nil
}

// readDockerfile finds BuildSpec.Dockerfile inside the checkout and reads
// it (bounded, confined to the checkout, regular files only). It returns
// the file's real path and its content; the content read here is what the
// engine gets, so what was checked is what is built.
func readDockerfile(ctx context.Context, spec BuildSpec) (string, []byte, error) {
	rel := spec.Dockerfile
	if rel == "" {
		rel = "Dockerfile"
	}
	path, err := SafeJoin(spec.Dir, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("%w at %s", ErrDockerfileNotFound, rel)
	}
	if err != nil {
		return "", nil, fmt.Errorf("Dockerfile: %w", err)
	}
	content, err := safefile.ReadFile(ctx, spec.Dir, filepath.ToSlash(filepath.Clean(rel)), safefile.MaxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, safefile.ErrNotRegular):
		return "", nil, fmt.Errorf("%w at %s (not a regular file)", ErrDockerfileNotFound, rel)
	case err != nil:
		return "", nil, fmt.Errorf("Dockerfile: %w", err)
	}
	return path, content, nil
}

// buildContextTar tars contextDir honouring its .dockerignore and returns
// the Dockerfile's name inside the tar. Symlinks are archived as symlinks,
// never followed (the engine resolves them inside the context). The
// Dockerfile and .dockerignore entries carry the content read and checked
// here, whatever the files in the checkout are (a symlink, say). A
// Dockerfile outside the context is added under injectedDockerfile and
// listed in .dockerignore, so the engine drops it from the context after
// reading it (COPY . never sees it).
func buildContextTar(ctx context.Context, contextDir, dockerfile string, content []byte) (io.ReadCloser, string, error) {
	excludes, ignoreContent, found, err := readDockerignore(ctx, contextDir)
	if err != nil {
		return nil, "", err
	}
	rel, err := filepath.Rel(contextDir, dockerfile)
	inside := err == nil && isLocal(rel)
	if inside {
		// Like the docker CLI: the Dockerfile and .dockerignore are always
		// sent, even when .dockerignore lists them.
		excludes = append(excludes, "!"+filepath.ToSlash(rel), "!.dockerignore")
	}
	tarball, err := archive.TarWithOptions(contextDir, &archive.TarOptions{
		ExcludePatterns: excludes,
		ChownOpts:       &archive.ChownOpts{UID: 0, GID: 0},
	})
	if err != nil {
		return nil, "", fmt.Errorf("archive build context: %w", err)
	}
	replace := map[string]archive.TarModifierFunc{}
	name := injectedDockerfile
	if inside {
		name = filepath.ToSlash(rel)
		if found {
			replace[".dockerignore"] = replaceWith(ignoreContent)
		}
	} else {
		replace[".dockerignore"] = replaceWith(append(ignoreContent, []byte("\n"+injectedDockerfile+"\n")...))
	}
	replace[name] = replaceWith(content)
	return archive.ReplaceFileTarWrapper(tarball, replace), name, nil
}

func replaceWith(content []byte) archive.TarModifierFunc {
	return func(path string, _ *tar.Header, _ io.Reader) (*tar.Header, []byte, error) {
		return &tar.Header{
			Name:     path,
			Mode:     0o600,
			Size:     int64(len(content)),
			ModTime:  time.Now(),
			Typeflag: tar.TypeReg,
		}, content, nil
	}
}

// readDockerignore reads the context's .dockerignore through safefile: a
// symlink out of the context, a FIFO or a device is refused.
func readDockerignore(ctx context.Context, contextDir string) (patterns []string, content []byte, found bool, err error) {
	content, err = safefile.ReadFile(ctx, contextDir, ".dockerignore", safefile.MaxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read .dockerignore: %w", err)
	}
	patterns, err = ignorefile.ReadAll(strings.NewReader(string(content)))
	if err != nil {
		return nil, nil, false, fmt.Errorf("parse .dockerignore: %w", err)
	}
	return patterns, content, true, nil
}

var (
	buildStepLine      = regexp.MustCompile(`^Step \d+/\d+ : (\S+)`)
	buildContainerLine = regexp.MustCompile(`^ ---> Running in ([0-9a-f]{12,64})$`)
	buildImageLine     = regexp.MustCompile(`^ ---> ([0-9a-f]{12,64})$`)
)

// baseImage is the image a FROM step started from.
type baseImage struct{ id, step string }

// buildTracker remembers what a classic build created, from its output, so
// a cancelled build can be cleaned up precisely. Labels cannot be used for
// this: the classic builder applies --label only to the final image.
type buildTracker struct {
	containers []string
	images     []string
	bases      []baseImage // what each FROM step took, as the engine reports it
	step       string      // the current "Step n/m : …" line
	inFrom     bool        // the next image ID is a base image, not ours
	cached     bool        // the next image ID came from the cache, not from us
}

func (t *buildTracker) observe(line string) {
	if m := buildStepLine.FindStringSubmatch(line); m != nil {
		t.inFrom = strings.EqualFold(m[1], "FROM")
		t.step = line
		t.cached = false
		return
	}
	if line == " ---> Using cache" {
		t.cached = true
		return
	}
	if m := buildContainerLine.FindStringSubmatch(line); m != nil {
		t.containers = append(t.containers, m[1])
		return
	}
	if m := buildImageLine.FindStringSubmatch(line); m != nil {
		if t.inFrom && len(t.bases) < 100 {
			t.bases = append(t.bases, baseImage{id: m[1], step: shorten(t.step)})
		}
		if !t.inFrom && !t.cached {
			t.images = append(t.images, m[1])
		}
		t.cached = false
	}
}

// cleanupCancelledBuild removes what a cancelled build left. The engine
// removes the running step's container itself when the client goes away; we
// wait for that (and force it if needed), then drop untagged images the
// build committed. It uses a fresh context: ctx is already cancelled.
func (d *Docker) cleanupCancelledBuild(ctx context.Context, t *buildTracker, tag string, log LogFunc) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	log.line("Build cancelled, cleaning up")
	for _, id := range t.containers {
		d.waitContainerGone(cctx, id, 10*time.Second)
	}
	d.RemoveUntaggedImages(cctx, t.images)
	// Older builds of the repository labelled their images (compose builds
	// still do): drop their dangling ones too.
	args := filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("label", LabelImageRepo+"="+imageRepo(tag)))
	_, _ = d.cli.ImagesPrune(cctx, args)
}

// lastCommitted is the full ID of the last image a failed build committed,
// or "" if it committed none (or the image is gone).
func (d *Docker) lastCommitted(ctx context.Context, t *buildTracker) string {
	if len(t.images) == 0 {
		return ""
	}
	inspect, err := d.cli.ImageInspect(context.WithoutCancel(ctx), t.images[len(t.images)-1])
	if err != nil || len(inspect.RepoTags) > 0 {
		return ""
	}
	return inspect.ID
}

// RemoveUntaggedImages removes the images ids (in the order a build
// committed them; removed newest first) that have no tag, with their
// untagged parents, and returns how many it removed. Tagged images, images
// another image or a container still uses, and images already gone are
// left alone.
func (d *Docker) RemoveUntaggedImages(ctx context.Context, ids []string) int {
	n := 0
	for i := len(ids) - 1; i >= 0; i-- {
		inspect, err := d.cli.ImageInspect(ctx, ids[i])
		if err != nil || len(inspect.RepoTags) > 0 {
			continue
		}
		// Not forced: conflicts (a child image, a container) keep it.
		if deleted, err := d.cli.ImageRemove(ctx, inspect.ID, image.RemoveOptions{PruneChildren: true}); err == nil && len(deleted) > 0 {
			n++
		}
	}
	return n
}

// BuildImagesFromLog returns the images a classic build committed (not
// those it took from the cache or as a base), in order, from the lines of
// its log: what RemoveUntaggedImages needs to clean up a build whose
// process died.
func BuildImagesFromLog(lines []string) []string {
	t := &buildTracker{}
	for _, l := range lines {
		t.observe(l)
	}
	return t.images
}

// waitContainerGone polls until the container no longer exists, then
// force-removes it if it is still there after wait.
func (d *Docker) waitContainerGone(ctx context.Context, id string, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if _, err := d.cli.ContainerInspect(ctx, id); cerrdefs.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	_ = d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
