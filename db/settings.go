package db

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strconv"
	"time"
)

// Setting keys. Values are strings; typed accessors live next to their users.
const (
	SettingDeployConcurrency = "deploy_concurrency"
	SettingImageRetention    = "image_retention"
	SettingCloneTimeout      = "timeout_clone"
	SettingBuildTimeout      = "timeout_build"
	SettingPullTimeout       = "timeout_pull"
	SettingConvergeTimeout   = "timeout_converge"
	SettingBuildMemory       = "build_memory_mb"    // MiB per build, 0: no limit
	SettingBuildCPUs         = "build_cpus"         // CPUs per build, 0: no limit
	SettingRequireTwoFactor  = "require_two_factor" // "true": every user must turn two-factor sign-in on
	SettingLogMaxSize        = "log_max_size"       // json-file max-size of every service, like 10m
	SettingLogMaxFile        = "log_max_file"       // json-file max-file, 1 to 100
)

// Setting returns a setting's value or def when unset.
func (s *Store) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := s.db.GetContext(ctx, &v, `SELECT value FROM settings WHERE key = $1`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// SetSetting upserts a setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	return err
}

// DeployConcurrency is how many deployments may run at once (default 1).
func (s *Store) DeployConcurrency(ctx context.Context) (int, error) {
	v, err := s.Setting(ctx, SettingDeployConcurrency, "1")
	if err != nil {
		return 1, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1, nil
	}
	return n, nil
}

// DeployLimits bound each step of a deployment so a hung clone, build, pull
// or roll-out ends the deployment with a clear error instead of hanging.
type DeployLimits struct {
	Clone, Build, Pull, Converge time.Duration
	// ImageRetention is how many successful deployments keep their image
	// for rollback.
	ImageRetention int
	// BuildMemoryMB and BuildCPUs limit every build step's container
	// (0: no limit), so one app's build cannot starve the control plane.
	BuildMemoryMB int
	BuildCPUs     float64
	// LogMaxSize and LogMaxFile rotate every service's json-file log.
	LogMaxSize string
	LogMaxFile int
}

// DefaultDeployLimits are used for settings the user has not changed.
var DefaultDeployLimits = DeployLimits{
	Clone: 5 * time.Minute, Build: 30 * time.Minute, Pull: 10 * time.Minute, Converge: 5 * time.Minute, ImageRetention: 10,
	BuildMemoryMB: 4096, BuildCPUs: 0, LogMaxSize: "10m", LogMaxFile: 3,
}

// intSetting reads a positive integer setting, falling back to def.
func (s *Store) intSetting(ctx context.Context, key string, def int) (int, error) {
	v, err := s.Setting(ctx, key, strconv.Itoa(def))
	if err != nil {
		return def, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return def, nil
	}
	return n, nil
}

// DeployLimits returns the configured step deadlines and image retention.
func (s *Store) DeployLimits(ctx context.Context) (DeployLimits, error) {
	l := DefaultDeployLimits
	// Stored as Go durations ("30m", "90s").
	duration := func(key string, dst *time.Duration) error {
		v, err := s.Setting(ctx, key, dst.String())
		if d, perr := time.ParseDuration(v); err == nil && perr == nil && d > 0 {
			*dst = d
		}
		return err
	}
	for key, dst := range map[string]*time.Duration{
		SettingCloneTimeout: &l.Clone, SettingBuildTimeout: &l.Build, SettingPullTimeout: &l.Pull, SettingConvergeTimeout: &l.Converge,
	} {
		if err := duration(key, dst); err != nil {
			return l, err
		}
	}
	var err error
	if l.ImageRetention, err = s.intSetting(ctx, SettingImageRetention, l.ImageRetention); err != nil {
		return l, err
	}
	// Zero is a value here (no limit), so these are read without intSetting.
	v, err := s.Setting(ctx, SettingBuildMemory, strconv.Itoa(l.BuildMemoryMB))
	if n, perr := strconv.Atoi(v); err == nil && perr == nil && n >= 0 {
		l.BuildMemoryMB = n
	}
	if err != nil {
		return l, err
	}
	v, err = s.Setting(ctx, SettingBuildCPUs, "0")
	if f, perr := strconv.ParseFloat(v, 64); err == nil && perr == nil && f >= 0 {
		l.BuildCPUs = f
	}
	if err != nil {
		return l, err
	}
	if l.LogMaxSize, err = s.Setting(ctx, SettingLogMaxSize, l.LogMaxSize); err != nil || !ValidLogSize(l.LogMaxSize) {
		l.LogMaxSize = DefaultDeployLimits.LogMaxSize
	}
	if err != nil {
		return l, err
	}
	l.LogMaxFile, err = s.intSetting(ctx, SettingLogMaxFile, l.LogMaxFile)
	if l.LogMaxFile > 100 {
		l.LogMaxFile = DefaultDeployLimits.LogMaxFile
	}
	return l, err
}

var logSize = regexp.MustCompile(`^[1-9][0-9]{0,5}[kmg]$`)

// ValidLogSize reports whether v is a json-file max-size like 512k, 10m or 1g.
func ValidLogSize(v string) bool { return logSize.MatchString(v) }
