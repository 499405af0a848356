package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/engines"
)

// artifactOf loads the artifact a restore or drill operation reads, and
// checks it can still be read back.
func (r *Runner) artifactOf(ctx context.Context, d *db.Deployment) (*db.BackupRun, error) {
	if d.BackupRunID == nil {
		return nil, errors.New("this operation names no backup (was it deleted?)")
	}
	run, err := r.store.BackupRun(ctx, *d.BackupRunID)
	if err != nil {
		return nil, err
	}
	switch {
	case !run.Succeeded():
		return nil, fmt.Errorf("backup #%d did not complete, so there is nothing to restore", run.ID)
	case run.DeletedAt != nil:
		return nil, fmt.Errorf("backup #%d was deleted by retention on %s", run.ID, run.DeletedAt.UTC().Format(time.DateTime))
	case run.DestinationID == nil:
		return nil, fmt.Errorf("the destination of backup #%d was deleted", run.ID)
	}
	return run, nil
}

// sourceDatabaseName is the engine database an artifact was taken of
// (MongoDB restores rename from it).
func (r *Runner) sourceDatabaseName(ctx context.Context, run *db.BackupRun, fallback string) string {
	if src, err := r.store.Database(ctx, run.ServiceID); err == nil {
		return src.DatabaseName
	}
	return fallback
}

// restoreDatabase restores an artifact into the database: the sha256 is
// checked first, then (when the artifact is the database's own, which has
// data) a safety backup is taken, then the artifact replaces what it
// holds. Any failure before the last step changes nothing.
func (r *Runner) restoreDatabase(ctx context.Context, d *db.Deployment, dbase *db.Database, sec db.DatabaseSecrets, limits db.DeployLimits, logw *deployLog) error {
	log := logw.Line
	run, err := r.artifactOf(ctx, d)
	if err != nil {
		return err
	}
	spec, err := engines.RestoreArtifact(dbase, sec, run.Format, r.sourceDatabaseName(ctx, run, dbase.DatabaseName))
	if err != nil {
		return err
	}
	st, err := r.openVerified(ctx, run, logw)
	if err != nil {
		return err
	}
	if run.ServiceID == dbase.ID {
		err := r.takeSafetyBackup(ctx, run, d, log, func(safety *db.BackupRun) error {
			_, err := r.backupDatabase(ctx, dbase, sec, safety, false, logw)
			return err
		})
		if err != nil {
			return err
		}
	}
	log(fmt.Sprintf("Restoring backup #%d into %s", run.ID, dbase.Name))
	if dbase.Engine == db.EngineRedis {
		err = r.restoreRedis(ctx, dbase, st, run, limits, log)
	} else {
		err = r.restoreStream(ctx, st, run, spec, dbase.Name, "", log)
	}
	if err != nil {
		return fmt.Errorf("the restore failed: %w", err)
	}
	log(fmt.Sprintf("Restored backup #%d (%s) into %s", run.ID, run.ObjectKey, dbase.Name))
	return nil
}

// restoreRedis replaces a Redis database's data file: the service stops,
// a helper container removes the append-only files (else they would win
// over the snapshot) and writes the RDB file into the volume, and the
// service starts again on it.
func (r *Runner) restoreRedis(ctx context.Context, dbase *db.Database, st ObjectStore, run *db.BackupRun, limits db.DeployLimits, log docker.LogFunc) error {
	cs, err := engines.Spec(dbase, db.DatabaseSecrets{})
	if err != nil {
		return err
	}
	log("Stopping " + dbase.Name + " to replace its data file")
	if err := step(ctx, limits.Converge, "stopping the database", func(ctx context.Context) error {
		return r.docker.ScaleServiceWait(ctx, dbase.Name, 0, log)
	}); err != nil {
		return err
	}
	vol := []docker.VolumeMount{{Name: engines.VolumeName(dbase.Name), Target: cs.DataPath}}
	err = r.withHelper(ctx, docker.ContainerSpec{
		Name: dbase.Name + "-restore-" + strconv.FormatInt(run.ID, 10), Image: dbase.CurrentImage, User: "0",
		Entrypoint: []string{"rm", "-rf", cs.DataPath + "/" + engines.AOFDir, cs.DataPath + "/" + engines.RDBFile},
		Volumes:    vol, Labels: map[string]string{docker.LabelApp: dbase.Name},
	}, func(id string) error {
		if err := r.docker.StartContainer(ctx, id); err != nil {
			return err
		}
		code, err := r.docker.WaitContainer(ctx, id)
		if err == nil && code != 0 {
			err = fmt.Errorf("clearing the old data files exited with status %d", code)
		}
		if err != nil {
			return err
		}
		body, check, err := fetchArtifact(ctx, st, run)
		if err != nil {
			return err
		}
		defer body.Close()
		// The container has exited; copying into its volume still works.
		if err := r.docker.CopyFileToContainer(ctx, id, cs.DataPath, engines.RDBFile, body, run.SizeBytes, 0o644, 0, 0); err != nil {
			return err
		}
		return check()
	})
	if err == nil && dbase.RedisPersistence == db.RedisAOF {
		// With AOF on, Redis ignores an RDB file at start: turn the
		// snapshot into AOF files first.
		err = r.redisRDBToAOF(ctx, dbase, vol, log)
	}
	log("Starting " + dbase.Name + " on the restored data")
	startErr := step(context.WithoutCancel(ctx), limits.Converge, "starting the database", func(ctx context.Context) error {
		return r.docker.ScaleServiceWait(ctx, dbase.Name, 1, log)
	})
	return errors.Join(err, startErr)
}

