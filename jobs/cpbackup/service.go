package cpbackup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/ops"
	"dokploy/jobs/schedule"
)

// ObjectPrefix is the folder of control-plane backups in a destination.
const ObjectPrefix = "control-plane/"

// Timing of runs: a running backup refreshes its heartbeat every period;
// one silent for staleAfter belonged to a process that died.
const (
	defaultPeriod = 10 * time.Second
	staleAfter    = 60 * time.Second
	runTimeout    = 2 * time.Hour
	minPassphrase = 12
)

// ErrNoDestination is returned by RunNow before a destination is chosen.
var ErrNoDestination = &ops.ConflictError{Field: "destination_id", Msg: "choose a destination for control-plane backups first (Settings → Control-plane backup)"}

// Options are the service's dependencies.
type Options struct {
	Store   *db.Store
	DB      *sqlx.DB
	DataDir string
	// SecretKey is the key ring (see Source.SecretKey); SecretKeyFile,
	// when set, is read at every backup instead.
	SecretKey     string
	SecretKeyFile string
	Version       string
	Logger        *slog.Logger
	// OpenStore connects to a destination; jobs.OpenDestination when nil.
	OpenStore func(d *db.Destination, secretKey string) (jobs.ObjectStore, error)
	// Period is how often schedules and dead runs are looked for and
	// heartbeats written (default 10 s).
	Period time.Duration
}

// Service runs control-plane backups: on demand, on the configured
// schedule (in every process; the database lets one fire each due run),
// and with retention of the newest keep_last.
type Service struct {
	opts     Options
	workerID string
	log      *slog.Logger

	mu   sync.Mutex
	root context.Context
	wg   sync.WaitGroup
}

// New builds a service; Start runs its loop.
func New(opts Options) *Service {
	if opts.Period == 0 {
		opts.Period = defaultPeriod
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OpenStore == nil {
		opts.OpenStore = jobs.OpenDestination
	}
	host, _ := os.Hostname()
	return &Service{opts: opts, log: opts.Logger, root: context.Background(),
		workerID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), db.RandomToken()[:6])}
}

// Start fails runs left by dead processes and starts the schedule loop;
// backups started later run under ctx and stop with it.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	s.root = ctx
	s.mu.Unlock()
	s.failStale(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.opts.Period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s.failStale(ctx)
			if err := s.scheduleRound(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("control-plane backup scheduler", "err", err)
			}
		}
	}()
}

// Wait returns when the loop and every backup started have ended.
func (s *Service) Wait() { s.wg.Wait() }

func (s *Service) failStale(ctx context.Context) {
	n, err := s.opts.Store.FailStaleControlPlaneBackups(ctx, staleAfter)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("control-plane backup recovery", "err", err)
	} else if n > 0 {
		s.log.Warn("marked interrupted control-plane backups as failed", "runs", n)
	}
}

func (s *Service) scheduleRound(ctx context.Context, now time.Time) error {
	cfg, err := s.opts.Store.ControlPlaneBackupSettings(ctx)
	if err != nil {
		return err
	}
	if !cfg.Enabled || cfg.Cron == "" || cfg.NextRunAt == nil || cfg.NextRunAt.After(now) {
		return nil
	}
	sch, _, err := schedule.Parse(cfg.Cron, cfg.Timezone)
	if err != nil {
		return fmt.Errorf("bad schedule %q: %w", cfg.Cron, err)
	}
	next := sch.Next(now)
	won, err := s.opts.Store.AdvanceControlPlaneSchedule(ctx, *cfg.NextRunAt, &next)
	if err != nil || !won {
		return err
	}
	if _, err := s.RunNow(ctx, "schedule", "schedule"); err != nil {
		return fmt.Errorf("scheduled control-plane backup: %w", err)
	}
	return nil
}

