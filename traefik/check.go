package traefik

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Check parses data as a dynamic-configuration file for app and verifies
// what Traefik would otherwise only log: the marker line, YAML that decodes
// into known fields only, at least one router, names within the app's
// prefix, routers on web/websecure with a non-empty rule, and services and
// middlewares that exist in the same file. Dir.Write refuses data that fails
// Check, so a file Traefik cannot load never reaches the watched directory
// (one such file freezes the whole file provider).
func Check(app string, data []byte) error {
	if err := checkData(app, data); err != nil {
		return fmt.Errorf("traefik: check %s: %w", app, err)
	}
	return nil
}

func checkData(app string, data []byte) error {
	if err := ValidateAppName(app); err != nil {
		return err
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if string(first) != Marker(app) {
		return fmt.Errorf("first line must be %q", Marker(app))
	}
	// Traefik runs every file through text/template before parsing it.
	if bytes.Contains(data, []byte("{{")) {
		return errors.New("must not contain '{{'")
	}
	cfg, err := decodeStrict(data)
	if err != nil {
		return err
	}
	if cfg.HTTP == nil || len(cfg.HTTP.Routers) == 0 {
		return errors.New("no routers: an app without routes must have no file")
	}
	return errors.Join(
		checkRouters(app, cfg.HTTP),
		checkServices(app, cfg.HTTP.Services),
		checkMiddlewares(app, cfg.HTTP.Middlewares),
		checkTLS(cfg.TLS),
	)
}

func decodeStrict(data []byte) (*dynamicConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg dynamicConfig
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("yaml: more than one document")
	}
	return &cfg, nil
}

func checkName(app, kind, name string) error {
	rest, ok := strings.CutPrefix(name, app+"-")
	if !ok || !isNameTail(rest) {
		return fmt.Errorf("%s %q: name must be %q followed by a-z, 0-9 and '-'", kind, name, app+"-")
	}
	return nil
}

func isNameTail(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

func checkRouters(app string, h *httpConfig) error {
	var errs []error
	for _, name := range sortedKeys(h.Routers) {
		r := h.Routers[name]
		if err := checkName(app, "router", name); err != nil {
			errs = append(errs, err)
		}
		if r == nil {
			errs = append(errs, fmt.Errorf("router %q: is empty", name))
			continue
		}
		errs = append(errs, checkRouter(name, r, h))
	}
	return errors.Join(errs...)
}

func checkRouter(name string, r *router, h *httpConfig) error {
	var errs []error
	if len(r.EntryPoints) == 0 {
		errs = append(errs, fmt.Errorf("router %q: no entryPoints", name))
	}
	for _, ep := range r.EntryPoints {
		if ep != EntryPointWeb && ep != EntryPointWebSecure {
			errs = append(errs, fmt.Errorf("router %q: entryPoint %q is not %q or %q", name, ep, EntryPointWeb, EntryPointWebSecure))
		}
	}
	if strings.TrimSpace(r.Rule) == "" {
		errs = append(errs, fmt.Errorf("router %q: empty rule", name))
	}
	if _, ok := h.Services[r.Service]; !ok {
		errs = append(errs, fmt.Errorf("router %q: service %q is not defined in this file", name, r.Service))
	}
	for _, m := range r.Middlewares {
		if _, ok := h.Middlewares[m]; !ok {
			errs = append(errs, fmt.Errorf("router %q: middleware %q is not defined in this file", name, m))
		}
	}
	if r.TLS != nil && r.TLS.CertResolver != "" && r.TLS.CertResolver != ResolverLetsEncrypt {
		errs = append(errs, fmt.Errorf("router %q: unknown certResolver %q", name, r.TLS.CertResolver))
	}
	return errors.Join(errs...)
}

func checkServices(app string, services map[string]*service) error {
	var errs []error
	for _, name := range sortedKeys(services) {
		s := services[name]
		if err := checkName(app, "service", name); err != nil {
			errs = append(errs, err)
		}
		if s == nil || s.LoadBalancer == nil || len(s.LoadBalancer.Servers) == 0 {
			errs = append(errs, fmt.Errorf("service %q: needs a loadBalancer with at least one server", name))
			continue
		}
		for _, srv := range s.LoadBalancer.Servers {
			if u, err := url.Parse(srv.URL); err != nil || u.Scheme == "" || u.Host == "" {
				errs = append(errs, fmt.Errorf("service %q: invalid server url %q", name, srv.URL))
			}
		}
	}
	return errors.Join(errs...)
}

func checkMiddlewares(app string, mws map[string]*middleware) error {
	var errs []error
	for _, name := range sortedKeys(mws) {
		if err := checkName(app, "middleware", name); err != nil {
			errs = append(errs, err)
		}
		if m := mws[name]; m == nil || m.kinds() != 1 {
			errs = append(errs, fmt.Errorf("middleware %q: must define exactly one middleware", name))
		}
	}
	return errors.Join(errs...)
}

func checkTLS(t *tlsConfig) error {
	if t == nil {
		return nil
	}
	var errs []error
	for i, c := range t.Certificates {
		if c.CertFile == "" || c.KeyFile == "" {
			errs = append(errs, fmt.Errorf("tls.certificates[%d]: certFile and keyFile are required", i))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
