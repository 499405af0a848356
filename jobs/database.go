package jobs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/engines"
)

// runDatabase executes one operation of a database: deploy (create or
// update its service), start, stop, restart or a password change. Each
// waits until the state it asked for is real.
func (r *Runner) runDatabase(ctx context.Context, d *db.Deployment, logw *deployLog) error {
	dbase, err := r.store.Database(ctx, d.ServiceID)
	if err != nil {
		return fmt.Errorf("load database: %w", err)
	}
	sec, err := r.store.DatabaseSecrets(dbase)
	if err != nil {
		return err
	}
	logw.Mask(sec.Password, sec.RootPassword, sec.RegistryPassword)
	limits, err := r.store.DeployLimits(ctx)
	if err != nil {
		return err
	}
	log := logw.Line
	switch d.Action {
	case db.ActionDeploy:
		return r.deployDatabase(ctx, d, dbase, sec, limits, logw)
	case db.ActionStart:
		return r.scaleDatabase(ctx, dbase, 1, limits, log)
	case db.ActionStop:
		return r.scaleDatabase(ctx, dbase, 0, limits, log)
	case db.ActionRestart:
		log("Restarting " + dbase.Name)
		return step(ctx, limits.Converge, "the restart", func(ctx context.Context) error {
			return r.docker.RestartServiceWait(ctx, dbase.Name, log)
		})
	case db.ActionPassword:
		next, err := r.store.DeploymentSecret(d)
		if err != nil {
			return err
		}
		logw.Mask(next)
		return r.changeDatabasePassword(ctx, d, dbase, sec, next, limits, logw)
	case db.ActionBackup, db.ActionRestore, db.ActionDrill:
		return r.runBackupOperation(ctx, d, dbase, sec, limits, logw)
	}
	return fmt.Errorf("unknown operation %q", d.Action)
}

// deployDatabase pulls the image and creates or updates the service, then
// waits until the engine answers its readiness probe.
func (r *Runner) deployDatabase(ctx context.Context, d *db.Deployment, dbase *db.Database, sec db.DatabaseSecrets, limits db.DeployLimits, logw *deployLog) error {
	log := logw.Line
	var auth *docker.RegistryAuth
	if dbase.RegistryUsername != "" {
		auth = &docker.RegistryAuth{Username: dbase.RegistryUsername, Password: sec.RegistryPassword, ServerAddress: dbase.RegistryServer}
	}
	// Pull falls back to a copy already on the node when the registry is
	// unreachable, and says so in the log.
	err := step(ctx, limits.Pull, "pulling the image", func(ctx context.Context) error {
		return r.docker.Pull(ctx, dbase.Image, auth, log)
	})
	if err != nil {
		return err
	}
	if err := r.store.SetDeploymentSource(ctx, d.ID, "", "", dbase.Image); err != nil {
		return err
	}
	if from, to := engines.MajorVersion(dbase.CurrentImage), engines.MajorVersion(dbase.Image); dbase.CurrentImage != "" && from != to && from > 0 && to > 0 {
		log(fmt.Sprintf("Warning: major version change %d → %d. The data volume was written by %d; if the new version cannot read it the database will not start and the previous image keeps the data safe: deploy %s again", from, to, from, dbase.CurrentImage))
	}
	volume := engines.VolumeName(dbase.Name)
	reused, err := r.docker.VolumeExists(ctx, volume)
	if err != nil {
		return err
	}
	if reused && dbase.CurrentImage == "" {
		log(fmt.Sprintf("Found the data volume %s kept from an earlier database of this name: its data is used", volume))
	}
	spec, err := r.databaseServiceSpec(ctx, dbase, sec, d)
	if err != nil {
		return err
	}
	spec.LogDriver = docker.JSONFileLog(limits.LogMaxSize, limits.LogMaxFile)
	spec.RegistryAuth = auth
	log(fmt.Sprintf("Rolling out service %s with %s (data in volume %s at %s)", dbase.Name, dbase.Image, volume, spec.Volumes[0].Target))
	err = step(ctx, limits.Converge, "starting the database", func(ctx context.Context) error {
		return r.docker.DeployService(ctx, spec, log)
	})
	if err != nil {
		if dbase.CurrentImage == "" {
			// Nothing earlier to roll back to: stop the service rather than
			// leave it crash-looping; the volume stays.
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if r.docker.ScaleService(stopCtx, dbase.Name, 0) == nil {
				log("Stopped " + dbase.Name + " after its first deploy failed; fix the settings and deploy again (its data volume is kept)")
			}
			cancel()
		}
		if errors.Is(err, docker.ErrServiceFailed) || ctx.Err() == nil {
			return fmt.Errorf("the database did not become ready: %w", err)
		}
		return err
	}
	if reused && dbase.CurrentImage == "" {
		// The volume keeps the credentials it was initialised with; make
		// them the ones this database row holds.
		if err := r.setEnginePassword(ctx, dbase, sec, sec.Password); err != nil {
			log("Warning: could not set this database's password in the kept data (" + oneLine(err.Error()) + "); connect with the earlier password or change it here")
		} else {
			log("Set this database's password in the kept data")
		}
	}
	return r.store.SetDatabaseRunning(ctx, dbase.ID, dbase.Image)
}

