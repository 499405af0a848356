package ops

import (
	"context"
	"crypto/x509"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/routing"
)

// DeployLimitKeys are the settings of the deploy-limits form and API.
var DeployLimitKeys = []string{db.SettingImageRetention, db.SettingCloneTimeout, db.SettingBuildTimeout,
	db.SettingPullTimeout, db.SettingConvergeTimeout}

// BuildLimitKeys are the build resource limits of the API (the settings
// form does not show them yet).
var BuildLimitKeys = []string{db.SettingBuildMemory, db.SettingBuildCPUs}

// checkDeployLimits validates submitted deploy limits (only the keys
// present) and returns the values to store and one message per bad field.
func checkDeployLimits(in map[string]string) (values map[string]string, errs FieldErrors) {
	values, errs = map[string]string{}, FieldErrors{}
	for key, v := range in {
		v = strings.TrimSpace(v)
		if key == db.SettingImageRetention {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				errs[key] = "keep between 1 and 100 images per app"
				continue
			}
			values[key] = strconv.Itoa(n)
			continue
		}
		switch key {
		case db.SettingBuildMemory:
			n, err := strconv.Atoi(v)
			if err != nil || n != 0 && (n < 64 || n > 1<<20) {
				errs[key] = "build memory in MiB: 0 (no limit) or from 64 to 1048576"
				continue
			}
			values[key] = strconv.Itoa(n)
			continue
		case db.SettingBuildCPUs:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f != 0 && (f < 0.1 || f > 1024) {
				errs[key] = "build CPUs: 0 (no limit) or from 0.1 to 1024, like 1.5"
				continue
			}
			values[key] = strconv.FormatFloat(f, 'f', -1, 64)
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Second || d > 24*time.Hour {
			errs[key] = "a duration between 5s and 24h, like 90s, 10m or 1h"
			continue
		}
		values[key] = d.String()
	}
	return values, errs
}

// SetDeploySettings validates the deploy queue's concurrency (1 to 16,
// when not nil) and the deploy limits present in limits (keys of
// DeployLimitKeys), saves them in one transaction and applies the
// concurrency to this process's workers; the others read it within
// seconds. New deployments use the limits.
func (s *Service) SetDeploySettings(ctx context.Context, concurrency *int, limits map[string]string) error {
	values, errs := checkDeployLimits(limits)
	if n := concurrency; n != nil && (*n < 1 || *n > 16) {
		errs["deploy_concurrency"] = "Concurrent deployments must be a whole number from 1 to 16."
	}
	if len(errs) > 0 {
		return errs
	}
	if concurrency != nil {
		values[db.SettingDeployConcurrency] = strconv.Itoa(*concurrency)
	}
	err := s.saveSettings(ctx, values)
	if err == nil && concurrency != nil {
		s.runner.SetConcurrency(*concurrency)
	}
	return err
}

// ShortDuration shows 5m and 1h rather than Go's 5m0s and 1h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// validateACME checks and normalizes ACME settings; "production" and
// "staging" name Let's Encrypt's directories.
func validateACME(a *routing.ACMESettings) FieldErrors {
	errs := FieldErrors{}
	a.Email, a.Server = strings.TrimSpace(a.Email), strings.TrimSpace(a.Server)
	if a.Email != "" {
		if err := ValidateEmail(a.Email); err != nil {
			errs["acme_email"] = err.Error()
		}
	}
	switch a.Server {
	case "", "production", routing.ACMEProduction:
		a.Server = ""
	case "staging":
		a.Server = routing.ACMEStaging
	default:
		if !strings.HasPrefix(a.Server, "https://") || strings.ContainsAny(a.Server, " \t\n\"'`{}") || len(a.Server) > 500 {
			errs["acme_server"] = `acme_server must be "production", "staging" or an https:// directory URL`
		}
	}
	if a.CABundle = strings.TrimSpace(a.CABundle); a.CABundle != "" {
		pool := x509.NewCertPool()
		if len(a.CABundle) > 256<<10 || !pool.AppendCertsFromPEM([]byte(a.CABundle)) {
			errs["acme_ca_bundle"] = "acme_ca_bundle must be PEM certificates (at most 256 KiB)"
		}
		a.CABundle += "\n"
	}
	return errs
}

// SetACME validates and normalises a (see validateACME), saves it,
// rewrites Traefik's static configuration and restarts Traefik. A restart
// that fails after saving is a NotRoutedError.
func (s *Service) SetACME(ctx context.Context, a *routing.ACMESettings) error {
	if s.routing == nil {
		return errRoutingOff
	}
	if errs := validateACME(a); len(errs) > 0 {
		return errs
	}
	if err := s.routing.SetACME(ctx, *a); err != nil {
		return &NotRoutedError{Err: err}
	}
	return nil
}

// SyncRouting runs the reconciler on demand (after hand edits).
func (s *Service) SyncRouting(ctx context.Context) error { return s.syncRouting(ctx) }

// SetLogSettings validates and saves the json-file log rotation (size like
// 10m, 512k or 1g; 1 to 100 files); nil keeps the value.
func (s *Service) SetLogSettings(ctx context.Context, maxSize *string, maxFile *int) error {
	errs := FieldErrors{}
	values := map[string]string{}
	if maxSize != nil {
		v := strings.ToLower(strings.TrimSpace(*maxSize))
		if !db.ValidLogSize(v) {
			errs["max_size"] = "max_size must be a whole number followed by k, m or g, like 512k, 10m or 1g"
		}
		values[db.SettingLogMaxSize] = v
	}
	if maxFile != nil {
		if *maxFile < 1 || *maxFile > 100 {
			errs["max_file"] = "max_file must be a whole number from 1 to 100"
		}
		values[db.SettingLogMaxFile] = strconv.Itoa(*maxFile)
	}
	if len(errs) > 0 {
		return errs
	}
	return s.saveSettings(ctx, values)
}

// saveSettings stores key/value settings in one transaction: all or none.
func (s *Service) saveSettings(ctx context.Context, values map[string]string) error {
	return s.store.InTx(ctx, func(tx *db.Store) error {
		for k, v := range values {
			if err := tx.SetSetting(ctx, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}
