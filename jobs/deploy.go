package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/git"
)

// errUserCancelled is the cause set when the user presses Cancel.
var errUserCancelled = errors.New("cancelled by user")

// errFirstCancelled marks a cancelled first deployment whose service was
// removed again: nothing ran before it, so nothing runs after it.
var errFirstCancelled = errors.New("first deployment cancelled; its service was removed")

// errTakenOver is the cause set when the row stopped being "running" under
// this worker: another process judged it dead (its heartbeat was lost) and
// marked the deployment interrupted, so this one stops too rather than run
// alongside a newer deployment of the same app.
var errTakenOver = errors.New("stopped: the deployment was marked interrupted by another process (this worker's heartbeat was lost)")

// run executes one claimed deployment and records how it ended. It never
// returns an error: the outcome lives in the deployments row.
func (r *Runner) run(parent context.Context, d *db.Deployment) {
	logw := newDeployLog(r.store, d.ID, r.log)
	defer logw.Close()

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	limit, kind := r.opts.DeployTimeout, "deployment"
	switch d.Action {
	case db.ActionBackup, db.ActionRestore, db.ActionDrill:
		limit, kind = r.opts.BackupTimeout, d.Action
	}
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, limit, fmt.Errorf("the %s took longer than %s", kind, limit))
	defer cancelTimeout()
	go r.watchCancel(ctx, d.ID, cancel)

	started := time.Now()
	what := "Deployment"
	if d.Action != "" && d.Action != db.ActionDeploy {
		what = "Operation " + d.Action
	}
	logw.Line(fmt.Sprintf("%s #%d of %s started (triggered by %s)", what, d.ID, d.AppName, describeTrigger(d)))
	var err error
	switch {
	case d.ServiceKind == db.KindDatabase:
		err = r.runDatabase(ctx, d, logw)
	case d.ServiceKind == db.KindCompose:
		err = r.runCompose(ctx, d, logw)
	case d.Action == db.ActionBackup || d.Action == db.ActionRestore:
		err = r.runVolumeOperation(ctx, d, logw)
	default:
		err = r.deploy(ctx, d, logw)
	}
	// Pages polled the service while the job changed it: the shared read
	// they left may predate the job's last step (a stop's "stopping"), so
	// the first look once the row says finished reads Swarm afresh.
	r.live.forget(d.AppName)

	status, reason := db.DeployDone, ""
	switch {
	case err == nil:
		logw.Line(fmt.Sprintf("%s #%d finished in %s", what, d.ID, time.Since(started).Round(100*time.Millisecond)))
	case errors.Is(context.Cause(ctx), errUserCancelled):
		status, reason = db.DeployCancelled, "cancelled by user"
		switch {
		case errors.Is(err, errFirstCancelled):
			logw.Line("Deployment cancelled. Nothing ran before it, so the service it had started was removed: the app is not deployed.")
		case d.Action == db.ActionDeploy:
			logw.Line("Deployment cancelled. The previous version keeps running.")
		default:
			logw.Line(what + " cancelled.")
		}
	case parent.Err() != nil:
		status, reason = db.DeployError, "interrupted: the control plane shut down during this "+kind+"; run it again"
		logw.Line("Interrupted by shutdown.")
	default:
		status, reason = db.DeployError, oneLine(err.Error())
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			reason = oneLine(cause.Error())
		}
		// The reason is shown and notified: it never carries a secret.
		reason = logw.mask(reason)
		logw.Line("ERROR: " + reason)
		// The first line is the reason; the rest (the failed task's last
		// lines of output) goes to the log, where the user looks for it.
		if _, detail, ok := strings.Cut(strings.TrimSpace(err.Error()), "\n"); ok {
			for _, line := range strings.Split(detail, "\n") {
				logw.Line("  " + line)
			}
		}
		if d.Action == db.ActionDeploy {
			logw.Line("The previous version, if any, keeps running.")
		}
	}
	logw.Close()
	// Record the outcome even if the deployment's context is gone.
	finishCtx, cancelFinish := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelFinish()
	if err := r.store.FinishDeployment(finishCtx, d.ID, status, reason); err != nil {
		// PostgreSQL is unreachable: keep the outcome and let the recovery
		// loop write it once the database is back, so the row never stays
		// "running".
		r.log.Error("record deployment result; retrying in the background", "deployment", d.ID, "err", err)
		r.mu.Lock()
		r.unrecorded[d.ID] = outcome{status, reason}
		r.mu.Unlock()
		return
	}
	if status != db.DeployDone {
		r.settleAppStatus(finishCtx, d.ID, status)
	}
	r.notifyOutcome(finishCtx, d, status, reason)
}

