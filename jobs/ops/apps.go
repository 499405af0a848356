package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"dokploy/db"
	"dokploy/jobs/git"
)

// AppExtras are the parts of an app stored beside its row. A nil field
// is left as it is; the front-ends set only what the user sent.
type AppExtras struct {
	Secrets       db.SecretUpdate
	Env           *[]db.Variable
	BuildArgs     *[]db.Variable
	Ports         *[]db.Port
	Volumes       *[]db.AppVolume
	Webhook       *WebhookUpdate
	WebhookSecret *string
}

// WebhookUpdate changes the settings that were sent and keeps the rest.
// The front-ends validate them with package webhook, which owns their
// rules (watch-path globs are its matcher's).
type WebhookUpdate struct {
	DeployOn   *string
	WatchPaths *[]string
	AutoDeploy *bool
}

// validate checks the extras as ValidateApp checks the row; published
// ports may not take one of reserved.
func (x *AppExtras) validate(reserved map[int]string) error {
	for field, vars := range map[string]*[]db.Variable{"env": x.Env, "build_args": x.BuildArgs} {
		if vars == nil {
			continue
		}
		if err := ValidateVariables(*vars); err != nil {
			return fieldError(field, err.Error())
		}
	}
	if x.Ports != nil {
		if err := ValidatePorts(*x.Ports, reserved); err != nil {
			return fieldError("ports", err.Error())
		}
	}
	if x.Volumes != nil {
		if err := ValidateVolumes(*x.Volumes); err != nil {
			return fieldError("volumes", err.Error())
		}
	}
	return nil
}

// CreateApp validates a (its EnvironmentID already resolved by the
// front-end) and its extras, then stores them in one transaction: nothing
// half-made stays behind. a gets its generated fields.
func (s *Service) CreateApp(ctx context.Context, a *db.App, x AppExtras) error {
	if errs := ValidateApp(a); len(errs) > 0 {
		return FieldErrors(errs)
	}
	if err := x.validate(s.reserved); err != nil {
		return err
	}
	err := s.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.CreateApp(ctx, a); err != nil {
			return err
		}
		return saveExtras(ctx, tx, a.ID, x)
	})
	if errors.Is(err, db.ErrConflict) && !isPortConflict(err) {
		return conflict("app_name", "app name %q is taken; app names are unique across all projects", a.AppName)
	}
	return portConflict(err)
}

// UpdateApp validates and saves an app's settings and extras in one
// transaction. They apply on the next deploy.
func (s *Service) UpdateApp(ctx context.Context, a *db.App, x AppExtras) error {
	if errs := ValidateApp(a); len(errs) > 0 {
		return FieldErrors(errs)
	}
	if err := x.validate(s.reserved); err != nil {
		return err
	}
	var changes db.AuditChanges
	err := s.store.InTx(ctx, func(tx *db.Store) error {
		before, err := tx.App(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		if err := saveExtras(ctx, tx, a.ID, x); err != nil {
			return err
		}
		after, err := tx.App(ctx, a.ID)
		if err != nil {
			return err
		}
		changes = db.FieldChanges(before, after, appAuditSkip...)
		return nil
	})
	if err == nil {
		db.NoteChanges(ctx, changes)
	}
	return portConflict(err)
}

// appAuditSkip are the app's columns the audit log's diff leaves out:
// ids, times, state the platform keeps, names joined for display.
var appAuditSkip = []string{"id", "environment_id", "status", "current_image", "current_commit",
	"created_at", "updated_at", "project_id", "project_name", "environment_name"}

// setVariables replaces a service's variables of one kind and notes, for
// the audit log, which keys were added, changed or removed (never a
// value).
func setVariables(ctx context.Context, tx *db.Store, id int64, kind string, vars []db.Variable) error {
	before, err := tx.AppVariables(ctx, id, kind)
	if err != nil {
		return err
	}
	if err := tx.SetAppVariables(ctx, id, kind, vars); err != nil {
		return err
	}
	prefix := "env."
	if kind == db.VarBuildArg {
		prefix = "build_arg."
	}
	db.NoteChanges(ctx, db.VariableChanges(prefix, before, vars))
	return nil
}

// portsConflict marks the store's refusal of a published port that
// another app holds, so it is told apart from a taken app name.
type portsConflict struct{ error }

func (p portsConflict) Unwrap() error { return p.error }

func isPortConflict(err error) bool {
	var pc portsConflict
	return errors.As(err, &pc)
}

// portConflict turns a published-port clash into a ConflictError on "ports".
func portConflict(err error) error {
	var pc portsConflict
	if errors.As(err, &pc) {
		return conflict("ports", "%s", pc.error.Error())
	}
	return err
}

func saveExtras(ctx context.Context, tx *db.Store, appID int64, x AppExtras) error {
	if x.Env != nil {
		if err := setVariables(ctx, tx, appID, db.VarEnv, *x.Env); err != nil {
			return err
		}
	}
	if x.BuildArgs != nil {
		if err := setVariables(ctx, tx, appID, db.VarBuildArg, *x.BuildArgs); err != nil {
			return err
		}
	}
	if x.Ports != nil {
		if err := tx.SetAppPorts(ctx, appID, *x.Ports); errors.Is(err, db.ErrConflict) {
			return portsConflict{err}
		} else if err != nil {
			return err
		}
	}
	if x.Volumes != nil {
		if err := tx.SetAppVolumes(ctx, appID, *x.Volumes); err != nil {
			return err
		}
	}
	if x.Webhook != nil {
		hook, err := tx.AppWebhook(ctx, appID)
		if err != nil {
			return err
		}
		set := db.WebhookSettings{DeployOn: hook.DeployOn, WatchPaths: hook.WatchPaths, AutoDeploy: hook.AutoDeploy}
		setIf(&set.DeployOn, x.Webhook.DeployOn)
		setIf(&set.WatchPaths, x.Webhook.WatchPaths)
		setIf(&set.AutoDeploy, x.Webhook.AutoDeploy)
		if err := tx.UpdateWebhookSettings(ctx, appID, set); err != nil {
			return err
		}
	}
	if x.WebhookSecret != nil {
		if err := tx.SetWebhookSecret(ctx, appID, *x.WebhookSecret); err != nil {
			return err
		}
	}
	return tx.SetAppSecrets(ctx, appID, x.Secrets)
}

// SetEnv replaces the app's environment variables.
func (s *Service) SetEnv(ctx context.Context, a *db.App, vars []db.Variable) error {
	return s.UpdateExtras(ctx, a, AppExtras{Env: &vars})
}

// SetVolumes replaces the app's volumes; they apply on the next deploy.
func (s *Service) SetVolumes(ctx context.Context, a *db.App, vols []db.AppVolume) error {
	return s.UpdateExtras(ctx, a, AppExtras{Volumes: &vols})
}

// SetPorts replaces the app's published ports.
func (s *Service) SetPorts(ctx context.Context, a *db.App, ports []db.Port) error {
	return s.UpdateExtras(ctx, a, AppExtras{Ports: &ports})
}

// UpdateExtras validates and saves only extras, in one transaction.
func (s *Service) UpdateExtras(ctx context.Context, a *db.App, x AppExtras) error {
	if err := x.validate(s.reserved); err != nil {
		return err
	}
	return portConflict(s.store.InTx(ctx, func(tx *db.Store) error { return saveExtras(ctx, tx, a.ID, x) }))
}

// DeleteApp removes the app's service and images, then its rows, then
// its routing file. A service Docker refuses to remove keeps the rows, so
// the user can retry.
func (s *Service) DeleteApp(ctx context.Context, a *db.App) error {
	if err := s.runner.RemoveApp(ctx, a); err != nil {
		return &EngineError{Msg: "Could not remove the app's service: " + err.Error(), Err: err}
	}
	if err := s.store.DeleteApp(ctx, a.ID); err != nil {
		return err
	}
	// The app's domains went with it (cascade); Sync deletes its Traefik
	// file. The app is gone either way, so a failed Sync is only logged
	// (by Sync) and retried by the next one.
	_, _ = s.routing.Sync(ctx)
	return nil
}

// Deploy queues a deployment of the app.
func (s *Service) Deploy(ctx context.Context, a *db.App, trigger, by string) (*db.Deployment, error) {
	d, err := s.store.CreateDeployment(ctx, a.ID, trigger, by)
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, d)
	return d, nil
}

