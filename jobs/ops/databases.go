package ops

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/engines"
)

// DatabaseExtras are the parts of a database stored beside its row. A nil
// field is left as it is.
type DatabaseExtras struct {
	RegistryPassword *string
	Env              *[]db.Variable
	// ExternalPort publishes the engine's port on the nodes in host mode;
	// 0 removes it.
	ExternalPort *int
}

// Passwords are generated from an alphabet that needs no escaping in a
// URL, an env file, SQL or a Redis config line.
const (
	passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	passwordLength   = 32
)

var (
	dbIdentRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	userPassword = regexp.MustCompile(`^[A-Za-z0-9._~-]{16,128}$`)
)

// GeneratePassword returns a random password of passwordLength characters
// from crypto/rand, uniform over the alphabet.
func GeneratePassword() (string, error) {
	max := big.NewInt(int64(len(passwordAlphabet)))
	out := make([]byte, passwordLength)
	for i := range out {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		out[i] = passwordAlphabet[n.Int64()]
	}
	return string(out), nil
}

// ValidatePassword checks a password the user typed.
func ValidatePassword(p string) error {
	if !userPassword.MatchString(p) {
		return errors.New("password must be 16 to 128 characters of letters, digits and . _ ~ - (leave it empty to generate one)")
	}
	return nil
}

// NewDatabase fills a database's defaults from its engine: the image, and
// the database and user names from the service name.
func NewDatabase(environmentID int64, engine, name string) *db.Database {
	d := &db.Database{EnvironmentID: environmentID, Engine: engine, Name: name, RedisPersistence: db.RedisAOF}
	if e, ok := engines.Lookup(engine); ok {
		d.Image = e.DefaultImage
	}
	return d
}

// applyNameDefaults derives the database and user names from the service
// name where the engine has them and the user left them empty.
func applyNameDefaults(d *db.Database) {
	e, ok := engines.Lookup(d.Engine)
	if !ok {
		return
	}
	ident := strings.ReplaceAll(d.Name, "-", "_")
	if e.HasDatabase && d.DatabaseName == "" {
		d.DatabaseName = ident
	}
	if e.HasUser && d.Username == "" {
		d.Username = ident
	}
	if !e.HasDatabase {
		d.DatabaseName = ""
	}
	if !e.HasUser {
		d.Username = ""
	}
	if d.Image == "" {
		d.Image = e.DefaultImage
	}
	if d.Engine != db.EngineRedis {
		d.RedisPersistence = db.RedisAOF
	} else if d.RedisPersistence == "" {
		d.RedisPersistence = db.RedisAOF
	}
}

// ValidateDatabase checks a database's settings, one message per field.
func ValidateDatabase(d *db.Database) map[string]string {
	errs := map[string]string{}
	e, ok := engines.Lookup(d.Engine)
	if !ok {
		errs["engine"] = fmt.Sprintf("engine must be one of %s", strings.Join(engines.IDs(), ", "))
		return errs
	}
	if err := ValidateAppName(d.Name); err != nil {
		errs["name"] = strings.Replace(err.Error(), "app name", "name", 1)
	}
	if err := docker.ValidateImageRef(d.Image); err != nil {
		errs["image"] = err.Error()
	}
	validateRegistry(d.RegistryServer, d.RegistryUsername, errs)
	if e.HasDatabase && (!dbIdentRe.MatchString(d.DatabaseName) || len(d.DatabaseName) > 63) {
		errs["database"] = "database name must start with a letter or _ and use letters, digits and _ (at most 63)"
	}
	if e.HasUser {
		maxUser := 63
		if d.Engine == db.EngineMySQL || d.Engine == db.EngineMariaDB {
			maxUser = 32
		}
		switch {
		case !dbIdentRe.MatchString(d.Username) || len(d.Username) > maxUser:
			errs["user"] = fmt.Sprintf("user must start with a letter or _ and use letters, digits and _ (at most %d)", maxUser)
		case (d.Engine == db.EngineMySQL || d.Engine == db.EngineMariaDB) && strings.EqualFold(d.Username, "root"):
			errs["user"] = "user cannot be root: the image creates root itself with its own password"
		}
	}
	validateLimits(d.MemoryLimitMB, d.CPULimit, errs)
	for k, v := range ValidatePlacement(d.PlacementConstraints, d.MaxReplicasPerNode) {
		errs[k] = v
	}
	if len(d.Args) > 64 {
		errs["args"] = "at most 64 arguments"
	}
	for _, a := range d.Args {
		if len(a) > 1024 || strings.ContainsAny(a, "\x00\n\r") {
			errs["args"] = "each argument must be one line of at most 1024 characters"
			break
		}
	}
	switch d.RedisPersistence {
	case db.RedisAOF, db.RedisRDB, db.RedisNone:
	default:
		errs["redis_persistence"] = "persistence must be aof, rdb or none"
	}
	return errs
}

