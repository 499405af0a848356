package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/compose"
	"dokploy/jobs/docker"
	"dokploy/jobs/git"
	"dokploy/jobs/internal/safefile"
)

// DefaultComposePaths are looked for, in order, when a git stack names no
// compose file.
var DefaultComposePaths = []string{"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}

// runCompose executes one operation of a compose stack: deploy (or a
// rollback), start, stop or restart. Each waits until the state it asked
// for is real.
func (r *Runner) runCompose(ctx context.Context, d *db.Deployment, logw *deployLog) error {
	c, err := r.store.Compose(ctx, d.ServiceID)
	if err != nil {
		return fmt.Errorf("load compose stack: %w", err)
	}
	secrets, err := r.store.ComposeSecrets(c)
	if err != nil {
		return err
	}
	logw.Mask(secrets.GitToken)
	limits, err := r.store.DeployLimits(ctx)
	if err != nil {
		return err
	}
	log := logw.Line
	switch d.Action {
	case db.ActionDeploy:
		return r.deployCompose(ctx, d, c, secrets, limits, logw)
	case db.ActionStop:
		return r.stopCompose(ctx, c, limits, log)
	case db.ActionStart:
		return r.startCompose(ctx, c, limits, log)
	case db.ActionRestart:
		log("Restarting every service of " + c.Name)
		return step(ctx, limits.Converge, "the restart", func(ctx context.Context) error {
			return r.docker.RestartStack(ctx, c.Name, log)
		})
	}
	return fmt.Errorf("unknown operation %q", d.Action)
}

// stackSource is the compose file a deploy loads and where it came from.
type stackSource struct {
	file     []byte
	filename string
	dir      string // checkout root; "" for an inline file
	fileDir  string // the file's directory inside dir
	images   map[string]string
	commit   git.Commit
}

// deployCompose loads and checks the file, builds what it builds, pulls
// the rest and rolls the stack out.
func (r *Runner) deployCompose(ctx context.Context, d *db.Deployment, c *db.ComposeStack, secrets db.AppSecrets, limits db.DeployLimits, logw *deployLog) error {
	log := logw.Line
	env, err := r.stackEnv(ctx, c, logw)
	if err != nil {
		return err
	}
	src, cleanup, err := r.stackSource(ctx, d, c, secrets, limits, log)
	defer cleanup()
	if err != nil {
		return err
	}
	p, err := compose.Load(ctx, compose.Source{
		Stack: c.Name, File: src.file, Filename: src.filename, Dir: src.dir, FileDir: src.fileDir,
		Env: env, InjectEnv: c.InjectEnv, Images: src.images,
		Allow: compose.Permissions{
			BindMounts: c.BindMounts, DockerSocket: c.DockerSocket, Privileged: c.Privileged,
			HostNamespaces: c.HostNamespaces, Capabilities: c.Capabilities,
		},
	})
	if err != nil {
		return fmt.Errorf("the compose file was refused; nothing was changed:\n%w", err)
	}
	for _, w := range p.Warnings {
		log("Warning: " + w)
	}
	if err := r.claimStackPorts(ctx, c, p); err != nil {
		return err
	}
	images, err := r.stackImages(ctx, d, c, p, src, limits, log)
	if err != nil {
		return err
	}
	if err := r.store.SaveComposeDeployment(ctx, &db.ComposeDeployment{
		DeploymentID: d.ID, Source: string(src.file), Rendered: logw.mask(string(p.Rendered)),
		Images: images, Warnings: p.Warnings,
	}); err != nil {
		return err
	}
	spec := docker.StackSpec{
		Name: c.Name, Networks: p.Networks, Secrets: p.Secrets, Configs: p.Configs,
		Labels:    map[string]string{docker.LabelDeployment: itoa(d.ID)},
		LogDriver: docker.JSONFileLog(limits.LogMaxSize, limits.LogMaxFile),
	}
	for _, s := range p.Services {
		spec.Services = append(spec.Services, s.Spec)
	}
	first := !r.stackHasRun(ctx, c.ID)
	log(fmt.Sprintf("Rolling out stack %s: %d service(s), %d network(s), %d secret(s), %d config(s)",
		c.Name, len(spec.Services), len(spec.Networks), len(spec.Secrets), len(spec.Configs)))
	err = step(ctx, limits.Converge, "starting the stack", func(ctx context.Context) error {
		return r.docker.DeployStack(ctx, spec, log)
	})
	if err != nil {
		r.removeBuiltImages(p, images)
		if first && !errors.Is(context.Cause(ctx), errUserCancelled) {
			r.stopFailedStack(ctx, c, log)
		}
		return err
	}
	if err := r.store.SetComposeStopped(ctx, c.ID, nil); err != nil {
		return err
	}
	if err := r.store.SetComposeStatus(ctx, c.ID, db.AppRunning); err != nil {
		return err
	}
	r.pruneStackImages(ctx, c, limits.ImageRetention, log)
	return nil
}

// stackEnv is the stack's env with database references resolved; every
// value is masked in the log and the rendered file.
func (r *Runner) stackEnv(ctx context.Context, c *db.ComposeStack, logw *deployLog) (map[string]string, error) {
	vars, err := r.store.AppVariables(ctx, c.ID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	vars, dbPasswords, err := r.resolveReferences(ctx, vars)
	if err != nil {
		return nil, err
	}
	logw.Mask(dbPasswords...)
	env := map[string]string{}
	for _, v := range vars {
		logw.Mask(v.Value)
		env[v.Key] = v.Value
	}
	return env, nil
}

// stackSource fetches the file to deploy: the one a rollback recorded, the
// pasted one, or the one in a fresh clone of the branch.
func (r *Runner) stackSource(ctx context.Context, d *db.Deployment, c *db.ComposeStack, secrets db.AppSecrets, limits db.DeployLimits, log docker.LogFunc) (stackSource, func(), error) {
	noop := func() {}
	var src stackSource
	if d.RollbackOf != nil {
		prev, err := r.store.ComposeDeployment(ctx, *d.RollbackOf)
		if err != nil {
			return src, noop, fmt.Errorf("deployment #%d recorded no compose file to roll back to: %w", *d.RollbackOf, err)
		}
		log(fmt.Sprintf("Rolling back to the file and images of deployment #%d: no build", *d.RollbackOf))
		src.file, src.filename, src.images = []byte(prev.Source), "the file of deployment #"+itoa(*d.RollbackOf), prev.Images
		if c.SourceType == db.ComposeInline {
			return src, noop, nil
		}
	}
	if c.SourceType == db.ComposeInline {
		src.file, src.filename = []byte(c.ComposeFile), "compose file"
		return src, noop, r.store.SetDeploymentSource(ctx, d.ID, "", "", "")
	}
	dir, err := os.MkdirTemp("", "dokploy-stack-")
	if err != nil {
		return src, noop, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	err = step(ctx, limits.Clone, "cloning the repository", func(ctx context.Context) error {
		var err error
		src.commit, err = r.git.Clone(ctx, git.Source{URL: c.GitURL, Branch: c.GitBranch, Token: secrets.GitToken, SSHPrivateKey: []byte(secrets.GitSSHKey)}, dir, git.LogFunc(log))
		return err
	})
	if err != nil {
		return src, cleanup, err
	}
	src.dir = dir
	if d.RollbackOf != nil {
		// The recorded file is used; env files and file secrets it names
		// come from the branch as it is now.
		return src, cleanup, nil
	}
	log(fmt.Sprintf("Commit %.12s: %s", src.commit.SHA, firstLine(src.commit.Message)))
	if err := r.store.SetDeploymentSource(ctx, d.ID, src.commit.SHA, src.commit.Message, ""); err != nil {
		return src, cleanup, err
	}
	rel, data, err := readComposeFile(ctx, dir, c.ComposePath)
	if err != nil {
		return src, cleanup, err
	}
	log("Compose file " + rel)
	src.file, src.filename, src.fileDir = data, rel, path.Dir(rel)
	return src, cleanup, nil
}

// readComposeFile reads the stack's compose file from the checkout, or the
// first of DefaultComposePaths that exists when it names none.
func readComposeFile(ctx context.Context, dir, rel string) (string, []byte, error) {
	candidates := DefaultComposePaths
	if rel != "" {
		candidates = []string{rel}
	}
	for _, name := range candidates {
		data, err := safefile.ReadFile(ctx, dir, name, safefile.MaxSize)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("cannot read the compose file %s: %w", name, err)
		}
		return name, data, nil
	}
	if rel != "" {
		return "", nil, fmt.Errorf("the repository has no compose file at %s: check the path in the stack's settings", rel)
	}
	return "", nil, fmt.Errorf("the repository has none of %s at its root: set the compose file path in the stack's settings", strings.Join(DefaultComposePaths, ", "))
}

// claimStackPorts records the stack's published ports as its own, which
// refuses a port the platform or another service holds before anything
// changes in Swarm.
func (r *Runner) claimStackPorts(ctx context.Context, c *db.ComposeStack, p *compose.Project) error {
	var ports []db.Port
	seen := map[string]string{}
	for _, pp := range p.Ports {
		if pp.Published == 0 {
			continue
		}
		if what := r.reservedPorts()[int(pp.Published)]; what != "" {
			return fmt.Errorf("service %q publishes port %d, which the platform uses (%s): choose another published port", pp.Service, pp.Published, what)
		}
		key := fmt.Sprintf("%d/%s", pp.Published, pp.Protocol)
		if other, dup := seen[key]; dup {
			return fmt.Errorf("services %q and %q both publish port %s", other, pp.Service, key)
		}
		seen[key] = pp.Service
		ports = append(ports, db.Port{Published: int(pp.Published), Target: int(pp.Target), Protocol: pp.Protocol, Mode: pp.Mode})
	}
	if err := r.store.SetAppPorts(ctx, c.ID, ports); err != nil {
		if errors.Is(err, db.ErrConflict) {
			return fmt.Errorf("%v: free it there or publish another port", err)
		}
		return err
	}
	return nil
}

// stackImages builds every service with build: from the checkout (tagged
// <stack>_<service>:<deployment>) and pulls the images of the others. It
// returns the image of each service, which a rollback reuses.
func (r *Runner) stackImages(ctx context.Context, d *db.Deployment, c *db.ComposeStack, p *compose.Project, src stackSource, limits db.DeployLimits, log docker.LogFunc) (map[string]string, error) {
	images := map[string]string{}
	pulled := map[string]bool{}
	for _, s := range p.Services {
		if s.Build != nil {
			ref := fmt.Sprintf("%s_%s:%d", c.Name, s.Name, d.ID)
			log(fmt.Sprintf("Building service %s (context %s, Dockerfile %s)", s.Name, s.Build.Context, s.Build.Dockerfile))
			if s.Build.Network != "" {
				log(fmt.Sprintf("Note: build.network %s is not applied; builds run on the builder's default network", s.Build.Network))
			}
			err := step(ctx, limits.Build, "the build of "+s.Name, func(ctx context.Context) error {
				_, err := r.docker.Build(ctx, docker.BuildSpec{
					Dir: src.dir, ContextPath: s.Build.Context, Dockerfile: path.Join(s.Build.Context, s.Build.Dockerfile),
					Target: s.Build.Target, BuildArgs: s.Build.Args, Tags: []string{ref},
					MemoryBytes: int64(limits.BuildMemoryMB) << 20, NanoCPUs: int64(limits.BuildCPUs * 1e9),
					// Labels whose value is the same for every build of the stack: each
					// label is a LABEL step, cached only when its value does not change.
					Labels:   map[string]string{docker.LabelApp: c.Name, docker.LabelStack: c.Name},
					Builders: r.imageBuilders,
				}, log)
				return err
			})
			if err != nil {
				r.removeBuiltImages(p, images)
				return nil, fmt.Errorf("service %s: %w", s.Name, err)
			}
			compose.SetImage(p, s.Name, ref)
			images[s.Name] = ref
			continue
		}
		ref := serviceImage(s)
		images[s.Name] = ref
		if pulled[ref] {
			continue
		}
		pulled[ref] = true
		err := step(ctx, limits.Pull, "pulling "+ref, func(ctx context.Context) error {
			if d.RollbackOf != nil && r.docker.HasImage(ctx, ref) {
				return nil
			}
			return r.docker.Pull(ctx, ref, nil, log)
		})
		if err != nil {
			r.removeBuiltImages(p, images)
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return images, nil
}

// removeBuiltImages drops what a failed deploy built.
func (r *Runner) removeBuiltImages(p *compose.Project, images map[string]string) {
	for _, s := range p.Services {
		if s.Build != nil && images[s.Name] != "" {
			r.removeImageTag(images[s.Name])
		}
	}
}

// stopFailedStack scales a stack whose first deploy failed to zero rather
// than leave it crash-looping; its volumes stay.
func (r *Runner) stopFailedStack(ctx context.Context, c *db.ComposeStack, log docker.LogFunc) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	replicas, err := r.docker.StackReplicas(stopCtx, c.Name)
	if err != nil || len(replicas) == 0 {
		return
	}
	zero := map[string]uint64{}
	for name := range replicas {
		zero[name] = 0
	}
	if r.docker.ScaleStack(stopCtx, c.Name, zero, log) == nil {
		log("Stopped the stack's services after its first deploy failed; fix the file and deploy again (volumes are kept)")
	}
}

// pruneStackImages removes images built by successful deploys older than
// the retention window; the ones in service are always kept.
func (r *Runner) pruneStackImages(ctx context.Context, c *db.ComposeStack, keep int, log docker.LogFunc) {
	recent, err := r.store.LastComposeDeployments(ctx, c.ID, keep+50)
	if err != nil || len(recent) <= keep {
		return
	}
	kept := map[string]bool{}
	for _, cd := range recent[:keep] {
		for _, ref := range cd.Images {
			kept[ref] = true
		}
	}
	removed := 0
	for _, cd := range recent[keep:] {
		for _, ref := range cd.Images {
			if !kept[ref] && strings.HasPrefix(ref, c.Name+"_") && r.docker.HasImage(ctx, ref) {
				r.removeImageTag(ref)
				removed++
			}
		}
	}
	if removed > 0 {
		log(fmt.Sprintf("Pruned %d old image(s); the last %d successful deploys keep theirs for rollback", removed, keep))
	}
}

// stopCompose records each service's replicas, then scales them all to 0
// and waits until no container runs. The record is written first, so a
// stop interrupted half-way still knows what Start must bring back.
func (r *Runner) stopCompose(ctx context.Context, c *db.ComposeStack, limits db.DeployLimits, log docker.LogFunc) error {
	current, err := r.docker.StackReplicas(ctx, c.Name)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		return fmt.Errorf("%s has no services yet: deploy it first", c.Name)
	}
	record := c.Stopped()
	for name, n := range current {
		if n > 0 || record[name] == 0 {
			record[name] = n
		}
	}
	if err := r.store.SetComposeStopped(ctx, c.ID, record); err != nil {
		return err
	}
	zero := map[string]uint64{}
	for name := range current {
		zero[name] = 0
	}
	log(fmt.Sprintf("Stopping %d service(s): %s", len(zero), describeReplicas(record)))
	if err := step(ctx, limits.Converge, "stopping the stack", func(ctx context.Context) error {
		return r.docker.ScaleStack(ctx, c.Name, zero, log)
	}); err != nil {
		return err
	}
	return r.store.SetComposeStatus(ctx, c.ID, db.AppStopped)
}

// startCompose scales every service back to the replicas Stop recorded.
func (r *Runner) startCompose(ctx context.Context, c *db.ComposeStack, limits db.DeployLimits, log docker.LogFunc) error {
	current, err := r.docker.StackReplicas(ctx, c.Name)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		return fmt.Errorf("%s has no services yet: deploy it first", c.Name)
	}
	want := map[string]uint64{}
	record := c.Stopped()
	for name, n := range current {
		switch {
		case record[name] > 0:
			want[name] = record[name]
		case n > 0:
			want[name] = n
		default:
			want[name] = 1 // stopped outside the product: one replica
		}
	}
	log(fmt.Sprintf("Starting %d service(s): %s", len(want), describeReplicas(want)))
	if err := step(ctx, limits.Converge, "starting the stack", func(ctx context.Context) error {
		return r.docker.ScaleStack(ctx, c.Name, want, log)
	}); err != nil {
		return err
	}
	if err := r.store.SetComposeStopped(ctx, c.ID, nil); err != nil {
		return err
	}
	return r.store.SetComposeStatus(ctx, c.ID, db.AppRunning)
}

func describeReplicas(m map[string]uint64) string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s×%d", name, m[name])
	}
	return strings.Join(parts, ", ")
}

// RemoveCompose removes the stack's services, networks, secrets, configs
// and images, and its volumes when asked.
func (r *Runner) RemoveCompose(ctx context.Context, c *db.ComposeStack, removeVolumes bool) error {
	return r.docker.RemoveStack(ctx, c.Name, removeVolumes, func(string) {})
}

// StackServices is the live state of a stack's services.
func (r *Runner) StackServices(ctx context.Context, stack string) ([]docker.StackServiceState, error) {
	return r.docker.StackServices(ctx, stack)
}

// serviceImage is the image a converted service runs.
func serviceImage(s compose.Service) string {
	if s.Spec.TaskTemplate.ContainerSpec == nil {
		return ""
	}
	return s.Spec.TaskTemplate.ContainerSpec.Image
}

// stackHasRun reports whether an earlier deploy of the stack succeeded:
// then Swarm rolled a failed update back and the previous version serves.
func (r *Runner) stackHasRun(ctx context.Context, stackID int64) bool {
	done, err := r.store.LastComposeDeployments(ctx, stackID, 1)
	return err == nil && len(done) > 0
}