// databaseServiceSpec turns a database's settings into its Swarm service:
// one replica, stop-first (two engines must never share the volume), the
// engine's readiness probe as health check, the password in env only.
func (r *Runner) databaseServiceSpec(ctx context.Context, dbase *db.Database, sec db.DatabaseSecrets, d *db.Deployment) (docker.ServiceSpec, error) {
	cs, err := engines.Spec(dbase, sec)
	if err != nil {
		return docker.ServiceSpec{}, err
	}
	extra, err := r.store.AppVariables(ctx, dbase.ID, db.VarEnv)
	if err != nil {
		return docker.ServiceSpec{}, err
	}
	env := map[string]string{}
	for _, v := range extra {
		env[v.Key] = v.Value
	}
	for k, v := range cs.Env { // the engine's own variables win
		env[k] = v
	}
	ports, err := r.store.AppPorts(ctx, dbase.ID)
	if err != nil {
		return docker.ServiceSpec{}, err
	}
	labels := map[string]string{docker.LabelKind: db.KindDatabase, docker.LabelDeployment: itoa(d.ID)}
	spec := docker.ServiceSpec{
		Name: dbase.Name, Image: dbase.Image, Env: env, Args: cs.Args, Replicas: 1,
		MemoryBytes: int64(dbase.MemoryLimitMB) * 1024 * 1024, NanoCPUs: int64(dbase.CPULimit * 1e9),
		Labels:          labels,
		StopFirst:       true,
		StopGracePeriod: time.Duration(cs.StopGrace) * time.Second,
		Volumes: []docker.VolumeMount{{Name: engines.VolumeName(dbase.Name), Target: cs.DataPath,
			Labels: map[string]string{docker.LabelApp: dbase.Name, docker.LabelKind: db.KindDatabase}}},
	}
	for _, p := range ports {
		spec.Ports = append(spec.Ports, docker.PortSpec{Published: uint32(p.Published), Target: uint32(p.Target), Protocol: p.Protocol, Mode: docker.PublishHost})
	}
	// Named volumes live on one node: a database Swarm moved to another
	// node would start there on an empty volume. It stays on the node of
	// the engine the control plane uses, where its exec operations run.
	node, err := r.docker.LocalNodeID(ctx)
	if err != nil {
		return docker.ServiceSpec{}, err
	}
	spec.Constraints = append([]string{"node.id==" + node}, dbase.PlacementConstraints...)
	spec.MaxPerNode = uint64(dbase.MaxReplicasPerNode)
	if r.opts.ProbeBinary != "" {
		spec.HealthCheck = &docker.HealthCheck{
			Test:        append([]string{"CMD", probePath}, cs.ProbeArgs...),
			Interval:    5 * time.Second,
			Timeout:     5 * time.Second,
			Retries:     5,
			StartPeriod: time.Duration(cs.ReadyGrace) * time.Second,
			// Probe every second while starting: the deploy (and the
			// user) sees the engine ready within a second of it being so.
			StartInterval: time.Second,
		}
		// Healthy already means the engine answers; a short settle
		// period still catches one that crashes right after.
		spec.MonitorPeriod = 2 * time.Second
		spec.Mounts = []docker.BindMount{{Source: r.opts.ProbeBinary, Target: probePath, ReadOnly: true}}
	}
	return spec, nil
}

