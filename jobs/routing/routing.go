package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"dokploy/db"
	"dokploy/traefik"
)

// Settings keys of the ACME resolver.
const (
	SettingACMEEmail    = "acme_email"
	SettingACMEServer   = "acme_server"    // directory URL; "" is Let's Encrypt production
	SettingACMECABundle = "acme_ca_bundle" // PEM trusted for the ACME server's own HTTPS
)

// Well-known ACME directories offered in the settings.
const (
	ACMEProduction = "https://acme-v02.api.letsencrypt.org/directory"
	ACMEStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// DashboardApp names the dashboard's routing file and objects. User app
// names may not start with "dokploy" (validateAppName), so it cannot clash.
const DashboardApp = "dokploy"

// Layout of the Traefik config directory, relative to its root.
const (
	StaticFile = "traefik.yml"
	dynamicDir = "dynamic"
	ACMEFile   = "acme/acme.json"
	certsDir   = "certs"
	caFile     = "ca/acme-ca.pem"
)

// Options configures New.
type Options struct {
	Store *db.Store
	// ConfigDir is the host directory with traefik.yml, dynamic/, acme/,
	// certs/ and ca/. It is created when missing.
	ConfigDir string
	// TraefikPath is where Traefik sees ConfigDir (the container mount
	// point); paths inside rendered files use it. ConfigDir when empty.
	TraefikPath string
	// API reads router status; nil when Traefik is not managed (status then
	// shows "unknown").
	API *traefik.Client
	// DashboardUpstream is how Traefik reaches the control plane for the
	// dashboard's own domain, e.g. http://host.docker.internal:3000.
	DashboardUpstream string
	// Traefik is the container Traefik runs in; nil when this process
	// does not manage it (nothing is restarted, no log is read).
	Traefik Traefik
	// Listen describes where Traefik listens, for the settings page.
	Listen string
	// APIPassword protects Traefik's API (traefik.RenderAPIRouter); API
	// must send it. Empty leaves the API without a router.
	APIPassword string
	Logger      *slog.Logger
}

// Service keeps Traefik's file-provider directory equal to the database:
// every app's file is rendered in full from its rows (traefik.Render),
// checked and written atomically (traefik.Dir), and our stale files are
// removed. Sync is called at start and after every routing change.
type Service struct {
	opts Options
	dir  *traefik.Dir

	proxies atomic.Pointer[[]netip.Addr] // Traefik's addresses, see ProxyAddrs

	syncMu sync.Mutex // one Sync at a time: a later snapshot never loses to an earlier one
	mu     sync.Mutex
	last   traefik.Report
	lastAt time.Time
	err    error
}

// New prepares the config directory layout.
func New(opts Options) (*Service, error) {
	if opts.ConfigDir == "" || opts.Store == nil {
		return nil, errors.New("routing: ConfigDir and Store are required")
	}
	if opts.TraefikPath == "" {
		opts.TraefikPath = opts.ConfigDir
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, d := range []string{dynamicDir, filepath.Dir(ACMEFile), certsDir, filepath.Dir(caFile)} {
		if err := os.MkdirAll(filepath.Join(opts.ConfigDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("routing: %w", err)
		}
	}
	svc := &Service{opts: opts, dir: traefik.NewDir(filepath.Join(opts.ConfigDir, dynamicDir))}
	if opts.APIPassword != "" {
		data, err := traefik.RenderAPIRouter(opts.APIPassword, svc.dir.Current(traefik.APIRouterFile))
		if err != nil {
			return nil, fmt.Errorf("routing: %w", err)
		}
		if err := svc.dir.SetInternal(traefik.APIRouterFile, data); err != nil {
			return nil, fmt.Errorf("routing: %w", err)
		}
	}
	return svc, nil
}

// DynamicDir is the host path of the watched directory.
func (r *Service) DynamicDir() string { return r.dir.Path() }

// ConfigDir is the host path of Traefik's configuration.
func (r *Service) ConfigDir() string { return r.opts.ConfigDir }

// Listen describes where Traefik listens, for the settings page.
func (r *Service) Listen() string { return r.opts.Listen }

// DashboardPort is the control plane's port in DashboardUpstream (3000
// when it has none), stored on the dashboard's domain rows.
func (r *Service) DashboardPort() int {
	if u, err := url.Parse(r.opts.DashboardUpstream); err == nil {
		if p, err := strconv.Atoi(u.Port()); err == nil {
			return p
		}
	}
	return 3000
}

// Traefik is the container Traefik runs in, managed by the Docker package
// (jobs/docker.Traefik); declared here, where it is used.
type Traefik interface {
	// Restart recreates Traefik so it reads a changed static configuration.
	Restart(ctx context.Context, configHash string) error
	// RecentLog returns Traefik's recent output, where ACME failures are
	// reported (its API does not).
	RecentLog(ctx context.Context) (string, error)
	// Addresses are the container's IPs, from which it proxies requests.
	Addresses(ctx context.Context) ([]netip.Addr, error)
}

// RestartTraefik restarts Traefik for configHash (see Traefik.Restart) and
// records the addresses it now proxies from, for ProxyAddrs.
func (r *Service) RestartTraefik(ctx context.Context, configHash string) error {
	if r.opts.Traefik == nil {
		return nil
	}
	if err := r.opts.Traefik.Restart(ctx, configHash); err != nil {
		return err
	}
	addrs, err := r.opts.Traefik.Addresses(ctx)
	if err != nil {
		r.opts.Logger.Warn("cannot read Traefik's addresses: X-Forwarded-For from it is not believed", "err", err)
		return nil
	}
	r.proxies.Store(&addrs)
	return nil
}

// ProxyAddrs are the addresses of the Traefik this process runs, whose
// X-Forwarded-For the dashboard believes; nil when it runs none.
func (r *Service) ProxyAddrs() []netip.Addr {
	if r == nil {
		return nil
	}
	if p := r.proxies.Load(); p != nil {
		return *p
	}
	return nil
}

// Managed reports whether this process runs Traefik (and can read its API).
func (r *Service) Managed() bool { return r != nil && r.opts.API != nil }

// Sync brings the dynamic directory to the database's state: custom
// certificate files first (a route must never name a missing file), then
// every app's file. An app whose rows fail validation keeps its last good
// file and is reported; it never blocks the others. A nil Service does
// nothing, so handlers work without Traefik in tests.
func (r *Service) Sync(ctx context.Context) (traefik.Report, error) {
	if r == nil {
		return traefik.Report{}, nil
	}
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	rep, err := r.sync(ctx)
	r.mu.Lock()
	r.last, r.lastAt, r.err = rep, time.Now(), err
	r.mu.Unlock()
	if err != nil {
		r.opts.Logger.Error("routing sync failed", "err", err, "invalid", rep.Invalid)
	} else if len(rep.Written)+len(rep.Removed) > 0 {
		r.opts.Logger.Info("routing synced", "written", rep.Written, "removed", rep.Removed)
	}
	return rep, err
}

func (r *Service) sync(ctx context.Context) (traefik.Report, error) {
	apps, certs, err := r.loadAll(ctx)
	if err != nil {
		return traefik.Report{}, err
	}
	if err := r.writeCertificates(ctx, certs); err != nil {
		return traefik.Report{}, err
	}
	return r.dir.Reconcile(apps)
}

// LastSync returns the last Sync's report, when it ran and its error.
func (r *Service) LastSync() (traefik.Report, time.Time, error) {
	if r == nil {
		return traefik.Report{}, time.Time{}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.lastAt, r.err
}

// routingRows is everything routing reads, loaded with one query per table.
type routingRows struct {
	apps      []db.App
	stacks    []db.ComposeStack
	domains   []db.Domain
	users     []db.BasicAuthUser
	redirects []db.Redirect
	headers   []db.Header
}

func (r *Service) loadRows(ctx context.Context) (*routingRows, error) {
	s := r.opts.Store
	var rows routingRows
	var err error
	if rows.apps, err = s.Apps(ctx); err != nil {
		return nil, err
	}
	if rows.stacks, err = s.ComposeStacks(ctx); err != nil {
		return nil, err
	}
	if rows.domains, err = s.AllDomains(ctx); err != nil {
		return nil, err
	}
	if rows.users, err = s.AllBasicAuth(ctx); err != nil {
		return nil, err
	}
	if rows.redirects, err = s.AllRedirects(ctx); err != nil {
		return nil, err
	}
	if rows.headers, err = s.AllHeaders(ctx); err != nil {
		return nil, err
	}
	return &rows, nil
}

// loadAll maps every app (and the dashboard) to a traefik.App and returns
// the IDs of certificates their enabled custom domains use.
func (r *Service) loadAll(ctx context.Context) ([]traefik.App, map[int64]bool, error) {
	rows, err := r.loadRows(ctx)
	if err != nil {
		return nil, nil, err
	}
	byApp := map[int64]*traefik.App{}
	// A compose stack routes like an app named after the stack; each of
	// its domains names the stack service it reaches.
	apps := make([]traefik.App, 0, len(rows.apps)+len(rows.stacks)+1)
	ids := make([]int64, 0, cap(apps))
	for _, a := range rows.apps {
		apps, ids = append(apps, traefik.App{Name: a.AppName}), append(ids, a.ID)
	}
	for _, c := range rows.stacks {
		apps, ids = append(apps, traefik.App{Name: c.Name}), append(ids, c.ID)
	}
	for i, id := range ids {
		byApp[id] = &apps[i]
	}
	dash := traefik.App{Name: DashboardApp, Upstreams: []string{r.opts.DashboardUpstream}}
	certs := map[int64]bool{}
	for _, d := range rows.domains {
		target := &dash
		if d.ServiceID != nil {
			if target = byApp[*d.ServiceID]; target == nil {
				continue // app deleted between the two queries
			}
		}
		target.Domains = append(target.Domains, r.ToTraefikDomain(d))
		if d.Enabled && d.Certificate == db.CertCustom && d.CertificateID != nil {
			certs[*d.CertificateID] = true
		}
	}
	for _, u := range rows.users {
		if a := byApp[u.ServiceID]; a != nil {
			a.BasicAuth = append(a.BasicAuth, traefik.BasicAuthUser{Username: u.Username, PasswordHash: u.PasswordHash})
		}
	}
	for _, rd := range rows.redirects {
		if a := byApp[rd.ServiceID]; a != nil {
			a.Redirects = append(a.Redirects, ToTraefikRedirect(rd))
		}
	}
	for _, h := range rows.headers {
		if a := byApp[h.ServiceID]; a != nil {
			addHeader(a, h)
		}
	}
	if r.opts.DashboardUpstream != "" {
		apps = append(apps, dash)
	}
	return apps, certs, nil
}

// AppConfig builds the traefik.App of one app from the database.
func (r *Service) AppConfig(ctx context.Context, a *db.App) (traefik.App, error) {
	s := r.opts.Store
	out := traefik.App{Name: a.AppName}
	domains, err := s.AppDomains(ctx, a.ID)
	if err != nil {
		return out, err
	}
	for _, d := range domains {
		out.Domains = append(out.Domains, r.ToTraefikDomain(d))
	}
	users, err := s.AppBasicAuth(ctx, a.ID)
	if err != nil {
		return out, err
	}
	for _, u := range users {
		out.BasicAuth = append(out.BasicAuth, traefik.BasicAuthUser{Username: u.Username, PasswordHash: u.PasswordHash})
	}
	redirects, err := s.AppRedirects(ctx, a.ID)
	if err != nil {
		return out, err
	}
	for _, rd := range redirects {
		out.Redirects = append(out.Redirects, ToTraefikRedirect(rd))
	}
	headers, err := s.AppHeaders(ctx, a.ID)
	if err != nil {
		return out, err
	}
	for _, h := range headers {
		addHeader(&out, h)
	}
	return out, nil
}

// DashboardConfig builds the dashboard's traefik.App.
func (r *Service) DashboardConfig(ctx context.Context) (traefik.App, error) {
	out := traefik.App{Name: DashboardApp, Upstreams: []string{r.opts.DashboardUpstream}}
	domains, err := r.opts.Store.DashboardDomains(ctx)
	for _, d := range domains {
		out.Domains = append(out.Domains, r.ToTraefikDomain(d))
	}
	return out, err
}

func (r *Service) ToTraefikDomain(d db.Domain) traefik.Domain {
	return ToTraefikDomain(d, r.opts.TraefikPath)
}

// ToTraefikDomain maps a row; certificate files are named under root, the
// config directory as Traefik sees it.
func ToTraefikDomain(d db.Domain, root string) traefik.Domain {
	out := traefik.Domain{
		ID: d.ID, Host: d.Host, Path: d.Path, StripPath: d.StripPath, InternalPath: d.InternalPath,
		Port: d.Port, HTTPS: d.HTTPS, Certificate: d.Certificate, Enabled: d.Enabled, Service: d.ComposeService,
	}
	if d.Certificate == db.CertCustom && d.CertificateID != nil {
		out.CertFile, out.KeyFile = CertPaths(root, *d.CertificateID)
	}
	return out
}

func ToTraefikRedirect(rd db.Redirect) traefik.Redirect {
	return traefik.Redirect{ID: rd.ID, Regex: rd.Regex, Replacement: rd.Replacement, Permanent: rd.Permanent}
}

func addHeader(a *traefik.App, h db.Header) {
	m := &a.Headers
	if h.Kind == db.HeaderRequest {
		m = &a.RequestHeaders
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[h.Name] = h.Value
}

// CertPaths returns the certificate and key file of certificate id under root.
func CertPaths(root string, id int64) (string, string) {
	dir := filepath.Join(root, certsDir, strconv.FormatInt(id, 10))
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

// writeCertificates writes the files of every certificate in use and
// removes those of certificates no enabled domain uses. Keys are decrypted
// only here, because Traefik can only read them from files.
func (r *Service) writeCertificates(ctx context.Context, inUse map[int64]bool) error {
	var errs []error
	for id := range inUse {
		c, err := r.opts.Store.Certificate(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %d: %w", id, err))
			continue
		}
		key, err := r.opts.Store.CertificateKey(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %d: %w", id, err))
			continue
		}
		certPath, keyPath := CertPaths(r.opts.ConfigDir, id)
		if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, traefik.WriteFile(certPath, []byte(c.CertPEM), 0o644), traefik.WriteFile(keyPath, []byte(key), 0o600))
	}
	entries, err := os.ReadDir(filepath.Join(r.opts.ConfigDir, certsDir))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, e := range entries {
		id, perr := strconv.ParseInt(e.Name(), 10, 64)
		if perr != nil || !e.IsDir() || inUse[id] {
			continue // not ours, or still needed
		}
		errs = append(errs, os.RemoveAll(filepath.Join(r.opts.ConfigDir, certsDir, e.Name())))
	}
	return errors.Join(errs...)
}

// Domain states shown on the app page, in the order a domain goes through.
const (
	StateDisabled = "disabled"
	StatePending  = "pending" // written; Traefik has not loaded it yet
	StateActive   = "active"  // Traefik serves it
	StateNoCert   = "waiting for certificate"
	StateIssued   = "certificate issued" // ACME certificate stored
	StateError    = "error"              // Traefik reports the router as broken
	StateUnknown  = "unknown"            // Traefik off or unreachable
)