// RunNow queues a backup and runs it in the background; follow it with
// the run's row. Only one runs at a time (a second is a conflict).
func (s *Service) RunNow(ctx context.Context, reason, triggeredBy string) (*db.ControlPlaneBackupRun, error) {
	cfg, err := s.opts.Store.ControlPlaneBackupSettings(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.DestinationID == nil {
		return nil, ErrNoDestination
	}
	run, err := s.opts.Store.QueueControlPlaneBackup(ctx, *cfg.DestinationID, reason, triggeredBy, s.workerID)
	if errors.Is(err, db.ErrConflict) {
		return nil, &ops.ConflictError{Msg: "a control-plane backup is already running: wait for it to finish"}
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	root := s.root
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(root, run.ID, cfg)
	}()
	return run, nil
}

// ObjectKey is where a backup started at t goes, under the destination's prefix.
// The run id keeps two runs in one second apart.
func ObjectKey(t time.Time, runID int64) string {
	return fmt.Sprintf("%sdokploy-%s-%d.tar.gz", ObjectPrefix, t.UTC().Format("20060102T150405Z"), runID)
}

// SidecarKey is the JSON object next to an archive.
func SidecarKey(objectKey string) string { return objectKey + ".json" }

// Sidecar is the JSON object stored next to each archive, so the bucket
// alone says what an archive is and how to check it.
type Sidecar struct {
	Object     string    `json:"object"`
	SizeBytes  int64     `json:"size_bytes"`
	SHA256     string    `json:"sha256"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	RunID      int64     `json:"run_id"`
	Manifest   Manifest  `json:"manifest"`
}

func (s *Service) run(root context.Context, id int64, cfg *db.ControlPlaneBackupSettings) {
	ctx, cancel := context.WithTimeout(root, runTimeout)
	defer cancel()
	beat := make(chan struct{})
	go func() {
		t := time.NewTicker(s.opts.Period)
		defer t.Stop()
		for {
			select {
			case <-beat:
				return
			case <-t.C:
				_ = s.opts.Store.HeartbeatControlPlaneBackup(ctx, id)
			}
		}
	}()
	art, err := s.backup(ctx, id, cfg)
	close(beat)
	// The outcome is written even when ctx ended (shutdown, timeout).
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if ferr := s.opts.Store.FinishControlPlaneBackup(fctx, id, art, err); ferr != nil {
		s.log.Error("record control-plane backup", "run", id, "err", ferr)
	}
	if err != nil {
		s.log.Error("control-plane backup failed", "run", id, "err", err)
		return
	}
	s.log.Info("control-plane backup done", "run", id, "size", art.SizeBytes, "sha256", art.SHA256, "rows", art.Rows, "files", art.Files)
	s.applyRetention(fctx, *cfg.DestinationID, cfg.KeepLast)
}

// backup streams the archive through a hash into the destination as a
// multipart upload; a failed export aborts the upload, so no
// complete-looking object is left.
func (s *Service) backup(ctx context.Context, id int64, cfg *db.ControlPlaneBackupSettings) (db.ControlPlaneArtifact, error) {
	var art db.ControlPlaneArtifact
	st, secret, err := s.openDestination(ctx, *cfg.DestinationID)
	if err != nil {
		return art, err
	}
	passphrase, err := s.opts.Store.ControlPlaneBackupPassphrase(cfg)
	if err != nil {
		return art, err
	}
	started := time.Now().UTC()
	key := ObjectKey(started, id)
	if err := s.opts.Store.StartControlPlaneBackup(ctx, id, key); err != nil {
		return art, err
	}
	pr, pw := io.Pipe()
	var m Manifest
	go func() {
		var werr error
		m, werr = Write(ctx, pw, Source{DB: s.opts.DB, DataDir: s.opts.DataDir, SecretKey: s.opts.SecretKey, SecretKeyFile: s.opts.SecretKeyFile,
			Passphrase: passphrase, Version: s.opts.Version, RunID: id})
		pw.CloseWithError(werr)
	}()
	sum := sha256.New()
	size, err := st.Put(ctx, key, io.TeeReader(pr, sum), "application/gzip")
	pr.CloseWithError(errors.New("upload ended")) // stops the export if the upload failed first
	if err != nil {
		return art, fmt.Errorf("the backup failed and left no object: %s", strings.ReplaceAll(err.Error(), secret, "********"))
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	side, _ := json.MarshalIndent(Sidecar{Object: key, SizeBytes: size, SHA256: digest, StartedAt: started,
		FinishedAt: time.Now().UTC(), RunID: id, Manifest: m}, "", "  ")
	if err := st.PutBytes(ctx, SidecarKey(key), side, "application/json"); err != nil {
		// Restore checks the archive against the sidecar: without it the
		// backup is not usable as documented.
		_ = st.Delete(context.WithoutCancel(ctx), key)
		return art, fmt.Errorf("store the sidecar %s: %w", SidecarKey(key), err)
	}
	return db.ControlPlaneArtifact{SizeBytes: size, SHA256: digest, SecretKeyIncluded: m.SecretKeyIncluded,
		Tables: len(m.Tables), Rows: m.Rows(), Files: m.Files}, nil
}

func (s *Service) openDestination(ctx context.Context, id int64) (jobs.ObjectStore, string, error) {
	dest, err := s.opts.Store.Destination(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("load destination: %w", err)
	}
	secret, err := s.opts.Store.DestinationSecret(dest)
	if err != nil {
		return nil, "", err
	}
	st, err := s.opts.OpenStore(dest, secret)
	if err != nil {
		return nil, "", fmt.Errorf("destination %s: %w", dest.Name, err)
	}
	return st, secret, nil
}

// applyRetention deletes the archives (and sidecars) beyond the newest
// keep successful ones of the destination; a failure only waits for the
// next run.
func (s *Service) applyRetention(ctx context.Context, destinationID int64, keep int) {
	old, err := s.opts.Store.ControlPlaneRetentionCandidates(ctx, destinationID, keep)
	if err != nil || len(old) == 0 {
		return
	}
	st, _, err := s.openDestination(ctx, destinationID)
	if err != nil {
		s.log.Warn("control-plane retention", "err", err)
		return
	}
	for _, r := range old {
		if err := st.Delete(ctx, r.ObjectKey); err != nil {
			s.log.Warn("control-plane retention: delete", "object", r.ObjectKey, "err", err)
			continue
		}
		_ = st.Delete(ctx, SidecarKey(r.ObjectKey))
		if err := s.opts.Store.MarkControlPlaneBackupDeleted(ctx, r.ID); err != nil {
			s.log.Warn("control-plane retention: record", "run", r.ID, "err", err)
		}
	}
}

// SettingsInput is the control-plane backup configuration as the user
// sets it. Passphrase nil keeps the stored one; "" removes it.
type SettingsInput struct {
	DestinationID *int64
	Schedule      string
	Timezone      string
	Enabled       bool
	KeepLast      int
	Passphrase    *string
}

// SaveSettings validates and stores the configuration.
func (s *Service) SaveSettings(ctx context.Context, in SettingsInput) (*db.ControlPlaneBackupSettings, error) {
	return SaveSettings(ctx, s.opts.Store, in)
}

// SaveSettings validates in and stores it with the next scheduled time.
func SaveSettings(ctx context.Context, store *db.Store, in SettingsInput) (*db.ControlPlaneBackupSettings, error) {
	errs := ops.FieldErrors{}
	cfg := &db.ControlPlaneBackupSettings{DestinationID: in.DestinationID, Enabled: in.Enabled, Timezone: strings.TrimSpace(in.Timezone), KeepLast: in.KeepLast}
	if cfg.DestinationID != nil && *cfg.DestinationID == 0 {
		cfg.DestinationID = nil
	}
	if cfg.DestinationID != nil {
		if _, err := store.Destination(ctx, *cfg.DestinationID); errors.Is(err, db.ErrNotFound) {
			errs["destination_id"] = "no such destination"
		} else if err != nil {
			return nil, err
		}
	}
	if cfg.Timezone == "" {
		cfg.Timezone = "UTC"
	}
	if _, err := schedule.Location(cfg.Timezone); err != nil {
		errs["timezone"] = err.Error()
	}
	if expr := strings.TrimSpace(in.Schedule); expr != "" {
		sch, norm, err := schedule.Parse(expr, cfg.Timezone)
		if err != nil {
			errs["schedule"] = err.Error()
		} else {
			next := sch.Next(time.Now())
			cfg.Cron, cfg.NextRunAt = norm, &next
		}
	}
	if cfg.KeepLast == 0 {
		cfg.KeepLast = 7
	}
	if cfg.KeepLast < 1 || cfg.KeepLast > 1000 {
		errs["keep_last"] = "keep between 1 and 1000 backups"
	}
	if cfg.Enabled && cfg.DestinationID == nil {
		errs["destination_id"] = "choose a destination to schedule backups"
	}
	if cfg.Enabled && cfg.Cron == "" && errs["schedule"] == "" {
		errs["schedule"] = "give a schedule (for example daily or 0 3 * * *) or turn scheduled backups off"
	}
	if in.Passphrase != nil && *in.Passphrase != "" && len([]rune(*in.Passphrase)) < minPassphrase {
		errs["passphrase"] = fmt.Sprintf("use at least %d characters: it is all that protects the secret key in the archives", minPassphrase)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := store.SaveControlPlaneBackupSettings(ctx, cfg, in.Passphrase); err != nil {
		return nil, err
	}
	return store.ControlPlaneBackupSettings(ctx)
}