// scaleDatabase starts (1) or stops (0) the service and records the
// outcome once the engine is ready or every container is gone.
func (r *Runner) scaleDatabase(ctx context.Context, dbase *db.Database, replicas uint64, limits db.DeployLimits, log docker.LogFunc) error {
	what, status := "starting", db.AppRunning
	if replicas == 0 {
		what, status = "stopping", db.AppStopped
	}
	info, err := r.docker.ServiceInfo(ctx, dbase.Name)
	if err != nil {
		return err
	}
	if !info.Exists {
		return fmt.Errorf("%s has no service yet: deploy it first", dbase.Name)
	}
	log(fmt.Sprintf("%s %s", capitalize(what), dbase.Name))
	err = step(ctx, limits.Converge, what+" the database", func(ctx context.Context) error {
		return r.docker.ScaleServiceWait(ctx, dbase.Name, replicas, log)
	})
	if err != nil {
		return err
	}
	return r.store.SetDatabaseStatus(ctx, dbase.ID, status)
}

// changeDatabasePassword sets the new password in the running engine,
// then stores it; if storing fails the engine gets the old one back, so
// the two never disagree.
func (r *Runner) changeDatabasePassword(ctx context.Context, d *db.Deployment, dbase *db.Database, sec db.DatabaseSecrets, next string, limits db.DeployLimits, logw *deployLog) error {
	log := logw.Line
	log("Changing the password of " + dbase.Name)
	if err := r.setEnginePassword(ctx, dbase, sec, next); err != nil {
		return fmt.Errorf("the engine refused the new password, nothing changed: %w", err)
	}
	if err := r.store.SetDatabasePassword(ctx, dbase.ID, next); err != nil {
		if rerr := r.setEnginePassword(context.WithoutCancel(ctx), dbase, db.DatabaseSecrets{Password: next, RootPassword: sec.RootPassword}, sec.Password); rerr != nil {
			return fmt.Errorf("could not store the new password (%v) nor restore the old one in the engine (%v): the engine now has the new password", err, rerr)
		}
		return fmt.Errorf("could not store the new password, so the old one was restored: %w", err)
	}
	log("The engine and the stored password now agree")
	if !engines.PasswordInEnvOnly(dbase.Engine) {
		return nil
	}
	// Redis reads its password from the environment at every start: roll
	// the service out with the new one so a restart keeps it.
	sec.Password = next
	spec, err := r.databaseServiceSpec(ctx, dbase, sec, d)
	if err != nil {
		return err
	}
	spec.LogDriver = docker.JSONFileLog(limits.LogMaxSize, limits.LogMaxFile)
	log("Restarting with the new password in its environment")
	return step(ctx, limits.Converge, "restarting the database", func(ctx context.Context) error {
		return r.docker.DeployService(ctx, spec, log)
	})
}

// setEnginePassword runs the engine's own password change in its container.
func (r *Runner) setEnginePassword(ctx context.Context, dbase *db.Database, sec db.DatabaseSecrets, password string) error {
	x, err := engines.ChangePassword(dbase, sec, password)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = r.docker.ExecInService(ctx, dbase.Name, docker.ExecSpec{Cmd: x.Cmd, Env: x.Env, User: x.User, Stdin: x.Stdin})
	return err
}

// RemoveDatabase removes the database's service and, when asked, its data
// volume. The volume goes only after the containers let go of it.
func (r *Runner) RemoveDatabase(ctx context.Context, dbase *db.Database, removeVolume bool) error {
	if err := r.docker.RemoveService(ctx, dbase.Name); err != nil {
		return err
	}
	if !removeVolume {
		return nil
	}
	return r.docker.RemoveVolume(ctx, engines.VolumeName(dbase.Name), time.Minute)
}

