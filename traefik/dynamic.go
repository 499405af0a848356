package traefik

// These types mirror the subset of Traefik's dynamic configuration
// (github.com/traefik/traefik/v3/pkg/config/dynamic) that Render emits. The
// same types are used to render and, with yaml.v3's KnownFields, to check a
// file, so anything Check accepts is something this package knows how to
// write. Maps are rendered with sorted keys by yaml.v3, which makes output
// deterministic.

type dynamicConfig struct {
	HTTP *httpConfig `yaml:"http,omitempty"`
	TLS  *tlsConfig  `yaml:"tls,omitempty"`
}

type httpConfig struct {
	Routers     map[string]*router     `yaml:"routers,omitempty"`
	Services    map[string]*service    `yaml:"services,omitempty"`
	Middlewares map[string]*middleware `yaml:"middlewares,omitempty"`
}

type router struct {
	EntryPoints []string   `yaml:"entryPoints"`
	Rule        string     `yaml:"rule"`
	Service     string     `yaml:"service"`
	Middlewares []string   `yaml:"middlewares,omitempty"`
	TLS         *routerTLS `yaml:"tls,omitempty"`
}

// routerTLS renders as "tls: {}" when CertResolver is empty, which makes
// Traefik serve the router over TLS with a certificate from its store.
type routerTLS struct {
	CertResolver string `yaml:"certResolver,omitempty"`
}

type service struct {
	LoadBalancer *loadBalancer `yaml:"loadBalancer"`
}

type loadBalancer struct {
	Servers        []server `yaml:"servers"`
	PassHostHeader *bool    `yaml:"passHostHeader,omitempty"`
}

type server struct {
	URL string `yaml:"url"`
}

// middleware holds exactly one kind of middleware.
type middleware struct {
	StripPrefix    *stripPrefix    `yaml:"stripPrefix,omitempty"`
	AddPrefix      *addPrefix      `yaml:"addPrefix,omitempty"`
	RedirectRegex  *redirectRegex  `yaml:"redirectRegex,omitempty"`
	RedirectScheme *redirectScheme `yaml:"redirectScheme,omitempty"`
	BasicAuth      *basicAuth      `yaml:"basicAuth,omitempty"`
	Headers        *headers        `yaml:"headers,omitempty"`
	Retry          *retry          `yaml:"retry,omitempty"`
}

// retry reissues a request that got no answer (connection refused or reset)
// to the load balancer, which then picks another server.
type retry struct {
	Attempts        int    `yaml:"attempts"`
	InitialInterval string `yaml:"initialInterval,omitempty"`
}

func (m *middleware) kinds() int {
	n := 0
	for _, set := range []bool{
		m.StripPrefix != nil, m.AddPrefix != nil, m.RedirectRegex != nil,
		m.RedirectScheme != nil, m.BasicAuth != nil, m.Headers != nil, m.Retry != nil,
	} {
		if set {
			n++
		}
	}
	return n
}

type stripPrefix struct {
	Prefixes []string `yaml:"prefixes"`
}

type addPrefix struct {
	Prefix string `yaml:"prefix"`
}

type redirectRegex struct {
	Regex       string `yaml:"regex"`
	Replacement string `yaml:"replacement"`
	Permanent   bool   `yaml:"permanent,omitempty"`
}

type redirectScheme struct {
	Scheme    string `yaml:"scheme"`
	Permanent bool   `yaml:"permanent,omitempty"`
}

type basicAuth struct {
	Users        []string `yaml:"users"`
	RemoveHeader bool     `yaml:"removeHeader,omitempty"`
}

type headers struct {
	CustomRequestHeaders  map[string]string `yaml:"customRequestHeaders,omitempty"`
	CustomResponseHeaders map[string]string `yaml:"customResponseHeaders,omitempty"`
}

type tlsConfig struct {
	Certificates []certificate `yaml:"certificates,omitempty"`
}

type certificate struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}