// settleAppStatus sets the service's status after a deployment did not
// succeed: running if an earlier version is in service, error otherwise
// (idle for a cancelled first deployment: nothing was ever deployed).
// A database operation other than a deploy leaves the status alone: the
// page shows Swarm's live state.
func (r *Runner) settleAppStatus(ctx context.Context, deploymentID int64, outcome string) {
	d, err := r.store.Deployment(ctx, deploymentID)
	if err != nil {
		return
	}
	if d.ServiceKind == db.KindDatabase {
		if dbase, err := r.store.Database(ctx, d.ServiceID); err == nil && d.Action == db.ActionDeploy {
			status := db.AppError
			if dbase.CurrentImage != "" {
				status = db.AppRunning
			}
			_ = r.store.SetDatabaseStatus(ctx, dbase.ID, status)
		}
		return
	}
	if d.ServiceKind == db.KindCompose {
		if c, err := r.store.Compose(ctx, d.ServiceID); err == nil && d.Action == db.ActionDeploy {
			status := db.AppError
			if c.Status == db.AppDeploying && r.stackHasRun(ctx, c.ID) {
				status = db.AppRunning
			}
			_ = r.store.SetComposeStatus(ctx, c.ID, status)
		}
		return
	}
	if d.Action != "" && d.Action != db.ActionDeploy {
		return // a volume's backup or restore leaves the app's status alone
	}
	a, err := r.store.App(ctx, d.ServiceID)
	if err != nil {
		return
	}
	status := db.AppError
	switch {
	case a.CurrentImage != "":
		status = db.AppRunning
	case outcome == db.DeployCancelled:
		status = db.AppIdle
	}
	_ = r.store.SetAppStatus(ctx, a.ID, status)
}

// watchCancel polls the row so a Cancel pressed on any instance stops the
// deployment running on this one.
func (r *Runner) watchCancel(ctx context.Context, id int64, cancel context.CancelCauseFunc) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cancelRequested, status, err := r.store.CancelState(ctx, id)
			switch {
			case err != nil: // database unreachable: keep going
			case cancelRequested:
				cancel(errUserCancelled)
				return
			case status != db.DeployRunning:
				cancel(errTakenOver)
				return
			}
		}
	}
}

