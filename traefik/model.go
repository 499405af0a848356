package traefik

import "errors"

// Entry point and resolver names shared by StaticConfig and Render. They are
// constants so that a rendered file can never reference an entry point or a
// certificate resolver the static configuration does not define.
const (
	EntryPointWeb       = "web"
	EntryPointWebSecure = "websecure"
	EntryPointAPI       = "traefik"
	ResolverLetsEncrypt = "letsencrypt"
)

// Certificate kinds accepted in Domain.Certificate.
const (
	CertNone        = "none"        // HTTPS with Traefik's default certificate
	CertLetsEncrypt = "letsencrypt" // HTTPS with an ACME certificate from the letsencrypt resolver
	CertCustom      = "custom"      // HTTPS with Domain.CertFile/KeyFile
)

// ErrNoRoutes is returned by Render for an app that has no enabled domain.
// Such an app must have no file in the dynamic directory.
var ErrNoRoutes = errors.New("traefik: app has no enabled domain")

// App is everything needed to route one application. It is a plain value:
// callers map their database rows into it, so this package never sees the
// database.
type App struct {
	// Name is the app name: a DNS label (a-z, 0-9, '-'), unique across apps.
	// It is the swarm service name, the file name (<Name>.yml) and the prefix
	// of every router, service and middleware name in the app's file.
	Name string
	// Upstreams optionally replaces the default backend
	// http://<Name>:<Domain.Port> with explicit URLs (scheme http, https or
	// h2c, host, optional port; no path). When set, every domain of the app
	// is served by the single service <Name>-svc.
	Upstreams []string
	Domains   []Domain
	// BasicAuth protects every domain of the app when non-empty.
	BasicAuth []BasicAuthUser
	// Redirects apply to every domain of the app, in ascending ID order.
	Redirects []Redirect
	// Headers are custom response headers added for every domain (for
	// example security headers). An empty value removes the header.
	Headers map[string]string
	// RequestHeaders are custom headers sent to the backend. An empty value
	// removes the header.
	RequestHeaders map[string]string
}

// Domain is one public address of an app.
type Domain struct {
	// ID is the domain's database ID (> 0). It keys the domain's routers.
	ID int64
	// Host is a host name; IDNs are accepted and rendered as punycode.
	// Wildcards are rejected: they need a DNS-01 challenge, which the static
	// configuration does not set up.
	Host string
	// Path is the public path prefix; "" means "/".
	Path string
	// StripPath removes Path before the request reaches the backend.
	StripPath bool
	// InternalPath is prepended before the request reaches the backend
	// ("" or "/" for none).
	InternalPath string
	// Port is the container port of the default upstream http://<Name>:<Port>.
	Port int
	// Service, when set, is a service of the compose stack Name: the
	// upstream is then http://<Name>_<Service>:<Port>, the Swarm service
	// docker stack names that way. A DNS label.
	Service string
	// HTTPS serves the domain on websecure and turns web into a redirect.
	HTTPS bool
	// Certificate is CertLetsEncrypt, CertCustom or CertNone ("" = none).
	// Only used when HTTPS is on.
	Certificate string
	// CertFile and KeyFile are absolute paths as seen by Traefik, required
	// for CertCustom.
	CertFile, KeyFile string
	// Enabled domains are rendered; disabled ones are only validated.
	Enabled bool
}

// BasicAuthUser is one user of the app's basic-auth middleware.
type BasicAuthUser struct {
	Username string
	// PasswordHash is a bcrypt hash; this package never sees plain passwords.
	PasswordHash string
}

// Redirect is a regex redirect applied to every domain of an app.
type Redirect struct {
	ID          int64 // database ID (> 0); keys the middleware name
	Regex       string
	Replacement string
	Permanent   bool
}
