package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"

	"dokploy/db"
	"dokploy/jobs/docker"
)

// An app volume's artifact: a gzipped tar stream of the volume's tree,
// made and read back by the hidden volume-tar and volume-untar
// subcommands of the probe binary inside a helper container.
const (
	VolumeFormat = "volume-tar-gzip"
	volumeEngine = "volume"
	volumeExt    = ".tar.gz"
	// volumeMount is where helpers see the volume.
	volumeMount = "/data"
)

// runVolumeOperation runs the backup or restore of an app's volume.
func (r *Runner) runVolumeOperation(ctx context.Context, d *db.Deployment, logw *deployLog) error {
	a, err := r.store.App(ctx, d.ServiceID)
	if err != nil {
		return fmt.Errorf("load app: %w", err)
	}
	limits, err := r.store.DeployLimits(ctx)
	if err != nil {
		return err
	}
	switch d.Action {
	case db.ActionBackup:
		run, err := r.store.BackupRunOf(ctx, d.ID)
		if err != nil {
			return err
		}
		_, err = r.backupVolume(ctx, a, run, false, limits, logw)
		return err
	case db.ActionRestore:
		return r.restoreVolume(ctx, d, a, limits, logw)
	}
	return fmt.Errorf("applications have no %q operation", d.Action)
}

// volumeOf is the app's volume a run copies: it must still be declared.
func (r *Runner) volumeOf(ctx context.Context, a *db.App, run *db.BackupRun) (*db.AppVolume, error) {
	if run.Volume == nil {
		return nil, fmt.Errorf("backup #%d names no volume of %s", run.ID, a.AppName)
	}
	vols, err := r.store.AppVolumes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for i := range vols {
		if vols[i].Name == *run.Volume {
			return &vols[i], nil
		}
	}
	return nil, fmt.Errorf("%s no longer declares the volume %q: add it again under Volumes", a.AppName, *run.Volume)
}

// volumeHelper is the spec of a helper container on the app's volume: the
// app's current image (it is on this node, where the app ran), as root,
// with no network, running the probe binary's args.
func (r *Runner) volumeHelper(a *db.App, vol *db.AppVolume, name string, readOnly bool, args ...string) (docker.ContainerSpec, error) {
	if r.opts.ProbeBinary == "" {
		return docker.ContainerSpec{}, errors.New("volume backups need the probe binary (DOKPLOY_PROBE_BINARY)")
	}
	if a.CurrentImage == "" {
		return docker.ContainerSpec{}, fmt.Errorf("%s has not been deployed yet, so its volume holds nothing", a.AppName)
	}
	return docker.ContainerSpec{
		Name: name, Image: a.CurrentImage, User: "0",
		Entrypoint: append([]string{probePath}, args...),
		Mounts:     []docker.BindMount{{Source: r.opts.ProbeBinary, Target: probePath, ReadOnly: true}},
		Volumes: []docker.VolumeMount{{Name: db.VolumeName(a.AppName, vol.Name), Target: volumeMount, ReadOnly: readOnly,
			Labels: volumeLabels(a.AppName, vol.Name)}},
		Labels: map[string]string{docker.LabelApp: a.AppName, docker.LabelKind: "volume-helper"},
	}, nil
}

// backupVolume streams a tar of the volume from a helper container into
// the destination (storeArtifact). A plan's own run stops the app during
// the copy when the plan says so, starts it again whatever happens, and
// applies retention; a restore's safety run (safety) does neither, the
// restore has stopped the app already.
func (r *Runner) backupVolume(ctx context.Context, a *db.App, run *db.BackupRun, safety bool, limits db.DeployLimits, logw *deployLog) (*db.BackupRun, error) {
	log := logw.Line
	vol, err := r.volumeOf(ctx, a, run)
	if err != nil {
		return nil, err
	}
	dockerVolume := db.VolumeName(a.AppName, vol.Name)
	spec, err := r.volumeHelper(a, vol, fmt.Sprintf("%s-volume-backup-%d", a.AppName, run.ID), true, "volume-tar", volumeMount)
	if err != nil {
		return nil, err
	}
	if ok, err := r.docker.VolumeExists(ctx, dockerVolume); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("the Docker volume %s is not on this node: it is created where the app first runs with it, and a volume lives on one node", dockerVolume)
	}
	if !r.docker.HasImage(ctx, a.CurrentImage) {
		return nil, fmt.Errorf("the image %s of %s is not on this node: the volume lives on the node the app runs on", a.CurrentImage, a.AppName)
	}
	u, err := r.beginArtifact(ctx, run, a.AppName, a.AppName+"-"+vol.Name, volumeExt, logw)
	if err != nil {
		return nil, err
	}
	u.announce(fmt.Sprintf("volume %s of %s (%s, mounted at %s)", vol.Name, a.AppName, dockerVolume, vol.Path), log)
	restart := func() error { return nil }
	if !safety && u.plan != nil && u.plan.StopDuringBackup {
		if restart, err = r.stopApp(ctx, a, limits, log); err != nil {
			return nil, errors.Join(err, restart())
		}
	}
	done, err := r.storeArtifact(ctx, u, artifactFacts{
		ContentType: "application/gzip", Gzip: true,
		Artifact: db.BackupArtifact{Engine: volumeEngine, EngineVersion: "tar", Format: VolumeFormat},
		Sidecar:  BackupSidecar{Database: a.AppName, Engine: volumeEngine, EngineVersion: "tar", Format: VolumeFormat, Volume: vol.Name},
	}, func(out io.Writer) error {
		return r.withHelper(ctx, spec, func(id string) error {
			return r.docker.RunContainer(ctx, id, nil, out, func(line string) { log("volume-tar: " + line) })
		})
	}, log)
	if err := errors.Join(err, restart()); err != nil {
		return nil, err
	}
	if !safety && u.plan != nil {
		r.applyRetention(ctx, u.plan, u.st, log)
	}
	return done, nil
}

