package traefik

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// markerPrefix starts the first line of every file this package renders.
// Dir uses it to tell its own files from hand-written ("foreign") ones.
const markerPrefix = "# managed by dokploy: app="

// Marker returns the first line (without newline) of app's rendered file.
func Marker(app string) string { return markerPrefix + app }

// Object names. Every name is "<app>-<suffix>", and no suffix has another
// suffix after one of its dashes (e.g. "d1-web" → "web" is not a suffix), so
// the names of app "a" can never equal those of app "a-d1": prefixing alone
// makes names unique across files, as Traefik requires (first file wins).

// RouterName returns the name of domain domainID's router on entryPoint.
func RouterName(app string, domainID int64, entryPoint string) string {
	return fmt.Sprintf("%s-d%d-%s", app, domainID, entryPoint)
}

func serviceName(app App, d Domain) string {
	if len(app.Upstreams) > 0 {
		return app.Name + "-svc"
	}
	if d.Service != "" {
		// "-svc-<service>-<port>" ends in a port like "-svc-<port>" does,
		// and a port is never a service name, so the two never meet.
		return app.Name + "-svc-" + d.Service + "-" + strconv.Itoa(d.Port)
	}
	return app.Name + "-svc-" + strconv.Itoa(d.Port)
}

func stripName(app string, id int64) string    { return fmt.Sprintf("%s-strip-d%d", app, id) }
func addName(app string, id int64) string      { return fmt.Sprintf("%s-addprefix-d%d", app, id) }
func redirectName(app string, id int64) string { return fmt.Sprintf("%s-redirect-%d", app, id) }
func authName(app string) string               { return app + "-auth" }
func headersName(app string) string            { return app + "-headers" }
func retryName(app string) string              { return app + "-retry" }
func httpsRedirectName(app string) string      { return app + "-https-redirect" }

// Render returns the dynamic-configuration file for app: a marker comment
// line, then YAML with the app's routers, services, middlewares and custom
// certificates. It validates app first (returning Validate's error) and
// returns ErrNoRoutes when no domain is enabled. The output depends only on
// app's content, not on the order of its slices, and always passes Check.
func Render(app App) ([]byte, error) {
	cfg, err := build(app)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s\n# Rendered from the database: manual edits are overwritten.\n", Marker(app.Name))
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("traefik: render %s: %w", app.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("traefik: render %s: %w", app.Name, err)
	}
	return buf.Bytes(), nil
}

// RouterNames returns the sorted names of the routers Render creates for
// app, e.g. for Client.RouterState. It is empty when app has no routes.
func RouterNames(app App) ([]string, error) {
	cfg, err := build(app)
	if errors.Is(err, ErrNoRoutes) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sortedKeys(cfg.HTTP.Routers), nil
}

// build turns a validated app into the dynamic configuration.
func build(in App) (*dynamicConfig, error) {
	app, err := normalize(in)
	if err != nil {
		return nil, err
	}
	h := &httpConfig{
		Routers:     map[string]*router{},
		Services:    map[string]*service{},
		Middlewares: map[string]*middleware{},
	}
	appMiddlewares := addAppMiddlewares(h, app)
	var certs []certificate
	for _, d := range app.Domains {
		if !d.Enabled {
			continue
		}
		addDomain(h, app, d, appMiddlewares)
		if d.HTTPS && d.Certificate == CertCustom {
			certs = appendUnique(certs, certificate{CertFile: d.CertFile, KeyFile: d.KeyFile})
		}
	}
	if len(h.Routers) == 0 {
		return nil, ErrNoRoutes
	}
	// Middlewares no router uses are dropped to keep the file minimal.
	pruneMiddlewares(h)
	cfg := &dynamicConfig{HTTP: h}
	if len(certs) > 0 {
		cfg.TLS = &tlsConfig{Certificates: certs}
	}
	return cfg, nil
}

// addAppMiddlewares defines the middlewares shared by every domain of the
// app and returns their names in chain order: redirects, auth, headers.
func addAppMiddlewares(h *httpConfig, app App) []string {
	var names []string
	for _, r := range app.Redirects {
		name := redirectName(app.Name, r.ID)
		h.Middlewares[name] = &middleware{RedirectRegex: &redirectRegex{
			Regex: r.Regex, Replacement: r.Replacement, Permanent: r.Permanent,
		}}
		names = append(names, name)
	}
	if len(app.BasicAuth) > 0 {
		users := make([]string, len(app.BasicAuth))
		for i, u := range app.BasicAuth {
			users[i] = u.Username + ":" + u.PasswordHash
		}
		// removeHeader keeps the credentials away from the backend.
		h.Middlewares[authName(app.Name)] = &middleware{BasicAuth: &basicAuth{Users: users, RemoveHeader: true}}
		names = append(names, authName(app.Name))
	}
	if len(app.Headers) > 0 || len(app.RequestHeaders) > 0 {
		h.Middlewares[headersName(app.Name)] = &middleware{Headers: &headers{
			CustomRequestHeaders:  app.RequestHeaders,
			CustomResponseHeaders: app.Headers,
		}}
		names = append(names, headersName(app.Name))
	}
	return names
}