// validate checks the extras; the external port may not take a port of
// reserved, and the env may not set the engine's own variables.
func (x *DatabaseExtras) validate(d *db.Database, reserved map[int]string) error {
	if x.Env != nil {
		if err := ValidateVariables(*x.Env); err != nil {
			return fieldError("env", err.Error())
		}
		own, _ := engines.Spec(d, db.DatabaseSecrets{})
		for _, v := range *x.Env {
			if _, taken := own.Env[v.Key]; taken {
				return fieldError("env", fmt.Sprintf("%s is set by dokploy from the database's settings; change those instead", v.Key))
			}
		}
	}
	if x.ExternalPort != nil && *x.ExternalPort != 0 {
		if err := ValidatePorts(x.ports(d), reserved); err != nil {
			return fieldError("external_port", err.Error())
		}
	}
	return nil
}

// ports is the service_ports form of the external port.
func (x *DatabaseExtras) ports(d *db.Database) []db.Port {
	if x.ExternalPort == nil || *x.ExternalPort == 0 {
		return []db.Port{}
	}
	e, _ := engines.Lookup(d.Engine)
	return []db.Port{{Published: *x.ExternalPort, Target: e.Port, Protocol: "tcp", Mode: "host"}}
}

func saveDatabaseExtras(ctx context.Context, tx *db.Store, d *db.Database, x DatabaseExtras) error {
	if x.Env != nil {
		if err := setVariables(ctx, tx, d.ID, db.VarEnv, *x.Env); err != nil {
			return err
		}
	}
	if x.ExternalPort != nil {
		if err := tx.SetAppPorts(ctx, d.ID, x.ports(d)); errors.Is(err, db.ErrConflict) {
			return portsConflict{err}
		} else if err != nil {
			return err
		}
	}
	if x.RegistryPassword != nil {
		return tx.SetDatabaseRegistryPassword(ctx, d.ID, *x.RegistryPassword)
	}
	return nil
}

// CreateDatabase validates d (its EnvironmentID resolved by the front-end),
// generates its passwords, stores it with its extras in one transaction
// and queues its first deploy. d gets its generated fields.
func (s *Service) CreateDatabase(ctx context.Context, d *db.Database, x DatabaseExtras, by string) (*db.Deployment, error) {
	applyNameDefaults(d)
	if errs := ValidateDatabase(d); len(errs) > 0 {
		return nil, FieldErrors(errs)
	}
	if err := x.validate(d, s.reserved); err != nil {
		return nil, err
	}
	var sec db.DatabaseSecrets
	var err error
	if sec.Password, err = GeneratePassword(); err != nil {
		return nil, err
	}
	if d.Engine == db.EngineMySQL || d.Engine == db.EngineMariaDB {
		if sec.RootPassword, err = GeneratePassword(); err != nil {
			return nil, err
		}
	}
	if x.RegistryPassword != nil {
		sec.RegistryPassword = *x.RegistryPassword
	}
	var dep *db.Deployment
	err = s.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.CreateDatabase(ctx, d, sec); err != nil {
			return err
		}
		if err := saveDatabaseExtras(ctx, tx, d, DatabaseExtras{Env: x.Env, ExternalPort: x.ExternalPort}); err != nil {
			return err
		}
		dep, err = tx.CreateDeployment(ctx, d.ID, "user", by)
		return err
	})
	if errors.Is(err, db.ErrConflict) && !isPortConflict(err) {
		return nil, conflict("name", "name %q is taken; names are unique across apps, databases and stacks", d.Name)
	}
	if err = portConflict(err); err != nil {
		return nil, err
	}
	s.enqueue(ctx, dep)
	return dep, nil
}

// UpdateDatabase validates and saves a database's settings and extras,
// then queues a deploy that applies them. Warnings name what the user
// should know (a major version change).
func (s *Service) UpdateDatabase(ctx context.Context, d *db.Database, x DatabaseExtras, by string) (*db.Deployment, []string, error) {
	before, err := s.store.Database(ctx, d.ID)
	if err != nil {
		return nil, nil, err
	}
	applyNameDefaults(d)
	if errs := ValidateDatabase(d); len(errs) > 0 {
		return nil, nil, FieldErrors(errs)
	}
	if err := x.validate(d, s.reserved); err != nil {
		return nil, nil, err
	}
	var warnings []string
	if w := MajorVersionWarning(before, d.Image); w != "" {
		warnings = append(warnings, w)
	}
	var dep *db.Deployment
	err = s.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.UpdateDatabase(ctx, d); err != nil {
			return err
		}
		if err := saveDatabaseExtras(ctx, tx, d, x); err != nil {
			return err
		}
		dep, err = tx.CreateDeployment(ctx, d.ID, "user", by)
		return err
	})
	if err = portConflict(err); err != nil {
		return nil, nil, err
	}
	s.enqueue(ctx, dep)
	return dep, warnings, nil
}