// stopApp scales the app's service to zero and returns what starts it
// again with the replicas it had; both wait for Swarm. An app not running
// is left alone (and not started after).
func (r *Runner) stopApp(ctx context.Context, a *db.App, limits db.DeployLimits, log docker.LogFunc) (func() error, error) {
	noop := func() error { return nil }
	state, err := r.docker.ServiceInfo(ctx, a.AppName)
	if err != nil {
		return noop, err
	}
	if !state.Exists || state.Replicas == 0 {
		log(a.AppName + " is not running: nothing to stop")
		return noop, nil
	}
	replicas := uint64(state.Replicas)
	start := func() error {
		log(fmt.Sprintf("Starting %s again (%d replica(s))", a.AppName, replicas))
		return step(context.WithoutCancel(ctx), limits.Converge, "starting the app again", func(ctx context.Context) error {
			return r.docker.ScaleServiceWait(ctx, a.AppName, replicas, log)
		})
	}
	log("Stopping " + a.AppName + " so its files do not change during the copy")
	err = step(ctx, limits.Converge, "stopping the app", func(ctx context.Context) error {
		return r.docker.ScaleServiceWait(ctx, a.AppName, 0, log)
	})
	if err != nil {
		return start, err // it may have stopped partly: start it again
	}
	return start, nil
}

// restoreVolume restores an artifact into the app's volume: the sha256 is
// checked first, the app stops, a safety backup of the volume is taken
// (when it has data), a helper empties the volume and extracts the
// artifact into it, and the app starts again whatever happened.
func (r *Runner) restoreVolume(ctx context.Context, d *db.Deployment, a *db.App, limits db.DeployLimits, logw *deployLog) error {
	log := logw.Line
	run, err := r.artifactOf(ctx, d)
	if err != nil {
		return err
	}
	if run.Format != VolumeFormat {
		return fmt.Errorf("backup #%d is a %s artifact, not a volume's", run.ID, run.Format)
	}
	vol, err := r.volumeOf(ctx, a, run)
	if err != nil {
		return err
	}
	spec, err := r.volumeHelper(a, vol, fmt.Sprintf("%s-volume-restore-%d", a.AppName, d.ID), false, "volume-untar", volumeMount)
	if err != nil {
		return err
	}
	spec.Stdin = true
	st, err := r.openVerified(ctx, run, logw)
	if err != nil {
		return err
	}
	restart, err := r.stopApp(ctx, a, limits, log)
	if err != nil {
		return errors.Join(err, restart())
	}
	err = r.replaceVolume(ctx, d, a, vol, run, st, spec, limits, logw)
	return errors.Join(err, restart())
}

func (r *Runner) replaceVolume(ctx context.Context, d *db.Deployment, a *db.App, vol *db.AppVolume, run *db.BackupRun, st ObjectStore,
	spec docker.ContainerSpec, limits db.DeployLimits, logw *deployLog) error {
	log := logw.Line
	dockerVolume := db.VolumeName(a.AppName, vol.Name)
	exists, err := r.docker.VolumeExists(ctx, dockerVolume)
	if err != nil {
		return err
	}
	if exists {
		err := r.takeSafetyBackup(ctx, run, d, log, func(safety *db.BackupRun) error {
			_, err := r.backupVolume(ctx, a, safety, true, limits, logw)
			return err
		})
		if err != nil {
			return err
		}
	} else {
		log("The volume " + dockerVolume + " does not exist yet: it is created empty, so there is nothing to save first")
	}
	log(fmt.Sprintf("Restoring backup #%d into volume %s (%s)", run.ID, vol.Name, dockerVolume))
	err = r.withHelper(ctx, spec, func(id string) error {
		return streamArtifact(ctx, st, run, true, log, func(in io.Reader) error {
			return r.docker.RunContainer(ctx, id, in, io.Discard, func(line string) { log("volume-untar: " + line) })
		})
	})
	if err != nil {
		return fmt.Errorf("the restore failed (the safety backup, if taken, holds the data from before): %w", err)
	}
	log(fmt.Sprintf("Restored backup #%d (%s) into volume %s of %s", run.ID, run.ObjectKey, vol.Name, a.AppName))
	return nil
}