// redisRDBToAOF starts a helper Redis on the volume with AOF off (so it
// loads dump.rdb), switches AOF on (Redis rewrites the AOF from the loaded
// data), waits for the rewrite and shuts the helper down cleanly.
func (r *Runner) redisRDBToAOF(ctx context.Context, dbase *db.Database, vol []docker.VolumeMount, log docker.LogFunc) error {
	probe := *dbase
	probe.RedisPersistence = db.RedisRDB
	psec := db.DatabaseSecrets{Password: drillPassword()}
	cs, err := engines.Spec(&probe, psec)
	if err != nil {
		return err
	}
	spec := docker.ContainerSpec{
		Name: dbase.Name + "-aof-" + drillPassword()[:6], Image: dbase.CurrentImage, Cmd: cs.Args,
		Env: []string{"REDIS_PASSWORD=" + psec.Password}, Volumes: vol, Labels: map[string]string{docker.LabelApp: dbase.Name},
	}
	if r.opts.ProbeBinary != "" {
		spec.Mounts = []docker.BindMount{{Source: r.opts.ProbeBinary, Target: probePath, ReadOnly: true}}
	}
	log("Converting the restored snapshot into append-only files")
	return r.withHelper(ctx, spec, func(id string) error {
		if err := r.docker.StartContainer(ctx, id); err != nil {
			return err
		}
		if err := r.waitEngine(ctx, id, dbase.Engine, cs, log); err != nil {
			return err
		}
		cli := func(args ...string) (string, error) {
			return r.docker.ExecInContainer(ctx, id, docker.ExecSpec{
				Cmd: append([]string{"redis-cli", "--no-auth-warning"}, args...), Env: []string{"REDISCLI_AUTH=" + psec.Password}})
		}
		if out, err := cli("CONFIG", "SET", "appendonly", "yes"); err != nil || !strings.Contains(out, "OK") {
			return fmt.Errorf("switch on AOF: %v %s", err, out)
		}
		deadline := time.Now().Add(10 * time.Minute)
		for {
			out, err := cli("INFO", "persistence")
			if err != nil {
				return err
			}
			if strings.Contains(out, "aof_rewrite_in_progress:0") && strings.Contains(out, "aof_rewrite_scheduled:0") &&
				strings.Contains(out, "aof_enabled:1") {
				if !strings.Contains(out, "aof_last_bgrewrite_status:ok") {
					return errors.New("Redis could not write the append-only files from the snapshot")
				}
				break
			}
			if time.Now().After(deadline) {
				return errors.New("writing the append-only files took longer than 10 minutes")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		// SHUTDOWN closes the connection: its answer is no error to read.
		_, _ = cli("SHUTDOWN", "SAVE")
		code, err := r.docker.WaitContainer(ctx, id)
		if err == nil && code != 0 {
			err = fmt.Errorf("the helper Redis exited with status %d", code)
		}
		return err
	})
}

// withHelper creates a container, hands it to fn and removes it (with its
// anonymous volumes) whatever happens.
func (r *Runner) withHelper(ctx context.Context, spec docker.ContainerSpec, fn func(id string) error) error {
	id, err := r.docker.CreateContainer(ctx, spec)
	if err != nil {
		return err
	}
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = r.docker.RemoveContainer(rmCtx, id)
	}()
	return fn(id)
}

// drillDatabase restores an artifact (the one named, else the latest)
// into a throwaway container of the database's image with no network,
// counts what it holds, records the result on the artifact and removes
// the container. The database itself is never touched.
func (r *Runner) drillDatabase(ctx context.Context, d *db.Deployment, dbase *db.Database, sec db.DatabaseSecrets, logw *deployLog) error {
	log := logw.Line
	run, err := r.artifactOf(ctx, d)
	if err != nil {
		return err
	}
	inv, err := r.drill(ctx, dbase, run, logw)
	recordCtx := context.WithoutCancel(ctx)
	if err != nil {
		_ = r.store.RecordDrill(recordCtx, run.ID, false, logw.mask(oneLine(err.Error())))
		return fmt.Errorf("the restore drill of backup #%d failed: %w", run.ID, err)
	}
	summary := inv.Summary()
	if err := r.store.RecordDrill(recordCtx, run.ID, true, summary); err != nil {
		return err
	}
	log(fmt.Sprintf("Verified: backup #%d restores (%s)", run.ID, summary))
	return nil
}

func (r *Runner) drill(ctx context.Context, dbase *db.Database, run *db.BackupRun, logw *deployLog) (engines.Inventory, error) {
	log := logw.Line
	_, st, err := r.openRunDestination(ctx, run, logw)
	if err != nil {
		return engines.Inventory{}, err
	}
	// The throwaway engine gets its own password, and the persistence
	// that loads an RDB file.
	probe := *dbase
	probe.RedisPersistence = db.RedisRDB
	psec := db.DatabaseSecrets{Password: drillPassword(), RootPassword: drillPassword()}
	logw.Mask(psec.Password, psec.RootPassword)
	cs, err := engines.Spec(&probe, psec)
	if err != nil {
		return engines.Inventory{}, err
	}
	image := dbase.CurrentImage
	if image == "" {
		image = dbase.Image
	}
	env := make([]string, 0, len(cs.Env))
	for k, v := range cs.Env {
		env = append(env, k+"="+v)
	}
	spec := docker.ContainerSpec{
		Name: fmt.Sprintf("%s-drill-%d", dbase.Name, run.ID), Image: image, Cmd: cs.Args, Env: env,
		Labels: map[string]string{docker.LabelApp: dbase.Name, docker.LabelKind: "drill"},
	}
	if r.opts.ProbeBinary != "" {
		spec.Mounts = []docker.BindMount{{Source: r.opts.ProbeBinary, Target: probePath, ReadOnly: true}}
	}
	log(fmt.Sprintf("Restore drill: backup #%d (%s) into a throwaway %s container with no network", run.ID, humanBytes(run.SizeBytes), image))
	var inv engines.Inventory
	err = r.withHelper(ctx, spec, func(id string) error {
		if dbase.Engine == db.EngineRedis {
			body, check, err := fetchArtifact(ctx, st, run)
			if err != nil {
				return err
			}
			err = r.docker.CopyFileToContainer(ctx, id, cs.DataPath, engines.RDBFile, body, run.SizeBytes, 0o644, 0, 0)
			body.Close()
			if err == nil {
				err = check()
			}
			if err != nil {
				return err
			}
		}
		if err := r.docker.StartContainer(ctx, id); err != nil {
			return err
		}
		if err := r.waitEngine(ctx, id, dbase.Engine, cs, log); err != nil {
			return err
		}
		if dbase.Engine != db.EngineRedis {
			rs, err := engines.RestoreArtifact(&probe, psec, run.Format, r.sourceDatabaseName(ctx, run, dbase.DatabaseName))
			if err != nil {
				return err
			}
			if err := r.restoreStream(ctx, st, run, rs, "", id, log); err != nil {
				return err
			}
		}
		inv, err = r.inventory(ctx, id, &probe, psec)
		return err
	})
	return inv, err
}

// waitEngine waits until the drill container's engine answers its
// readiness probe (or, without the probe binary, its count query).
func (r *Runner) waitEngine(ctx context.Context, id, engine string, cs engines.ContainerSpec, log docker.LogFunc) error {
	deadline := time.Now().Add(time.Duration(cs.ReadyGrace+60) * time.Second)
	cmd := append([]string{probePath}, cs.ProbeArgs...)
	for {
		running, code, err := r.docker.ContainerRunning(ctx, id)
		if err != nil {
			return err
		}
		if !running {
			return fmt.Errorf("the throwaway %s exited with status %d before it was ready", engine, code)
		}
		if r.opts.ProbeBinary == "" {
			return nil // the count below retries instead
		}
		if _, err := r.docker.ExecInContainer(ctx, id, docker.ExecSpec{Cmd: cmd}); err == nil {
			log("The throwaway " + engine + " is ready")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the throwaway %s was not ready after %s", engine, time.Until(deadline).Abs().Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// inventory counts the tables and rows (collections, keys) in the drill
// container.
func (r *Runner) inventory(ctx context.Context, id string, d *db.Database, sec db.DatabaseSecrets) (engines.Inventory, error) {
	list, err := engines.ListTables(d, sec)
	if err != nil {
		return engines.Inventory{}, err
	}
	out, err := r.docker.ExecInContainer(ctx, id, docker.ExecSpec{Cmd: list.Cmd, Env: list.Env, User: list.User, Stdin: list.Stdin})
	if err != nil {
		return engines.Inventory{}, fmt.Errorf("count the restored data: %w", err)
	}
	switch {
	case d.Engine == db.EngineRedis:
		return engines.ParseKeyspace(out), nil
	case engines.NeedsCountStep(d.Engine):
		tables := engines.ParseTableList(out)
		if len(tables) == 0 {
			return engines.Inventory{Noun: "tables"}, nil
		}
		count := engines.CountTables(d, sec, tables)
		out, err = r.docker.ExecInContainer(ctx, id, docker.ExecSpec{Cmd: count.Cmd, Env: count.Env, Stdin: count.Stdin})
		if err != nil {
			return engines.Inventory{}, fmt.Errorf("count the restored rows: %w", err)
		}
		return engines.ParseCounts(out, "tables")
	case d.Engine == db.EngineMongo:
		return engines.ParseCounts(out, "collections")
	}
	return engines.ParseCounts(out, "tables")
}

// drillPassword is a throwaway engine's password: hex, safe in every
// engine's configuration syntax.
func drillPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
