// Package handlers is the web layer's root: the route table, the
// middleware (request ids, CSRF, sessions, API tokens, rate limits), sign-in
// and setup, and the error funnel that turns every error into a page, a
// partial or JSON. The pages live in handlers/pages, the JSON API in
// handlers/api, webhook payload parsing in handlers/webhook; both
// front-ends call the operations of jobs/ops.
package handlers

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"sync"

	"dokploy/jobs/routing"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/api"
	"dokploy/handlers/pages"
	"dokploy/handlers/web"
	"dokploy/jobs"
	"dokploy/jobs/cpbackup"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// Options are the settings handlers need from the configuration.
type Options struct {
	PublicURL string
	Version   string
	// ReservedPorts are the host ports the platform uses (port → what),
	// which no app may publish; ops.DefaultReservedPorts when nil.
	ReservedPorts map[int]string
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (DOKPLOY_TRUSTED_PROXIES); none by default.
	TrustedProxies []*net.IPNet
	// ProxyAddrs returns the addresses of the Traefik the product runs,
	// whose X-Forwarded-For is believed like TrustedProxies'; may be nil.
	ProxyAddrs func() []netip.Addr
	// CSRFKey signs CSRF tokens (see issueCSRF); derive it from the secret
	// key so tokens survive a restart. Random when empty.
	CSRFKey []byte
}

// Handler holds the dependencies of every route.
type Handler struct {
	*web.Deps
	// rules is the route table's authorization: "METHOD /path" → rule.
	rules   map[string]rule
	pages   *pages.Handler
	api     *api.Handler
	limiter *loginLimiter
	hashes  *hashGate
	// proxies decides whose X-Forwarded-For and X-Forwarded-Proto are
	// believed (see newClientIP and proxyTrust).
	proxies proxyTrust
	// dummyHash is checked against when the email is unknown.
	dummyHash string
	// csrfKey signs CSRF tokens.
	csrfKey []byte

	terminals terminalSet // open web terminals, ended at shutdown

	setupMu    sync.Mutex
	setupToken string // one-time token printed at start while no admin exists
}

// dummyPasswordHash is checked when a sign-in names an unknown email, so the
// response takes as long as for a real account. It hashes a random string
// nobody knows; it is a constant so start-up does not spend 19 MiB on it.
const dummyPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$DDxTEkZ4xD/eMt+18QMd3A$kVFwoxQR1CElckGDPYqNwfOISjUvUeLj+1Oo7vCvItA"

// Option sets an optional dependency of New.
type Option func(*Handler)

// WithRouting makes domain changes apply to Traefik's configuration.
func WithRouting(r *routing.Service) Option { return func(h *Handler) { h.Routing = r } }

// WithControlPlaneBackup serves the control-plane backup settings and runs.
func WithControlPlaneBackup(s *cpbackup.Service) Option {
	return func(h *Handler) { h.ControlPlane = s }
}

// New builds a Handler.
func New(opts Options, store *db.Store, renderer *views.Renderer, runner *jobs.Runner, extra ...Option) *Handler {
	d := &web.Deps{PublicURL: opts.PublicURL, Version: opts.Version, Store: store, Views: renderer, Runner: runner}
	h := &Handler{Deps: d, rules: map[string]rule{}, limiter: newLoginLimiter(), hashes: newHashGate(4), dummyHash: dummyPasswordHash,
		proxies: newProxyTrust(opts.TrustedProxies, opts.ProxyAddrs, opts.PublicURL), csrfKey: opts.CSRFKey}
	if len(h.csrfKey) == 0 {
		h.csrfKey = []byte(db.RandomToken())
	}
	for _, o := range extra {
		o(h)
	}
	d.Ops = ops.New(store, runner, d.Routing)
	if opts.ReservedPorts != nil {
		d.Ops.SetReservedPorts(opts.ReservedPorts)
	}
	h.pages, h.api = pages.New(d), api.New(d)
	return h
}

// PrepareSetup creates the one-time setup token when no admin exists yet.
func (h *Handler) PrepareSetup(ctx context.Context) error {
	n, err := h.Store.CountUsers(ctx)
	if err != nil {
		return err
	}
	h.setupMu.Lock()
	defer h.setupMu.Unlock()
	if n == 0 && h.setupToken == "" {
		h.setupToken = db.RandomToken()
	}
	return nil
}

// SetupLink is the URL to print on the console, or "" once setup is done.
func (h *Handler) SetupLink() string {
	h.setupMu.Lock()
	defer h.setupMu.Unlock()
	if h.setupToken == "" {
		return ""
	}
	return h.PublicURL + "/setup?token=" + h.setupToken
}

// setupOpen reports whether the first admin is still to be created. The
// database decides: an admin made meanwhile with `dokploy admin create`
// closes setup at once, without a restart.
func (h *Handler) setupOpen(ctx context.Context) bool {
	if h.SetupLink() == "" {
		return false
	}
	if n, err := h.Store.CountUsers(ctx); err != nil || n > 0 {
		if err == nil {
			h.closeSetup()
		}
		return false
	}
	return true
}

// checkSetupToken compares in constant time; the empty token never matches.
func (h *Handler) checkSetupToken(token string) bool {
	h.setupMu.Lock()
	defer h.setupMu.Unlock()
	return h.setupToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.setupToken)) == 1
}

func (h *Handler) closeSetup() {
	h.setupMu.Lock()
	h.setupToken = ""
	h.setupMu.Unlock()
}

// Router returns the HTTP handler with every route.
func (h *Handler) Router() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.handleError
	// c.Scheme() (cookie Secure flag and __Host- names) believes
	// X-Forwarded-Proto only from trusted proxies, like HSTS does.
	e.SchemeExtractor = func(r *http.Request) string {
		if h.proxies.https(r) {
			return "https"
		}
		return "http"
	}
	h.routes(e)
	return e
}