func describeTrigger(d *db.Deployment) string {
	if d.TriggeredBy != "" {
		return d.Trigger + " " + d.TriggeredBy
	}
	return d.Trigger
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// deploy fetches or builds the image and rolls the service out.
func (r *Runner) deploy(ctx context.Context, d *db.Deployment, logw *deployLog) error {
	a, err := r.store.App(ctx, d.ServiceID)
	if err != nil {
		return fmt.Errorf("load app: %w", err)
	}
	secrets, err := r.store.AppSecrets(a)
	if err != nil {
		return err
	}
	env, err := r.store.AppVariables(ctx, a.ID, db.VarEnv)
	if err != nil {
		return err
	}
	env, dbPasswords, err := r.resolveReferences(ctx, env)
	if err != nil {
		return err
	}
	logw.Mask(dbPasswords...)
	buildArgs, err := r.store.AppVariables(ctx, a.ID, db.VarBuildArg)
	if err != nil {
		return err
	}
	logw.Mask(secrets.GitToken, secrets.RegistryPassword)
	for _, v := range append(env, buildArgs...) {
		logw.Mask(v.Value)
	}
	log := logw.Line
	limits, err := r.store.DeployLimits(ctx)
	if err != nil {
		return err
	}

	var imageRef, commit string
	var auth *docker.RegistryAuth
	if a.RegistryUsername != "" {
		auth = &docker.RegistryAuth{Username: a.RegistryUsername, Password: secrets.RegistryPassword, ServerAddress: a.RegistryServer}
	}
	switch {
	case d.RollbackOf != nil:
		imageRef, commit = d.Image, d.CommitSHA
		log(fmt.Sprintf("Rolling back to %s from deployment #%d: no build", imageRef, *d.RollbackOf))
		err = step(ctx, limits.Pull, "checking the image", func(ctx context.Context) error {
			return r.ensureImage(ctx, a, imageRef, auth, log)
		})
	case a.SourceType == db.SourceGit:
		imageRef, commit, err = r.buildFromGit(ctx, d, a, secrets, buildArgs, limits, log)
	case a.SourceType == db.SourceImage:
		imageRef = a.Image
		err = step(ctx, limits.Pull, "pulling the image", func(ctx context.Context) error {
			return r.docker.Pull(ctx, imageRef, auth, log)
		})
		if err == nil {
			err = r.store.SetDeploymentSource(ctx, d.ID, "", "", imageRef)
		}
	default:
		err = fmt.Errorf("unknown source type %q", a.SourceType)
	}
	if err != nil {
		return err
	}

	spec, err := r.serviceSpec(ctx, a, d, imageRef, env)
	if err != nil {
		return err
	}
	spec.LogDriver = docker.JSONFileLog(limits.LogMaxSize, limits.LogMaxFile)
	spec.RegistryAuth = auth
	spec.OnServing = r.recordServing(ctx, d, log)
	log(fmt.Sprintf("Rolling out service %s with %s (%d replica(s))", a.AppName, imageRef, spec.Replicas))
	err = step(ctx, limits.Converge, "starting the new version", func(ctx context.Context) error {
		return r.docker.DeployService(ctx, spec, log)
	})
	if err != nil {
		if errors.Is(context.Cause(ctx), errUserCancelled) && a.CurrentImage == "" {
			// A first deployment cancelled during its roll-out: the service
			// it created would keep running a version the user called off.
			if rerr := r.docker.RemoveService(context.WithoutCancel(ctx), a.AppName); rerr == nil {
				err = fmt.Errorf("%w: %w", errFirstCancelled, err)
			} else {
				log("Could not remove the cancelled first version's service: " + rerr.Error() + ". Stop or delete the app.")
			}
		}
		if a.SourceType == db.SourceGit && d.RollbackOf == nil {
			r.removeImageTag(imageRef)
		}
		if strings.Contains(err.Error(), "unhealthy") {
			return fmt.Errorf("the new version never passed its health check, so it was rolled back: %w", err)
		}
		return err
	}
	if err := r.store.SetAppRunning(ctx, a.ID, imageRef, commit); err != nil {
		return err
	}
	r.pruneImages(ctx, a, limits.ImageRetention, log)
	return nil
}

// recordServing returns the hook that stores when the deployment's new
// version started taking traffic and says so in its log. A failure to
// store it is logged and does not fail the deployment.
func (r *Runner) recordServing(ctx context.Context, d *db.Deployment, log func(string)) func(time.Time) {
	return func(at time.Time) {
		log(fmt.Sprintf("New version serving, %s after the request", at.Sub(d.CreatedAt).Round(100*time.Millisecond)))
		if err := r.store.SetDeploymentServing(ctx, d.ID, at); err != nil {
			slog.Warn("could not record when the deployment started serving", "deployment", d.ID, "err", err)
		}
	}
}

// step runs one stage of a deployment under its own deadline, so a hung
// clone, build, pull or roll-out ends with an error that names the stage.
func step(ctx context.Context, limit time.Duration, name string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, limit,
		fmt.Errorf("%s took longer than %s (the limit is in Settings → Deploy queue)", name, limit))
	defer cancel()
	err := fn(ctx)
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != ctx.Err() {
		if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) && !errors.Is(cause, errUserCancelled) {
			return cause
		}
	}
	return err
}

// ensureImage makes sure a rollback's image is present: built images must
// still be on the node; registry images are pulled again if pruned.
func (r *Runner) ensureImage(ctx context.Context, a *db.App, ref string, auth *docker.RegistryAuth, log docker.LogFunc) error {
	if r.docker.HasImage(ctx, ref) {
		return nil
	}
	if a.SourceType == db.SourceImage {
		return r.docker.Pull(ctx, ref, auth, log)
	}
	return fmt.Errorf("image %s was pruned (only the last successful deployments keep their image); deploy that commit again instead", ref)
}

