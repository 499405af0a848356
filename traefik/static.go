package traefik

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// StaticOptions configures StaticConfig. Zero values take the defaults noted
// on each field.
type StaticOptions struct {
	WebAddress       string // entry point "web"; default ":80"
	WebSecureAddress string // entry point "websecure"; default ":443"
	// APIAddress is the "traefik" entry point serving /api and /ping.
	// Default ":8080". The API has no router of its own (api.insecure is
	// off): RenderAPIRouter's file routes /api there behind basic auth, so
	// app containers on the same network cannot read it.
	APIAddress string
	// DynamicDir is the directory the file provider watches (required).
	DynamicDir string
	// Throttle is providers.providersThrottleDuration; default 100ms. Traefik's
	// own default of 2s delays back-to-back changes by up to 2s.
	Throttle time.Duration

	// ACMEEmail is the ACME account contact; optional.
	ACMEEmail string
	// ACMEStorage is the acme.json path (required). Keep it outside DynamicDir.
	ACMEStorage string
	// ACMECAServer overrides the ACME directory URL, e.g.
	// "https://acme-staging-v02.api.letsencrypt.org/directory" or a Pebble
	// test CA. Default: Let's Encrypt production.
	ACMECAServer string
	// ACMECACertificates are PEM files trusted for the ACME server's own
	// HTTPS certificate (acme.caCertificates, present in Traefik v3.6.12),
	// for a private CA such as Pebble. ACMECASystemCertPool additionally
	// trusts the system roots. Traefik also honours the lego environment
	// variables LEGO_CA_CERTIFICATES, LEGO_CA_SYSTEM_CERT_POOL and
	// LEGO_CA_SERVER_NAME, but only when these fields are unset.
	ACMECACertificates   []string
	ACMECASystemCertPool bool

	// LogLevel is log.level; default "INFO".
	LogLevel string
}

type staticConfig struct {
	Global                staticGlobal               `yaml:"global"`
	Log                   staticLog                  `yaml:"log"`
	EntryPoints           map[string]staticEntry     `yaml:"entryPoints"`
	Providers             staticProviders            `yaml:"providers"`
	API                   staticAPI                  `yaml:"api"`
	Ping                  struct{}                   `yaml:"ping"`
	CertificatesResolvers map[string]staticResolvers `yaml:"certificatesResolvers"`
}

type staticGlobal struct {
	CheckNewVersion    bool `yaml:"checkNewVersion"`
	SendAnonymousUsage bool `yaml:"sendAnonymousUsage"`
}

type staticLog struct {
	Level   string `yaml:"level"`
	NoColor bool   `yaml:"noColor"`
}

type staticEntry struct {
	Address string `yaml:"address"`
}

type staticProviders struct {
	ProvidersThrottleDuration string             `yaml:"providersThrottleDuration"`
	File                      staticFileProvider `yaml:"file"`
}

type staticFileProvider struct {
	Directory string `yaml:"directory"`
	Watch     bool   `yaml:"watch"`
}

type staticAPI struct {
	Insecure  bool `yaml:"insecure"`
	Dashboard bool `yaml:"dashboard"`
}

type staticResolvers struct {
	ACME staticACME `yaml:"acme"`
}

type staticACME struct {
	Email            string        `yaml:"email,omitempty"`
	Storage          string        `yaml:"storage"`
	CAServer         string        `yaml:"caServer,omitempty"`
	CACertificates   []string      `yaml:"caCertificates,omitempty"`
	CASystemCertPool bool          `yaml:"caSystemCertPool,omitempty"`
	HTTPChallenge    httpChallenge `yaml:"httpChallenge"`
}

type httpChallenge struct {
	EntryPoint string `yaml:"entryPoint"`
}

// StaticConfig renders Traefik's static configuration (traefik.yml): entry
// points web, websecure and traefik (API and ping, dashboard off because the
// Go-module build has no web UI), the file provider on DynamicDir with a
// short throttle, and the "letsencrypt" ACME resolver using the HTTP-01
// challenge on web. Docker and Swarm providers are deliberately absent:
// routing comes only from files this package renders.
func StaticConfig(opts StaticOptions) ([]byte, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cfg := staticConfig{
		Log: staticLog{Level: opts.LogLevel, NoColor: true},
		EntryPoints: map[string]staticEntry{
			EntryPointWeb:       {Address: opts.WebAddress},
			EntryPointWebSecure: {Address: opts.WebSecureAddress},
			EntryPointAPI:       {Address: opts.APIAddress},
		},
		Providers: staticProviders{
			ProvidersThrottleDuration: opts.Throttle.String(),
			File:                      staticFileProvider{Directory: opts.DynamicDir, Watch: true},
		},
		API: staticAPI{Insecure: false},
		CertificatesResolvers: map[string]staticResolvers{ResolverLetsEncrypt: {ACME: staticACME{
			Email:            opts.ACMEEmail,
			Storage:          opts.ACMEStorage,
			CAServer:         opts.ACMECAServer,
			CACertificates:   opts.ACMECACertificates,
			CASystemCertPool: opts.ACMECASystemCertPool,
			HTTPChallenge:    httpChallenge{EntryPoint: EntryPointWeb},
		}}},
	}
	var buf bytes.Buffer
	buf.WriteString("# Traefik static configuration, rendered by dokploy.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("traefik: render static config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("traefik: render static config: %w", err)
	}
	return buf.Bytes(), nil
}

func (o StaticOptions) withDefaults() StaticOptions {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.WebAddress, ":80")
	def(&o.WebSecureAddress, ":443")
	def(&o.APIAddress, ":8080")
	def(&o.LogLevel, "INFO")
	if o.Throttle == 0 {
		o.Throttle = 100 * time.Millisecond
	}
	return o
}

func (o StaticOptions) validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"webAddress", o.WebAddress}, {"webSecureAddress", o.WebSecureAddress}, {"apiAddress", o.APIAddress},
	} {
		if !strings.Contains(f.value, ":") || strings.ContainsFunc(f.value, isSpaceOrControl) {
			errs = append(errs, fieldErr(f.name, "must be [host]:port, got %q", f.value))
		}
	}
	if o.DynamicDir == "" {
		errs = append(errs, fieldErr("dynamicDir", "is required"))
	}
	if o.ACMEStorage == "" {
		errs = append(errs, fieldErr("acmeStorage", "is required"))
	}
	if o.ACMEEmail != "" && (!strings.Contains(o.ACMEEmail, "@") || strings.ContainsFunc(o.ACMEEmail, isSpaceOrControl)) {
		errs = append(errs, fieldErr("acmeEmail", "is not an email address: %q", o.ACMEEmail))
	}
	if o.Throttle < 0 {
		errs = append(errs, fieldErr("throttle", "must not be negative"))
	}
	switch strings.ToUpper(o.LogLevel) {
	case "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC":
	default:
		errs = append(errs, fieldErr("logLevel", "unknown level %q", o.LogLevel))
	}
	return errors.Join(errs...)
}