// MajorVersionWarning says what a change of major version means, "" when
// the major version stays (or either tag does not say).
func MajorVersionWarning(d *db.Database, image string) string {
	from, to := engines.MajorVersion(d.Image), engines.MajorVersion(image)
	if from == 0 || to == 0 || from == to {
		return ""
	}
	e, _ := engines.Lookup(d.Engine)
	if to < from {
		return fmt.Sprintf("%s %d → %d is a downgrade: older versions usually cannot read newer data files. Back up first.", e.Label, from, to)
	}
	if d.Engine == db.EnginePostgres {
		return fmt.Sprintf("PostgreSQL %d → %d: a new major version cannot read the old data directory. The database will not start until the data is dumped and restored (or pg_upgrade'd); back up first.", from, to)
	}
	return fmt.Sprintf("%s %d → %d is a major upgrade: back up first; the engine upgrades its data files on start and cannot go back.", e.Label, from, to)
}

// DeployDatabase queues a deploy of the database's current settings.
func (s *Service) DeployDatabase(ctx context.Context, d *db.Database, by string) (*db.Deployment, error) {
	return s.queue(ctx, d, db.ActionDeploy, by, "")
}

// StartDatabase, StopDatabase and RestartDatabase queue those operations;
// each finishes only when the state is real.
func (s *Service) StartDatabase(ctx context.Context, d *db.Database, by string) (*db.Deployment, error) {
	return s.queue(ctx, d, db.ActionStart, by, "")
}

func (s *Service) StopDatabase(ctx context.Context, d *db.Database, by string) (*db.Deployment, error) {
	return s.queue(ctx, d, db.ActionStop, by, "")
}

func (s *Service) RestartDatabase(ctx context.Context, d *db.Database, by string) (*db.Deployment, error) {
	return s.queue(ctx, d, db.ActionRestart, by, "")
}

// ChangeDatabasePassword queues a password change: the worker sets it in
// the running engine, then stores it, or changes neither. An empty
// password is generated.
func (s *Service) ChangeDatabasePassword(ctx context.Context, d *db.Database, password, by string) (*db.Deployment, error) {
	if password == "" {
		var err error
		if password, err = GeneratePassword(); err != nil {
			return nil, err
		}
	} else if err := ValidatePassword(password); err != nil {
		return nil, fieldError("password", err.Error())
	}
	if d.CurrentImage == "" {
		return nil, conflict("password", "the database has not run yet: deploy it first")
	}
	return s.queue(ctx, d, db.ActionPassword, by, password)
}

func (s *Service) queue(ctx context.Context, d *db.Database, action, by, secret string) (*db.Deployment, error) {
	var dep *db.Deployment
	var err error
	if action == db.ActionDeploy {
		dep, err = s.store.CreateDeployment(ctx, d.ID, "user", by)
	} else {
		dep, err = s.store.CreateOperation(ctx, d.ID, action, by, secret)
	}
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, dep)
	return dep, nil
}

// DeleteDatabase removes the database's service and, if removeVolume, its
// data volume, then its rows. Docker refusing keeps the rows, so the user
// can retry; with removeVolume false the volume stays for a database of
// the same name to use.
func (s *Service) DeleteDatabase(ctx context.Context, d *db.Database, removeVolume bool) error {
	// An operation still running could re-create the service after it is
	// removed: cancel what is queued or running and give it time to stop.
	if err := s.stopOperations(ctx, d.ID, 30*time.Second); err != nil {
		return err
	}
	if err := s.runner.RemoveDatabase(ctx, d, removeVolume); err != nil {
		return &EngineError{Msg: "Could not remove the database: " + err.Error(), Err: err}
	}
	return s.store.DeleteDatabase(ctx, d.ID)
}

// stopOperations cancels a service's queued and running operations and
// waits up to wait for the running ones to end.
func (s *Service) stopOperations(ctx context.Context, serviceID int64, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		recent, err := s.store.Deployments(ctx, serviceID, 20)
		if err != nil {
			return err
		}
		running := 0
		for _, dep := range recent {
			if dep.Finished() {
				continue
			}
			if _, err := s.store.RequestCancel(ctx, dep.ID); err != nil && !errors.Is(err, db.ErrConflict) {
				return err
			}
			if dep.Status == db.DeployRunning {
				running++
			}
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return conflict("", "an operation of this service is still running and did not stop within %s; try again when it has finished", wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// DatabaseReference is the env value that stands for a database's
// internal URL in an app; it is resolved at each deploy, so it follows
// password changes.
func DatabaseReference(name string) string { return "${{database." + name + ".url}}" }

// LinkDatabase sets key in the app's env to a reference to the database's
// internal URL, keeping the app's other variables; it applies on the
// app's next deploy.
func (s *Service) LinkDatabase(ctx context.Context, d *db.Database, a *db.App, key string) error {
	if key == "" {
		key = "DATABASE_URL"
	}
	vars, err := s.store.AppVariables(ctx, a.ID, db.VarEnv)
	if err != nil {
		return err
	}
	ref := DatabaseReference(d.Name)
	found := false
	for i := range vars {
		if vars[i].Key == key {
			vars[i].Value, found = ref, true
		}
	}
	if !found {
		vars = append(vars, db.Variable{Key: key, Value: ref})
	}
	if err := ValidateVariables(vars); err != nil {
		return fieldError("key", err.Error())
	}
	return s.SetEnv(ctx, a, vars)
}