// Rollback queues a deployment that puts deployment id's image back
// into service, with no build.
func (s *Service) Rollback(ctx context.Context, id int64, by string) (*db.Deployment, error) {
	from, err := s.store.Deployment(ctx, id)
	if err != nil {
		return nil, err
	}
	create := s.store.CreateRollback
	if from.ServiceKind == db.KindCompose {
		create = s.store.CreateComposeRollback
	}
	d, err := create(ctx, from, by)
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("", "%s", err.Error())
	}
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, d)
	return d, nil
}

// CancelDeployment cancels a queued deployment at once and asks the
// worker running one to stop; a finished one is a ConflictError.
func (s *Service) CancelDeployment(ctx context.Context, id int64) (*db.Deployment, error) {
	if _, err := s.store.RequestCancel(ctx, id); errors.Is(err, db.ErrConflict) {
		return nil, conflict("", "deployment already finished")
	} else if err != nil {
		return nil, err
	}
	return s.store.Deployment(ctx, id)
}

// enqueue hands a queued deployment to the workers. If Redis is down the row
// stays queued in PostgreSQL and the workers' re-enqueue loop picks it up
// once Redis is back, so the request still succeeds.
func (s *Service) enqueue(ctx context.Context, d *db.Deployment) {
	if err := s.runner.Enqueue(ctx, d.ID); err != nil {
		slog.Warn("deployment queued in PostgreSQL only; it starts when Redis is back", "deployment", d.ID, "err", err)
	}
}

// StopApp scales the app's service to zero.
func (s *Service) StopApp(ctx context.Context, a *db.App) error {
	return engine(s.runner.StopApp(ctx, a))
}

// StartApp scales the app's service back to its replicas.
func (s *Service) StartApp(ctx context.Context, a *db.App) error {
	return engine(s.runner.StartApp(ctx, a))
}

// RestartApp restarts the app's tasks without a rebuild.
func (s *Service) RestartApp(ctx context.Context, a *db.App) error {
	return engine(s.runner.RestartApp(ctx, a))
}

func engine(err error) error {
	if err == nil {
		return nil
	}
	return &EngineError{Msg: "Docker refused: " + err.Error(), Err: err}
}

// NewDeployKey replaces the app's SSH deploy key and returns its public
// half; the private key is stored encrypted and never shown.
func (s *Service) NewDeployKey(ctx context.Context, a *db.App) (string, error) {
	private, public, err := git.GenerateDeployKey()
	if err != nil {
		return "", fmt.Errorf("generate deploy key: %w", err)
	}
	priv := string(private)
	return public, s.store.SetAppSecrets(ctx, a.ID, db.SecretUpdate{GitSSHKey: &priv, GitSSHPublicKey: &public})
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
