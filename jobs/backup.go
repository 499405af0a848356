package jobs

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/engines"
	"dokploy/jobs/objstore"
)

// ObjectStore is where backup artifacts go: an S3-compatible bucket
// (objstore.Store), or a fake in unit tests.
type ObjectStore interface {
	Put(ctx context.Context, key string, r io.Reader, contentType string) (int64, error)
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	AbortIncomplete(ctx context.Context, prefix string) error
}

// OpenDestination connects to a destination's bucket.
func OpenDestination(d *db.Destination, secretKey string) (ObjectStore, error) {
	return objstore.Open(DestinationConfig(d, secretKey))
}

// DestinationConfig is the object store configuration of a destination.
func DestinationConfig(d *db.Destination, secretKey string) objstore.Config {
	return objstore.Config{
		Endpoint: d.Endpoint, Region: d.Region, Bucket: d.Bucket, Prefix: d.Prefix,
		AccessKey: d.AccessKey, SecretKey: secretKey, PathStyle: d.PathStyle,
	}
}

// openRunDestination opens the destination a run writes to or reads
// from, masking its secret key in the log.
func (r *Runner) openRunDestination(ctx context.Context, run *db.BackupRun, logw *deployLog) (*db.Destination, ObjectStore, error) {
	if run.DestinationID == nil {
		return nil, nil, errors.New("the destination of this backup was deleted")
	}
	dest, err := r.store.Destination(ctx, *run.DestinationID)
	if err != nil {
		return nil, nil, fmt.Errorf("load destination: %w", err)
	}
	secret, err := r.store.DestinationSecret(dest)
	if err != nil {
		return nil, nil, err
	}
	logw.Mask(secret)
	open := r.opts.OpenStore
	if open == nil {
		open = OpenDestination
	}
	st, err := open(dest, secret)
	if err != nil {
		return nil, nil, fmt.Errorf("destination %s: %w", dest.Name, err)
	}
	return dest, st, nil
}

// runBackupOperation runs a database's backup, restore or drill.
func (r *Runner) runBackupOperation(ctx context.Context, d *db.Deployment, dbase *db.Database, sec db.DatabaseSecrets, limits db.DeployLimits, logw *deployLog) error {
	switch d.Action {
	case db.ActionBackup:
		run, err := r.store.BackupRunOf(ctx, d.ID)
		if err != nil {
			return err
		}
		_, err = r.backupDatabase(ctx, dbase, sec, run, true, logw)
		return err
	case db.ActionRestore:
		return r.restoreDatabase(ctx, d, dbase, sec, limits, logw)
	case db.ActionDrill:
		return r.drillDatabase(ctx, d, dbase, sec, logw)
	}
	return fmt.Errorf("unknown operation %q", d.Action)
}

