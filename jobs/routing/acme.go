package routing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"dokploy/traefik"
)

// ACMESettings choose the ACME server of the letsencrypt resolver.
type ACMESettings struct {
	Email    string `json:"acme_email"`
	Server   string `json:"acme_server"`    // directory URL; "" is Let's Encrypt production
	CABundle string `json:"acme_ca_bundle"` // PEM; "" trusts the system roots only
}

// ACME loads the ACME settings.
func (r *Service) ACME(ctx context.Context) (ACMESettings, error) {
	var out ACMESettings
	var err error
	s := r.opts.Store
	if out.Email, err = s.Setting(ctx, SettingACMEEmail, ""); err != nil {
		return out, err
	}
	if out.Server, err = s.Setting(ctx, SettingACMEServer, ""); err != nil {
		return out, err
	}
	out.CABundle, err = s.Setting(ctx, SettingACMECABundle, "")
	return out, err
}

// SetACME saves validated ACME settings, rewrites the static configuration
// and restarts Traefik so it takes effect (Traefik reads it only at start).
func (r *Service) SetACME(ctx context.Context, a ACMESettings) error {
	s := r.opts.Store
	for k, v := range map[string]string{SettingACMEEmail: a.Email, SettingACMEServer: a.Server, SettingACMECABundle: a.CABundle} {
		if err := s.SetSetting(ctx, k, v); err != nil {
			return err
		}
	}
	hash, err := r.WriteStaticConfig(ctx, true)
	if err != nil {
		return err
	}
	return r.RestartTraefik(ctx, hash)
}

// WriteStaticConfig renders traefik.yml from the settings and writes it
// (and the ACME CA bundle) when force is set or the file is missing. It
// returns a hash of what is on disk, which changes exactly when Traefik
// must be restarted to see new static settings.
func (r *Service) WriteStaticConfig(ctx context.Context, force bool) (string, error) {
	path := filepath.Join(r.opts.ConfigDir, StaticFile)
	if _, err := os.Stat(path); err == nil && !force {
		return r.staticHash()
	}
	a, err := r.ACME(ctx)
	if err != nil {
		return "", err
	}
	opts := traefik.StaticOptions{
		DynamicDir:   filepath.Join(r.opts.TraefikPath, dynamicDir),
		ACMEStorage:  filepath.Join(r.opts.TraefikPath, ACMEFile),
		ACMEEmail:    a.Email,
		ACMECAServer: a.Server,
	}
	ca := filepath.Join(r.opts.ConfigDir, caFile)
	if a.CABundle != "" {
		if err := traefik.WriteFile(ca, []byte(a.CABundle), 0o644); err != nil {
			return "", err
		}
		// Keep trusting public CAs too, so switching back to a public
		// server needs no second change.
		opts.ACMECACertificates = []string{filepath.Join(r.opts.TraefikPath, caFile)}
		opts.ACMECASystemCertPool = true
	} else if err := os.Remove(ca); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	data, err := traefik.StaticConfig(opts)
	if err != nil {
		return "", err
	}
	if err := traefik.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	return r.staticHash()
}

func (r *Service) staticHash() (string, error) {
	h := sha256.New()
	for _, name := range []string{StaticFile, caFile} {
		data, err := os.ReadFile(filepath.Join(r.opts.ConfigDir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}
