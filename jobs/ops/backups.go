package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/engines"
	"dokploy/jobs/objstore"
	"dokploy/jobs/schedule"
)

// ValidateDestination checks a destination's settings; secretKey is
// required when creating (isNew) and optional (kept) when updating.
func ValidateDestination(d *db.Destination, secretKey string, isNew bool) error {
	errs := FieldErrors{}
	d.Name = strings.TrimSpace(d.Name)
	switch {
	case d.Name == "":
		errs["name"] = "give the destination a name"
	case len(d.Name) > 64 || strings.IndexFunc(d.Name, unicode.IsControl) >= 0:
		errs["name"] = "the name must be one line of at most 64 characters"
	}
	d.Endpoint = strings.TrimRight(strings.TrimSpace(d.Endpoint), "/")
	d.Bucket = strings.TrimSpace(d.Bucket)
	d.Prefix = strings.Trim(strings.TrimSpace(d.Prefix), "/")
	d.AccessKey = strings.TrimSpace(d.AccessKey)
	d.Region = strings.TrimSpace(d.Region)
	cfg := jobs.DestinationConfig(d, secretKey)
	if !isNew && secretKey == "" {
		cfg.SecretKey = "kept" // the stored one; only its presence is checked
	}
	if err := cfg.Validate(); err != nil {
		// One line per problem, each starting with the field it is about.
		for _, msg := range strings.Split(err.Error(), "\n") {
			field := "endpoint"
			for _, f := range []string{"bucket", "prefix", "region", "access key", "secret key"} {
				if strings.HasPrefix(strings.ToLower(msg), f) {
					field = strings.ReplaceAll(f, " ", "_")
					break
				}
			}
			if _, seen := errs[field]; !seen {
				errs[field] = msg
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CreateDestination validates and stores a destination.
func (s *Service) CreateDestination(ctx context.Context, d *db.Destination, secretKey string) error {
	if err := ValidateDestination(d, secretKey, true); err != nil {
		return err
	}
	return nameConflict(s.store.CreateDestination(ctx, d, secretKey))
}

// UpdateDestination validates and saves a destination; an empty
// secretKey keeps the stored one.
func (s *Service) UpdateDestination(ctx context.Context, d *db.Destination, secretKey string) error {
	if err := ValidateDestination(d, secretKey, false); err != nil {
		return err
	}
	return nameConflict(s.store.UpdateDestination(ctx, d, secretKey))
}

// DeleteDestination removes a destination no plan uses.
func (s *Service) DeleteDestination(ctx context.Context, id int64) error {
	err := s.store.DeleteDestination(ctx, id)
	if errors.Is(err, db.ErrConflict) {
		return conflict("", "%s", strings.TrimPrefix(err.Error(), "conflict: "))
	}
	return err
}

func nameConflict(err error) error {
	if errors.Is(err, db.ErrConflict) {
		return conflict("name", "%v", err)
	}
	return err
}

// TestResult is the outcome of a destination test: the step that failed
// (connect, write, read, delete) and why, without the secret key.
type TestResult struct {
	OK    bool   `json:"ok"`
	Step  string `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
}

// TestDestination writes, reads back and deletes a small object. An error
// is returned only for input that is not valid; a failing bucket is a
// result.
func (s *Service) TestDestination(ctx context.Context, d *db.Destination, secretKey string) (TestResult, error) {
	if secretKey == "" && d.ID != 0 {
		stored, err := s.store.Destination(ctx, d.ID)
		if err != nil {
			return TestResult{}, err
		}
		if secretKey, err = s.store.DestinationSecret(stored); err != nil {
			return TestResult{}, err
		}
	}
	if err := ValidateDestination(d, secretKey, true); err != nil {
		return TestResult{}, err
	}
	st, err := objstore.Open(jobs.DestinationConfig(d, secretKey))
	if err != nil {
		return TestResult{}, fieldError("endpoint", err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = st.Test(ctx)
	if err == nil {
		return TestResult{OK: true}, nil
	}
	res := TestResult{Step: "connect", Error: strings.ReplaceAll(err.Error(), secretKey, "********")}
	var step *objstore.StepError
	if errors.As(err, &step) {
		res.Step = step.Step
	}
	return res, nil
}

// BackupInput is a backup plan as the user sets it.
type BackupInput struct {
	DestinationID int64
	Schedule      string // cron, a preset name, or "" for on demand only
	Timezone      string
	Enabled       bool
	Prefix        string
	KeepLast      int
	KeepDaily     int
	KeepWeekly    int
	KeepMonthly   int
	DrillSchedule string
	// Of an app's plan: the volume copied (may be left out when the app
	// has one) and whether the app stops during the copy.
	Volume           string
	StopDuringBackup bool
}

// BackupInputOf is a plan's current settings as input, so a change can
// be laid over them.
func BackupInputOf(b *db.Backup) BackupInput {
	return BackupInput{
		DestinationID: b.DestinationID, Schedule: b.Cron, Timezone: b.Timezone, Enabled: b.Enabled, Prefix: b.Prefix,
		KeepLast: b.KeepLast, KeepDaily: b.KeepDaily, KeepWeekly: b.KeepWeekly, KeepMonthly: b.KeepMonthly, DrillSchedule: b.DrillCron,
		Volume: derefString(b.Volume), StopDuringBackup: b.StopDuringBackup,
	}
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// apply validates in and sets it on b with the next run times.
func (s *Service) applyBackupInput(ctx context.Context, b *db.Backup, in BackupInput) error {
	errs := FieldErrors{}
	if in.DestinationID == 0 {
		errs["destination_id"] = "choose a destination (add one in Settings → Backup destinations)"
	} else if _, err := s.store.Destination(ctx, in.DestinationID); errors.Is(err, db.ErrNotFound) {
		errs["destination_id"] = "no such destination"
	} else if err != nil {
		return err
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	if _, err := schedule.Location(in.Timezone); err != nil {
		errs["timezone"] = err.Error()
	}
	next := func(field, expr string) (string, *time.Time) {
		if strings.TrimSpace(expr) == "" {
			return "", nil
		}
		sch, norm, err := schedule.Parse(expr, in.Timezone)
		if err != nil {
			errs[field] = err.Error()
			return "", nil
		}
		t := sch.Next(time.Now())
		return norm, &t
	}
	b.Cron, b.NextRunAt = next("schedule", in.Schedule)
	b.DrillCron, b.NextDrillAt = next("drill_schedule", in.DrillSchedule)
	in.Prefix = strings.Trim(strings.TrimSpace(in.Prefix), "/")
	if err := validateObjectPrefix(in.Prefix); err != nil {
		errs["prefix"] = err.Error()
	}
	if in.KeepLast == 0 {
		in.KeepLast = 7
	}
	if in.KeepLast < 1 || in.KeepLast > 1000 {
		errs["keep_last"] = "keep between 1 and 1000 backups"
	}
	for field, n := range map[string]int{"keep_daily": in.KeepDaily, "keep_weekly": in.KeepWeekly, "keep_monthly": in.KeepMonthly} {
		if n < 0 || n > 1000 {
			errs[field] = "between 0 and 1000"
		}
	}
	if b.Volume != nil { // an app's plan
		vol, err := s.chooseVolume(ctx, b.ServiceID, in.Volume)
		if err != nil {
			return err
		}
		if vol == "" {
			errs["volume"] = "choose a volume of the app (add one under Volumes first)"
		} else if b.DrillCron != "" {
			errs["drill_schedule"] = "restore drills are for databases; a volume backup is checked by its sha256"
		}
		b.Volume, b.StopDuringBackup = &vol, in.StopDuringBackup
	} else if in.Volume != "" || in.StopDuringBackup {
		errs["volume"] = "a database's plan backs up the database, not a volume"
	}
	if len(errs) > 0 {
		return errs
	}
	b.DestinationID, b.Timezone, b.Enabled, b.Prefix = in.DestinationID, in.Timezone, in.Enabled, in.Prefix
	b.KeepLast, b.KeepDaily, b.KeepWeekly, b.KeepMonthly = in.KeepLast, in.KeepDaily, in.KeepWeekly, in.KeepMonthly
	return nil
}

// validateObjectPrefix accepts a path of safe segments: letters, digits,
// and . _ - inside segments, joined by "/".
func validateObjectPrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > 200 {
		return errors.New("the prefix is longer than 200 characters")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("the prefix %q has an empty, . or .. segment", p)
		}
		for _, r := range seg {
			if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r))) {
				return fmt.Errorf("the prefix may only hold letters, digits, . _ - and /, not %q", r)
			}
		}
	}
	return nil
}

// chooseVolume checks that the app declares the volume name, and picks
// its only volume when name is "". "" means none fits.
func (s *Service) chooseVolume(ctx context.Context, appID int64, name string) (string, error) {
	vols, err := s.store.AppVolumes(ctx, appID)
	if err != nil {
		return "", err
	}
	if name == "" && len(vols) == 1 {
		return vols[0].Name, nil
	}
	for _, v := range vols {
		if v.Name == name {
			return name, nil
		}
	}
	if name != "" {
		return "", fieldError("volume", fmt.Sprintf("the app has no volume %q", name))
	}
	return "", nil
}

// CreateAppBackup adds a backup plan of one of an app's volumes.
func (s *Service) CreateAppBackup(ctx context.Context, a *db.App, in BackupInput) (*db.Backup, error) {
	b := &db.Backup{ServiceID: a.ID, Volume: &in.Volume}
	if err := s.applyBackupInput(ctx, b, in); err != nil {
		return nil, err
	}
	if err := s.store.CreateBackup(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

// CreateBackup adds a backup plan to a database.
func (s *Service) CreateBackup(ctx context.Context, d *db.Database, in BackupInput) (*db.Backup, error) {
	b := &db.Backup{ServiceID: d.ID}
	if err := s.applyBackupInput(ctx, b, in); err != nil {
		return nil, err
	}
	if err := s.store.CreateBackup(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

// UpdateBackup changes a plan.
func (s *Service) UpdateBackup(ctx context.Context, b *db.Backup, in BackupInput) error {
	if err := s.applyBackupInput(ctx, b, in); err != nil {
		return err
	}
	return s.store.UpdateBackup(ctx, b)
}

// DeleteBackup removes a plan; its artifacts stay in the bucket and in the
// database's history, restorable.
func (s *Service) DeleteBackup(ctx context.Context, b *db.Backup) error {
	return s.store.DeleteBackup(ctx, b.ID)
}

// RunBackup queues a backup of the plan now ("Back up now"). A backup
// already queued for the database is returned instead of a second one.
func (s *Service) RunBackup(ctx context.Context, b *db.Backup, by string) (*db.BackupRun, error) {
	name, image, err := s.backedUpService(ctx, b.ServiceID, b.Volume != nil)
	if err != nil {
		return nil, err
	}
	if image == "" {
		return nil, conflict("", "%s has not run yet: deploy it first, then back it up", name)
	}
	run, err := s.store.QueueBackup(ctx, b, db.BackupManual, by)
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, &db.Deployment{ID: run.DeploymentID})
	return run, nil
}

// backedUpService is the name and running image of the database, or the
// app when app, that a plan or run belongs to.
func (s *Service) backedUpService(ctx context.Context, id int64, app bool) (name, image string, err error) {
	if app {
		a, err := s.store.App(ctx, id)
		if err != nil {
			return "", "", err
		}
		return a.AppName, a.CurrentImage, nil
	}
	d, err := s.store.Database(ctx, id)
	if err != nil {
		return "", "", err
	}
	return d.Name, d.CurrentImage, nil
}

// Restored says where a queued restore goes: the service's id and name,
// and whether it is an app (a volume's restore) or a database created for
// it.
type Restored struct {
	ID    int64
	Name  string
	App   bool
	Fresh bool
}

// RestoreTarget says where a restore goes: into the artifact's own
// database (Confirm must repeat its name) or into a new database named
// NewDatabase, created from the same engine and image.
type RestoreTarget struct {
	Confirm     string
	NewDatabase string
}

// RestoreBackup queues a restore of run: into its own database or app
// volume (to.Confirm repeats the name), or into a new database. It
// returns the restore operation and where it goes.
func (s *Service) RestoreBackup(ctx context.Context, run *db.BackupRun, to RestoreTarget, by string) (*db.Deployment, *Restored, error) {
	if !run.Restorable() {
		return nil, nil, conflict("", "backup #%d cannot be restored: %s", run.ID, whyNotRestorable(run))
	}
	isApp := run.Volume != nil
	if isApp && to.NewDatabase != "" {
		return nil, nil, fieldError("new_database", "a volume backup restores into its own app's volume")
	}
	if to.NewDatabase == "" {
		name, image, err := s.backedUpService(ctx, run.ServiceID, isApp)
		if err != nil {
			return nil, nil, err
		}
		what := "the data of " + name
		if isApp {
			what = "the volume " + *run.Volume + " of " + name
		}
		if to.Confirm != name {
			return nil, nil, fieldError("confirm", fmt.Sprintf("restoring replaces %s (after a safety backup): type its name, %s, to confirm", what, name))
		}
		if image == "" {
			return nil, nil, conflict("", "%s has not run yet: deploy it first", name)
		}
		dep, err := s.store.QueueArtifactOperation(ctx, run.ServiceID, db.ActionRestore, run, by)
		if err != nil {
			return nil, nil, err
		}
		s.enqueue(ctx, dep)
		return dep, &Restored{ID: run.ServiceID, Name: name, App: isApp}, nil
	}
	src, err := s.store.Database(ctx, run.ServiceID)
	if err != nil {
		return nil, nil, err
	}
	fresh := NewDatabase(src.EnvironmentID, src.Engine, to.NewDatabase)
	fresh.Image = src.CurrentImage
	if fresh.Image == "" {
		fresh.Image = src.Image
	}
	fresh.RegistryServer, fresh.RegistryUsername = src.RegistryServer, src.RegistryUsername
	fresh.RedisPersistence = src.RedisPersistence
	if _, err := s.CreateDatabase(ctx, fresh, DatabaseExtras{}, by); err != nil {
		return nil, nil, err
	}
	dep, err := s.store.QueueArtifactOperation(ctx, fresh.ID, db.ActionRestore, run, by)
	if err != nil {
		return nil, nil, err
	}
	s.enqueue(ctx, dep)
	return dep, &Restored{ID: fresh.ID, Name: fresh.Name, Fresh: true}, nil
}

func whyNotRestorable(run *db.BackupRun) string {
	switch {
	case !run.Succeeded():
		return "it did not complete"
	case run.DeletedAt != nil:
		return "retention deleted it"
	default:
		return "its destination was deleted"
	}
}

// DrillDatabase queues a restore drill of run, or of the database's
// latest backup when run is nil.
func (s *Service) DrillDatabase(ctx context.Context, d *db.Database, run *db.BackupRun, by string) (*db.Deployment, error) {
	if run == nil {
		latest, err := s.store.LatestRestorableRun(ctx, d.ID)
		if errors.Is(err, db.ErrNotFound) {
			return nil, conflict("", "%s has no backup to drill yet: back it up first", d.Name)
		}
		if err != nil {
			return nil, err
		}
		run = latest
	}
	if run.ServiceID != d.ID {
		return nil, fieldError("backup_run_id", "that backup belongs to another database")
	}
	if !run.Restorable() {
		return nil, conflict("", "backup #%d cannot be restored: %s", run.ID, whyNotRestorable(run))
	}
	dep, err := s.store.QueueArtifactOperation(ctx, d.ID, db.ActionDrill, run, by)
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, dep)
	return dep, nil
}

// ListedObject is an object found in a destination, with what its
// sidecar says when it has one.
type ListedObject struct {
	Key       string    `json:"key"`
	SizeBytes int64     `json:"size_bytes"`
	Modified  time.Time `json:"modified"`
	Database  string    `json:"database,omitempty"`
	Engine    string    `json:"engine,omitempty"`
	Format    string    `json:"format,omitempty"`
	SHA256    string    `json:"sha256,omitempty"`
	// Restorable means a sidecar names its sha256, so it can be checked.
	Restorable bool `json:"restorable"`
}

// maxListed bounds a destination listing (each object's sidecar is read).
const maxListed = 200

// ListDestinationObjects lists the backup artifacts under prefix in a
// destination, newest first, skipping sidecars themselves.
func (s *Service) ListDestinationObjects(ctx context.Context, d *db.Destination, prefix string) ([]ListedObject, error) {
	if err := validateObjectPrefix(strings.Trim(prefix, "/")); err != nil {
		return nil, fieldError("prefix", err.Error())
	}
	st, err := s.openDestination(d)
	if err != nil {
		return nil, err
	}
	all, err := st.List(ctx, strings.Trim(prefix, "/"))
	if err != nil {
		return nil, &EngineError{Msg: err.Error(), Err: err}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Modified.After(all[j].Modified) })
	out := []ListedObject{}
	for _, o := range all {
		if strings.HasSuffix(o.Key, ".json") || len(out) >= maxListed {
			continue
		}
		item := ListedObject{Key: o.Key, SizeBytes: o.Size, Modified: o.Modified}
		if side, err := jobs.ReadSidecar(ctx, st, o.Key); err == nil && side.SizeBytes == o.Size {
			item.Database, item.Engine, item.Format, item.SHA256, item.Restorable = side.Database, side.Engine, side.Format, side.SHA256, true
		}
		out = append(out, item)
	}
	return out, nil
}

func (s *Service) openDestination(d *db.Destination) (*objstore.Store, error) {
	secret, err := s.store.DestinationSecret(d)
	if err != nil {
		return nil, err
	}
	return objstore.Open(jobs.DestinationConfig(d, secret))
}

// RestoreObject restores an object found in a destination into the
// database target (Confirm must repeat its name): its sidecar must name
// its size, sha256 and a format the engine reads; it is recorded as an
// imported artifact of target and restored like a recorded backup.
func (s *Service) RestoreObject(ctx context.Context, d *db.Destination, key string, target *db.Database, confirm, by string) (*db.Deployment, error) {
	if confirm != target.Name {
		return nil, fieldError("confirm", fmt.Sprintf("restoring replaces the data of %s (after a safety backup): type its name, %s, to confirm", target.Name, target.Name))
	}
	if target.CurrentImage == "" {
		return nil, conflict("", "%s has not run yet: deploy it first", target.Name)
	}
	st, err := s.openDestination(d)
	if err != nil {
		return nil, err
	}
	side, err := jobs.ReadSidecar(ctx, st, key)
	if err != nil {
		return nil, fieldError("object_key", err.Error())
	}
	if _, err := engines.RestoreArtifact(target, db.DatabaseSecrets{}, side.Format, side.DatabaseName); err != nil {
		return nil, fieldError("object_key", err.Error())
	}
	dep, err := s.store.QueueObjectRestore(ctx, target.ID, d.ID, db.BackupArtifact{
		ObjectKey: key, SizeBytes: side.SizeBytes, SHA256: side.SHA256, Engine: side.Engine, EngineVersion: side.EngineVersion, Format: side.Format,
	}, by)
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, dep)
	return dep, nil
}