// pruneImages removes built images of deployments older than the retention
// window so the disk does not fill up; the running image is always kept.
func (r *Runner) pruneImages(ctx context.Context, a *db.App, keep int, log docker.LogFunc) {
	if a.SourceType != db.SourceGit {
		return
	}
	old, err := r.store.ExpiredImages(ctx, a.ID, keep)
	if err != nil {
		r.log.Warn("list expired images", "app", a.AppName, "err", err)
		return
	}
	for _, ref := range old {
		r.removeImageTag(ref)
	}
	if len(old) > 0 {
		log(fmt.Sprintf("Pruned %d old image(s); the last %d successful deployments keep theirs for rollback", len(old), keep))
	}
}

// buildFromGit clones the branch and builds <appName>:<deployment id>.
func (r *Runner) buildFromGit(ctx context.Context, d *db.Deployment, a *db.App, secrets db.AppSecrets, buildArgs []db.Variable, limits db.DeployLimits, log docker.LogFunc) (string, string, error) {
	dir, err := os.MkdirTemp("", "dokploy-build-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(dir)
	var commit git.Commit
	err = step(ctx, limits.Clone, "cloning the repository", func(ctx context.Context) error {
		var err error
		commit, err = r.git.Clone(ctx, git.Source{URL: a.GitURL, Branch: a.GitBranch, Token: secrets.GitToken, SSHPrivateKey: []byte(secrets.GitSSHKey)}, dir, git.LogFunc(log))
		return err
	})
	if err != nil {
		return "", "", err
	}
	log(fmt.Sprintf("Commit %.12s: %s", commit.SHA, firstLine(commit.Message)))
	imageRef := fmt.Sprintf("%s:%d", a.AppName, d.ID)
	if err := r.store.SetDeploymentSource(ctx, d.ID, commit.SHA, commit.Message, imageRef); err != nil {
		return "", "", err
	}
	args := map[string]string{}
	for _, v := range buildArgs {
		args[v.Key] = v.Value
	}
	log(fmt.Sprintf("Build context %s, Dockerfile %s", a.GitContext, a.GitDockerfile))
	err = step(ctx, limits.Build, "the build", func(ctx context.Context) error {
		// No labels: each would cost a LABEL step on every deploy. The
		// image is known by its ID, recorded below.
		id, err := r.docker.Build(ctx, docker.BuildSpec{
			Dir: dir, ContextPath: a.GitContext, Dockerfile: a.GitDockerfile, Target: a.BuildTarget,
			BuildArgs: args, NoCache: a.BuildNoCache, Tags: []string{imageRef},
			MemoryBytes: int64(limits.BuildMemoryMB) << 20, NanoCPUs: int64(limits.BuildCPUs * 1e9),
			Builders: r.imageBuilders,
		}, log)
		if id == "" {
			return err
		}
		// The built image (or what a failed build left as cache) is the
		// app's from now on: other apps' builds may not take it, and
		// cleanup finds it if it is ever left dangling.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := r.store.RecordBuiltImage(rctx, d.ID, a.ID, a.AppName, id); rerr != nil {
			if err == nil {
				// Unrecorded, the image would be anyone's: do not deploy it.
				r.removeImageTag(imageRef)
				return rerr
			}
			r.log.Warn("record a failed build's image", "app", a.AppName, "image", id, "err", rerr)
		}
		return err
	})
	if err != nil {
		return "", "", err
	}
	return imageRef, commit.SHA, nil
}

// imageBuilders answers BuildSpec.Builders from the images deployments
// recorded.
func (r *Runner) imageBuilders(ctx context.Context, imageID string) ([]docker.ImageBuilder, error) {
	list, err := r.store.ImageBuilders(ctx, imageID)
	if err != nil {
		return nil, err
	}
	out := make([]docker.ImageBuilder, len(list))
	for i, b := range list {
		out[i] = docker.ImageBuilder{App: b.AppName, Deleted: b.Deleted}
	}
	return out, nil
}

// removeDanglingBuilt removes the dangling images app builds produced (of
// app serviceID only, unless it is 0): failed builds' last layers, images
// that lost their tag. It returns how many it removed.
func (r *Runner) removeDanglingBuilt(ctx context.Context, serviceID int64) int {
	dangling, err := r.docker.DanglingImages(ctx)
	if err != nil || len(dangling) == 0 {
		return 0
	}
	built, err := r.store.BuiltImagesAmong(ctx, dangling, serviceID)
	if err != nil {
		r.log.Warn("find dangling built images", "err", err)
		return 0
	}
	return r.docker.RemoveUntaggedImages(ctx, built)
}