// ServiceInfo reports a service's live state from Swarm.
func (r *Runner) ServiceInfo(ctx context.Context, name string) (docker.ServiceState, error) {
	return r.docker.ServiceInfo(ctx, name)
}

// VolumeExists reports whether a named volume exists.
func (r *Runner) VolumeExists(ctx context.Context, name string) (bool, error) {
	return r.docker.VolumeExists(ctx, name)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// databaseRef is how an app's env refers to a database's internal URL
// (ops.DatabaseReference writes it).
var databaseRef = regexp.MustCompile(`\$\{\{database\.([a-z0-9-]+)\.url\}\}`)

// resolveReferences replaces database references in env values with the
// databases' current internal URLs, so an app follows password changes on
// its next deploy. A reference to a missing database fails the deploy.
// The passwords it put in are returned too, for the log to mask.
func (r *Runner) resolveReferences(ctx context.Context, vars []db.Variable) ([]db.Variable, []string, error) {
	out := make([]db.Variable, len(vars))
	var secrets []string
	for i, v := range vars {
		var missing error
		v.Value = databaseRef.ReplaceAllStringFunc(v.Value, func(ref string) string {
			name := databaseRef.FindStringSubmatch(ref)[1]
			dbase, err := r.store.DatabaseByName(ctx, name)
			if err != nil {
				missing = fmt.Errorf("env %s refers to database %q, which does not exist (any more): %w", v.Key, name, err)
				return ref
			}
			sec, err := r.store.DatabaseSecrets(dbase)
			if err != nil {
				missing = err
				return ref
			}
			secrets = append(secrets, sec.Password)
			return engines.InternalURL(dbase, sec.Password, false)
		})
		if missing != nil {
			return nil, nil, missing
		}
		out[i] = v
	}
	return out, secrets, nil
}

// Live is a service's state as Swarm sees it right now, which pages and
// the API show rather than the last intent.
type Live struct {
	State   string `json:"state"` // healthy, running, starting, updating, stopping, stopped, not deployed, unknown
	Running int    `json:"running"`
	Healthy int    `json:"healthy"`
	Desired int    `json:"desired"`
	Message string `json:"message,omitempty"`
	Image   string `json:"image,omitempty"` // the image in the service's spec
}

// Live reads the service's tasks and health. Every page of a service
// polls it: callers within Options.LiveTTL of a read (default 1 s) share
// it, so N pages open on one service cost one Docker round per TTL, and
// an action this runner takes on the service (stop, start, restart,
// remove) is seen by the next call.
func (r *Runner) Live(ctx context.Context, name string) Live {
	if r.opts.LiveTTL < 0 {
		return r.readLive(ctx, name)
	}
	return r.live.get(ctx, name, r.opts.LiveTTL, func(ctx context.Context) Live { return r.readLive(ctx, name) })
}

// readLive asks Swarm for the service's live state.
func (r *Runner) readLive(ctx context.Context, name string) Live {
	info, err := r.docker.ServiceInfo(ctx, name)
	if err != nil {
		return Live{State: "unknown", Message: "Docker did not answer: " + oneLine(err.Error())}
	}
	l := Live{Running: info.Running, Healthy: info.Healthy, Desired: info.Replicas, Message: info.Message, Image: info.Image}
	switch {
	case !info.Exists:
		l.State = "not deployed"
	case info.Replicas == 0 && info.Running == 0 && info.Exiting == 0:
		l.State = "stopped"
	case info.Replicas == 0:
		l.State = "stopping"
	case info.UpdateState == "updating":
		// A restart (or another update) is replacing the tasks.
		l.State = "updating"
	case info.Healthy >= info.Replicas && info.HasHealthCheck:
		l.State = "healthy"
	case info.Healthy >= info.Replicas:
		l.State = "running"
	default:
		l.State = "starting"
	}
	return l
}