// BackupSidecar is the JSON object stored next to each artifact, so a
// bucket alone says what each object is and how to check it.
type BackupSidecar struct {
	Database      string    `json:"database"`
	Engine        string    `json:"engine"`
	EngineVersion string    `json:"engine_version"`
	Format        string    `json:"format"`
	DatabaseName  string    `json:"database_name,omitempty"`
	Volume        string    `json:"volume,omitempty"` // an app volume's name; Database is then the app
	Object        string    `json:"object"`
	SizeBytes     int64     `json:"size_bytes"`
	SHA256        string    `json:"sha256"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	RunID         int64     `json:"run_id"`
}

// SidecarKey is where an artifact's sidecar lives.
func SidecarKey(objectKey string) string { return objectKey + ".json" }

// backupDatabase dumps the database inside its container and streams the
// dump into the destination (storeArtifact). retain applies the plan's
// retention afterwards.
func (r *Runner) backupDatabase(ctx context.Context, dbase *db.Database, sec db.DatabaseSecrets, run *db.BackupRun, retain bool, logw *deployLog) (*db.BackupRun, error) {
	log := logw.Line
	dump, err := engines.BackupDump(dbase, sec)
	if err != nil {
		return nil, err
	}
	version := r.engineVersion(ctx, dbase)
	u, err := r.beginArtifact(ctx, run, dbase.Name, dbase.Name, dump.Ext, logw)
	if err != nil {
		return nil, err
	}
	u.announce(dbase.Name+" ("+version+")", log)
	return r.storeArtifact(ctx, u, artifactFacts{
		ContentType: dump.ContentType, Gzip: dump.Gzip, Retain: retain,
		Artifact: db.BackupArtifact{Engine: dbase.Engine, EngineVersion: version, Format: dump.Format},
		Sidecar:  BackupSidecar{Database: dbase.Name, Engine: dbase.Engine, EngineVersion: version, Format: dump.Format, DatabaseName: dbase.DatabaseName},
	}, func(out io.Writer) error {
		spec := docker.StreamExec{Cmd: dump.Cmd, Env: dump.Env, User: dump.User, Stdout: out, Log: log}
		if dump.Stdin != "" {
			spec.Stdin = strings.NewReader(dump.Stdin)
		}
		return r.docker.StreamInService(ctx, dbase.Name, spec)
	}, log)
}

// artifactUpload is an artifact on its way into a destination.
type artifactUpload struct {
	run     *db.BackupRun
	plan    *db.Backup // nil when the run has none (or it was deleted)
	dest    *db.Destination
	st      ObjectStore
	key     string
	started time.Time
}

// beginArtifact opens the destination of run, loads its plan, records that
// the run began and names its object folder/stem-<UTC>ext under the
// plan's prefix. Parts of uploads a dead process left behind in folder are
// invisible but cost storage: they are cleared first.
func (r *Runner) beginArtifact(ctx context.Context, run *db.BackupRun, folder, stem, ext string, logw *deployLog) (*artifactUpload, error) {
	dest, st, err := r.openRunDestination(ctx, run, logw)
	if err != nil {
		return nil, err
	}
	u := &artifactUpload{run: run, dest: dest, st: st, started: time.Now().UTC()}
	if run.BackupID != nil {
		if u.plan, err = r.store.Backup(ctx, *run.BackupID); errors.Is(err, db.ErrNotFound) {
			u.plan = nil
		} else if err != nil {
			return nil, err
		}
	}
	if err := r.store.StartBackupRun(ctx, run.ID); err != nil {
		return nil, err
	}
	prefix := ""
	if u.plan != nil {
		prefix = u.plan.Prefix
	}
	u.key = objectKey(prefix, folder, stem, u.started, run.ID, ext)
	if err := st.AbortIncomplete(ctx, path.Dir(u.key)+"/"); err != nil {
		logw.Line("Warning: could not clear unfinished uploads: " + err.Error())
	}
	return u, nil
}

// announce logs what is backed up to where.
func (u *artifactUpload) announce(what string, log docker.LogFunc) {
	verb := "Backing up"
	if u.run.Reason == db.BackupSafety {
		verb = "Taking a safety backup of"
	}
	log(fmt.Sprintf("%s %s to %s: s3://%s/%s", verb, what, u.dest.Name, u.dest.Bucket, path.Join(u.dest.Prefix, u.key)))
}

// artifactFacts say what an artifact is: its record and sidecar (the
// object, size, sha256 and times are filled in), its content type, and
// whether the stream is gzipped on its way and retention runs after it.
type artifactFacts struct {
	ContentType string
	Gzip        bool
	Retain      bool
	Artifact    db.BackupArtifact
	Sidecar     BackupSidecar
}

// storeArtifact streams what produce writes through a hash into the
// object as a multipart upload: nothing is spooled on local disk, and an
// upload that fails is aborted, so no complete-looking object is left.
// The run is recorded only after the object is whole; then its sidecar is
// stored and, when asked, the plan's retention applied.
func (r *Runner) storeArtifact(ctx context.Context, u *artifactUpload, f artifactFacts, produce func(io.Writer) error, log docker.LogFunc) (*db.BackupRun, error) {
	pr, pw := io.Pipe()
	go func() {
		var out io.Writer = pw
		var gz *gzip.Writer
		if f.Gzip {
			gz = gzip.NewWriter(pw)
			out = gz
		}
		err := produce(out)
		if err == nil && gz != nil {
			err = gz.Close()
		}
		// An error here makes the upload fail and abort: a stream that
		// stopped halfway never becomes an object.
		pw.CloseWithError(err)
	}()
	sum := sha256.New()
	progress := &progressReader{r: io.TeeReader(pr, sum), log: log, verb: "Uploaded"}
	size, err := u.st.Put(ctx, u.key, progress, f.ContentType)
	pr.CloseWithError(errors.New("upload ended")) // stops the producer if the upload failed first
	if err != nil {
		return nil, fmt.Errorf("the backup failed and left no object: %w", err)
	}
	if size == 0 {
		_ = u.st.Delete(context.WithoutCancel(ctx), u.key)
		return nil, errors.New("the dump was empty, so nothing was kept")
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	art := f.Artifact
	art.ObjectKey, art.SizeBytes, art.SHA256 = u.key, size, digest
	side := f.Sidecar
	side.Object, side.SizeBytes, side.SHA256 = u.key, size, digest
	side.StartedAt, side.FinishedAt, side.RunID = u.started, time.Now().UTC(), u.run.ID
	body, _ := json.MarshalIndent(side, "", "  ")
	if err := u.st.PutBytes(ctx, SidecarKey(u.key), body, "application/json"); err != nil {
		log("Warning: could not store the sidecar " + SidecarKey(u.key) + ": " + err.Error())
	}
	if err := r.store.RecordBackupArtifact(context.WithoutCancel(ctx), u.run.ID, art); err != nil {
		return nil, err
	}
	log(fmt.Sprintf("Backup complete: %s, sha256 %s", humanBytes(size), digest))
	if f.Retain && u.plan != nil {
		r.applyRetention(ctx, u.plan, u.st, log)
	}
	return r.store.BackupRun(ctx, u.run.ID)
}

// engineVersion asks the dump tool for its version; a failure is only a
// missing detail.
func (r *Runner) engineVersion(ctx context.Context, dbase *db.Database) string {
	ex := engines.VersionExec(dbase)
	out, err := r.docker.ExecInService(ctx, dbase.Name, docker.ExecSpec{Cmd: ex.Cmd})
	if err != nil {
		return dbase.Engine + " (version unknown)"
	}
	return strings.TrimSpace(oneLine(out))
}

// ReadSidecar loads and checks the sidecar of an object, which says what
// the object is and how to verify it.
func ReadSidecar(ctx context.Context, st ObjectStore, objectKey string) (BackupSidecar, error) {
	var side BackupSidecar
	body, err := st.Get(ctx, SidecarKey(objectKey))
	if err != nil {
		return side, fmt.Errorf("%s has no sidecar %s, so its sha256 cannot be checked: %w", objectKey, SidecarKey(objectKey), err)
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&side); err != nil {
		return side, fmt.Errorf("the sidecar of %s is not valid JSON: %w", objectKey, err)
	}
	if len(side.SHA256) != 64 || side.SizeBytes <= 0 || side.Format == "" {
		return side, fmt.Errorf("the sidecar of %s lacks its size, sha256 or format", objectKey)
	}
	return side, nil
}

// ObjectKey names an artifact: the database, the UTC time, the run (two
// runs in one second never share a name) and the format's extension,
// under the plan's prefix and a folder per database.
func ObjectKey(prefix, database string, at time.Time, runID int64, ext string) string {
	return objectKey(prefix, database, database, at, runID, ext)
}

// VolumeObjectKey names an app volume's artifact: in the app's folder,
// <app>-<volume>-<UTC>-<run>.tar.gz.
func VolumeObjectKey(prefix, app, volume string, at time.Time, runID int64) string {
	return objectKey(prefix, app, app+"-"+volume, at, runID, volumeExt)
}

func objectKey(prefix, folder, stem string, at time.Time, runID int64, ext string) string {
	return path.Join(prefix, folder, fmt.Sprintf("%s-%s-%d%s", stem, at.UTC().Format("20060102T150405Z"), runID, ext))
}

// applyRetention deletes the artifacts the plan no longer keeps, chosen
// from its recorded successful runs, never by listing names. Failures are
// warnings: the backup itself succeeded.
func (r *Runner) applyRetention(ctx context.Context, plan *db.Backup, st ObjectStore, log docker.LogFunc) {
	runs, err := r.store.RetentionCandidates(ctx, plan.ID)
	if err != nil {
		log("Warning: retention skipped: " + err.Error())
		return
	}
	loc, err := time.LoadLocation(plan.Timezone)
	if err != nil {
		loc = time.UTC
	}
	keep := RetentionKeep(runs, Retention{Last: plan.KeepLast, Daily: plan.KeepDaily, Weekly: plan.KeepWeekly, Monthly: plan.KeepMonthly}, loc)
	for _, run := range runs {
		if keep[run.ID] || run.DestinationID == nil || *run.DestinationID != plan.DestinationID {
			continue
		}
		if err := st.Delete(ctx, run.ObjectKey); err != nil {
			log(fmt.Sprintf("Warning: retention could not delete %s: %v", run.ObjectKey, err))
			continue
		}
		_ = st.Delete(ctx, SidecarKey(run.ObjectKey))
		if err := r.store.MarkBackupRunDeleted(ctx, run.ID); err != nil {
			log("Warning: " + err.Error())
			continue
		}
		log(fmt.Sprintf("Retention: deleted backup #%d (%s)", run.ID, run.ObjectKey))
	}
}

// Retention is how many artifacts a plan keeps.
type Retention struct{ Last, Daily, Weekly, Monthly int }

// RetentionKeep chooses the runs to keep from successful runs, newest
// first: the newest Last, and the newest of each of the newest Daily days,
// Weekly ISO weeks and Monthly months (in loc). The newest is always kept.
func RetentionKeep(runs []db.BackupRun, p Retention, loc *time.Location) map[int64]bool {
	keep := map[int64]bool{}
	if len(runs) == 0 {
		return keep
	}
	keep[runs[0].ID] = true
	for i := 0; i < p.Last && i < len(runs); i++ {
		keep[runs[i].ID] = true
	}
	bucket := func(n int, key func(time.Time) string) {
		seen := map[string]bool{}
		for _, run := range runs {
			if len(seen) >= n {
				return
			}
			at := run.CreatedAt
			if run.FinishedAt != nil {
				at = *run.FinishedAt
			}
			k := key(at.In(loc))
			if !seen[k] {
				seen[k] = true
				keep[run.ID] = true
			}
		}
	}
	bucket(p.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) })
	bucket(p.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	return keep
}

// fetchArtifact opens a recorded artifact for reading, its bytes hashed
// as they are read; check compares the result with the record.
func fetchArtifact(ctx context.Context, st ObjectStore, run *db.BackupRun) (io.ReadCloser, func() error, error) {
	body, err := st.Get(ctx, run.ObjectKey)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", run.ObjectKey, err)
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(body, h)}
	check := func() error { return checkDigest(run, cr.n, h) }
	return readCloser{Reader: cr, Closer: body}, check, nil
}

func checkDigest(run *db.BackupRun, n int64, h hash.Hash) error {
	got := hex.EncodeToString(h.Sum(nil))
	if n != run.SizeBytes || got != run.SHA256 {
		return fmt.Errorf("the artifact does not match its record: %d bytes with sha256 %s, recorded %d bytes with sha256 %s; it was changed or damaged in the bucket",
			n, got, run.SizeBytes, run.SHA256)
	}
	return nil
}

// verifyArtifact reads the whole artifact once and checks its size and
// sha256 against the record, before anything is changed.
func verifyArtifact(ctx context.Context, st ObjectStore, run *db.BackupRun, log docker.LogFunc) error {
	log(fmt.Sprintf("Checking backup #%d (%s, %s) against its recorded sha256", run.ID, run.ObjectKey, humanBytes(run.SizeBytes)))
	body, check, err := fetchArtifact(ctx, st, run)
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.Copy(io.Discard, &progressReader{r: body, log: log, verb: "Checked"}); err != nil {
		return fmt.Errorf("read %s: %w", run.ObjectKey, err)
	}
	if err := check(); err != nil {
		return err
	}
	log("The artifact matches its sha256")
	return nil
}

// openVerified opens the destination of run and checks the artifact
// against its record before anything is changed.
func (r *Runner) openVerified(ctx context.Context, run *db.BackupRun, logw *deployLog) (ObjectStore, error) {
	_, st, err := r.openRunDestination(ctx, run, logw)
	if err != nil {
		return nil, err
	}
	if err := verifyArtifact(ctx, st, run, logw.Line); err != nil {
		return nil, fmt.Errorf("nothing was changed: %w", err)
	}
	return st, nil
}

// streamArtifact reads an artifact (gunzipped when gunzip) into feed, and
// fails if the bytes read do not match the record.
func streamArtifact(ctx context.Context, st ObjectStore, run *db.BackupRun, gunzip bool, log docker.LogFunc, feed func(io.Reader) error) error {
	body, check, err := fetchArtifact(ctx, st, run)
	if err != nil {
		return err
	}
	defer body.Close()
	var in io.Reader = &progressReader{r: body, log: log, verb: "Restored"}
	if gunzip {
		gz, err := gzip.NewReader(in)
		if err != nil {
			return fmt.Errorf("the artifact is not gzip data: %w", err)
		}
		in = gz
	}
	if err := feed(in); err != nil {
		return err
	}
	// Drain what the tool did not read (gzip trailer) so the digest
	// covers the whole object.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	return check()
}

// restoreStream feeds an artifact into a restore command running in
// container (or the service's container when container is ""), unzipping
// it when the format needs it, and fails if the bytes read do not match
// the record.
func (r *Runner) restoreStream(ctx context.Context, st ObjectStore, run *db.BackupRun, spec engines.Restore, service, container string, log docker.LogFunc) error {
	var err error
	if container == "" {
		if container, err = r.docker.ServiceContainer(ctx, service); err != nil {
			return err
		}
	}
	if spec.ConfigFile != "" {
		dir, name := path.Split(spec.ConfigFile)
		if err := r.docker.CopyFileToContainer(ctx, container, dir, name, strings.NewReader(spec.ConfigBody), int64(len(spec.ConfigBody)), 0o600, 0, 0); err != nil {
			return err
		}
		defer func() {
			_, _ = r.docker.ExecInContainer(context.WithoutCancel(ctx), container, docker.ExecSpec{Cmd: []string{"rm", "-f", spec.ConfigFile}})
		}()
	}
	return streamArtifact(ctx, st, run, spec.Gunzip, log, func(in io.Reader) error {
		return r.docker.StreamInContainer(ctx, container, docker.StreamExec{
			Cmd: spec.Cmd, Env: spec.Env, User: spec.User, Stdin: in, Stdout: io.Discard, Log: log,
		})
	})
}

// takeSafetyBackup backs up what a restore (operation d) is about to
// replace, with backup, recorded as a run of from's plan.
func (r *Runner) takeSafetyBackup(ctx context.Context, from *db.BackupRun, d *db.Deployment, log docker.LogFunc, backup func(*db.BackupRun) error) error {
	safety, err := r.store.CreateSafetyRun(ctx, from, d.ID)
	if err != nil {
		return err
	}
	if err := backup(safety); err != nil {
		return fmt.Errorf("the safety backup failed, so nothing was restored: %w", err)
	}
	log(fmt.Sprintf("Safety backup #%d taken: restore it to undo this restore", safety.ID))
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

// progressReader logs every 64 MiB read, so a long transfer shows life.
type progressReader struct {
	r     io.Reader
	log   docker.LogFunc
	verb  string
	n     int64
	shown int64
	start time.Time
}

const progressStep = 64 << 20

func (p *progressReader) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.shown >= progressStep {
		p.shown = p.n
		p.log(fmt.Sprintf("%s %s (%s/s)", p.verb, humanBytes(p.n), humanBytes(int64(float64(p.n)/max(time.Since(p.start).Seconds(), 0.001)))))
	}
	return n, err
}

// humanBytes reads 1536 as "1.5 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