// serviceSpec turns the app's settings into the Swarm service spec.
func (r *Runner) serviceSpec(ctx context.Context, a *db.App, d *db.Deployment, imageRef string, env []db.Variable) (docker.ServiceSpec, error) {
	ports, err := r.store.AppPorts(ctx, a.ID)
	if err != nil {
		return docker.ServiceSpec{}, err
	}
	envMap := map[string]string{}
	for _, v := range env {
		envMap[v.Key] = v.Value
	}
	spec := docker.ServiceSpec{
		Name: a.AppName, Image: imageRef, Env: envMap, Replicas: uint64(a.Replicas),
		MemoryBytes: int64(a.MemoryLimitMB) * 1024 * 1024, NanoCPUs: int64(a.CPULimit * 1e9),
		Labels:      map[string]string{docker.LabelDeployment: itoa(d.ID)},
		ForceUpdate: true,
		Constraints: a.PlacementConstraints, MaxPerNode: uint64(a.MaxReplicasPerNode),
	}
	for _, p := range ports {
		spec.Ports = append(spec.Ports, docker.PortSpec{Published: uint32(p.Published), Target: uint32(p.Target), Protocol: p.Protocol, Mode: p.Mode})
	}
	spec.StopGracePeriod = time.Duration(a.StopGracePeriod) * time.Second
	if a.HealthPath != "" {
		hc, mnt, err := r.httpHealthCheck(a)
		if err != nil {
			return docker.ServiceSpec{}, err
		}
		spec.HealthCheck, spec.Mounts = hc, []docker.BindMount{mnt}
	}
	if spec.Volumes, err = r.appVolumeMounts(ctx, a); err != nil {
		return docker.ServiceSpec{}, err
	}
	return spec, nil
}

// appVolumeMounts are the app's named volumes as mounts. Docker creates a
// volume, with its labels, on the node where a task first mounts it.
func (r *Runner) appVolumeMounts(ctx context.Context, a *db.App) ([]docker.VolumeMount, error) {
	vols, err := r.store.AppVolumes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	var out []docker.VolumeMount
	for _, v := range vols {
		out = append(out, docker.VolumeMount{Name: db.VolumeName(a.AppName, v.Name), Target: v.Path, Labels: volumeLabels(a.AppName, v.Name)})
	}
	return out, nil
}

// volumeLabels mark an app's Docker volume so cleanup can find it.
func volumeLabels(app, volume string) map[string]string {
	return map[string]string{docker.LabelApp: app, docker.LabelVolume: volume}
}

// probePath is where the probe binary appears inside app containers.
const probePath = "/.dokploy/probe"

// httpHealthCheck turns the app's HTTP health check into a Swarm health
// check run by the mounted probe binary.
func (r *Runner) httpHealthCheck(a *db.App) (*docker.HealthCheck, docker.BindMount, error) {
	if r.opts.ProbeBinary == "" {
		return nil, docker.BindMount{}, fmt.Errorf("HTTP health checks need the probe binary (DOKPLOY_PROBE_BINARY)")
	}
	port := a.HealthPort
	if port == 0 {
		port = a.Port
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, a.HealthPath)
	hc := &docker.HealthCheck{
		Test:        []string{"CMD", probePath, "probe", url, strconv.Itoa(a.HealthStatus)},
		Interval:    time.Duration(a.HealthInterval) * time.Second,
		Timeout:     time.Duration(a.HealthTimeout) * time.Second,
		Retries:     a.HealthRetries,
		StartPeriod: time.Duration(a.HealthStartPeriod) * time.Second,
	}
	mnt := docker.BindMount{Source: r.opts.ProbeBinary, Target: probePath, ReadOnly: true}
	return hc, mnt, nil
}

// removeImageTag drops the image a failed or cancelled deployment built so
// nothing half-made is left behind. Errors only mean there is nothing to do.
func (r *Runner) removeImageTag(ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = r.docker.RemoveImage(ctx, ref)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