// addDomain adds the routers, service and path middlewares of one enabled
// domain. With HTTPS the web router only redirects to https; the redirect
// middleware lives in this file so no shared middlewares file is needed.
func addDomain(h *httpConfig, app App, d Domain, appMiddlewares []string) {
	svc := serviceName(app, d)
	h.Services[svc] = &service{LoadBalancer: newLoadBalancer(app, d)}

	chain := append(pathMiddlewares(h, app.Name, d), appMiddlewares...)
	// Retry runs last, next to the load balancer: during a rolling update a
	// request that reaches a stopping task (connection refused or reset
	// before any answer) is sent again and lands on a live one. Together with
	// health-checked start-first updates this is what makes redeploys lose
	// no request, also where Swarm uses DNS round-robin instead of a VIP.
	h.Middlewares[retryName(app.Name)] = &middleware{Retry: &retry{Attempts: 4, InitialInterval: "50ms"}}
	chain = append(chain, retryName(app.Name))
	rule := ruleFor(d)
	if !d.HTTPS {
		h.Routers[RouterName(app.Name, d.ID, EntryPointWeb)] = &router{
			EntryPoints: []string{EntryPointWeb}, Rule: rule, Service: svc, Middlewares: chain,
		}
		return
	}
	redirect := httpsRedirectName(app.Name)
	h.Middlewares[redirect] = &middleware{RedirectScheme: &redirectScheme{Scheme: "https", Permanent: true}}
	h.Routers[RouterName(app.Name, d.ID, EntryPointWeb)] = &router{
		EntryPoints: []string{EntryPointWeb}, Rule: rule, Service: svc, Middlewares: []string{redirect},
	}
	tls := &routerTLS{}
	if d.Certificate == CertLetsEncrypt {
		tls.CertResolver = ResolverLetsEncrypt
	}
	h.Routers[RouterName(app.Name, d.ID, EntryPointWebSecure)] = &router{
		EntryPoints: []string{EntryPointWebSecure}, Rule: rule, Service: svc, Middlewares: chain, TLS: tls,
	}
}

// pathMiddlewares defines the strip and add prefix middlewares of d and
// returns their names; strip runs first so the internal path replaces the
// public one. Adding the internal path is skipped when the path is kept and
// already equals it, since the backend would otherwise see it twice.
func pathMiddlewares(h *httpConfig, app string, d Domain) []string {
	var names []string
	if d.StripPath && d.Path != "/" {
		name := stripName(app, d.ID)
		h.Middlewares[name] = &middleware{StripPrefix: &stripPrefix{Prefixes: []string{d.Path}}}
		names = append(names, name)
	}
	if d.InternalPath != "/" && (d.StripPath || d.InternalPath != d.Path) {
		name := addName(app, d.ID)
		h.Middlewares[name] = &middleware{AddPrefix: &addPrefix{Prefix: d.InternalPath}}
		names = append(names, name)
	}
	return names
}

func ruleFor(d Domain) string {
	rule := "Host(`" + d.Host + "`)"
	if d.Path != "/" {
		rule += " && PathPrefix(`" + d.Path + "`)"
	}
	return rule
}

func newLoadBalancer(app App, d Domain) *loadBalancer {
	pass := true
	lb := &loadBalancer{PassHostHeader: &pass}
	if len(app.Upstreams) == 0 {
		host := app.Name
		if d.Service != "" {
			host = app.Name + "_" + d.Service
		}
		lb.Servers = []server{{URL: fmt.Sprintf("http://%s:%d", host, d.Port)}}
		return lb
	}
	for _, u := range app.Upstreams {
		lb.Servers = append(lb.Servers, server{URL: u})
	}
	return lb
}

func pruneMiddlewares(h *httpConfig) {
	used := map[string]bool{}
	for _, r := range h.Routers {
		for _, m := range r.Middlewares {
			used[m] = true
		}
	}
	for name := range h.Middlewares {
		if !used[name] {
			delete(h.Middlewares, name)
		}
	}
}

func appendUnique(certs []certificate, c certificate) []certificate {
	for _, have := range certs {
		if have == c {
			return certs
		}
	}
	return append(certs, c)
}
