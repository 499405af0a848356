package ops

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"dokploy/db"
	"dokploy/jobs/routing"
	"dokploy/traefik"
)

// NewDomain returns the defaults of a new domain of an app (or the
// dashboard when a is nil).
func NewDomain(a *db.App, dashboardPort int) *db.Domain {
	d := &db.Domain{Path: "/", InternalPath: "/", Certificate: db.CertLetsEncrypt, HTTPS: true, Enabled: true, Port: dashboardPort}
	if a != nil {
		id := a.ID
		d.ServiceID, d.Port = &id, a.Port
	}
	return d
}

// traefikFields maps traefik.FieldError fields to our form and JSON names.
var traefikFields = map[string]string{
	"host": "host", "path": "path", "internalPath": "internal_path", "port": "port",
	"certificate": "certificate", "certFile": "certificate_id", "keyFile": "certificate_id",
}

// validateDomain normalizes d (punycode host, default paths) and returns one
// message per invalid field. owner is nil for the dashboard's domain.
func (s *Service) validateDomain(ctx context.Context, owner *db.App, d *db.Domain) (FieldErrors, error) {
	errs := FieldErrors{}
	if host, err := traefik.NormalizeHost(d.Host); err != nil {
		errs["host"] = FieldMessage(err)
	} else {
		d.Host = host
	}
	for field, p := range map[string]*string{"path": &d.Path, "internal_path": &d.InternalPath} {
		if *p = strings.TrimSpace(*p); *p == "" {
			*p = "/"
		}
		if !strings.HasPrefix(*p, "/") {
			errs[field] = "must start with /"
		}
	}
	if d.Port < 1 || d.Port > 65535 {
		errs["port"] = "port must be between 1 and 65535"
	}
	switch d.Certificate {
	case db.CertLetsEncrypt, db.CertNone:
		d.CertificateID = nil
	case db.CertCustom:
		if msg, err := s.checkDomainCertificate(ctx, d); err != nil {
			return nil, err
		} else if msg != "" {
			errs["certificate_id"] = msg
		}
	default:
		errs["certificate"] = `certificate must be "letsencrypt", "none" or "custom"`
	}
	if len(errs) > 0 {
		return errs, nil
	}
	claim, err := s.store.DomainClaimFor(ctx, d.Host, d.Path, d.ServiceID, d.ID)
	switch {
	case err == nil && claim.SamePath:
		errs["host"] = fmt.Sprintf("%s%s is already used by %s", d.Host, PathSuffix(d.Path), claim.Owner())
		return errs, nil
	case err == nil:
		// Another service's path on the host would take part of its
		// traffic (Traefik prefers the longer prefix).
		errs["host"] = fmt.Sprintf("%s belongs to %s: a host serves one service, whose paths may be split only within it", d.Host, claim.Owner())
		return errs, nil
	case !errors.Is(err, db.ErrNotFound):
		return nil, err
	}
	// Last, the renderer's own rules on the app with this domain in place,
	// so nothing saved can later fail to render.
	return s.validateRendered(ctx, owner, d)
}

// PathSuffix is the path as shown after a host: nothing for "/".
func PathSuffix(p string) string {
	if p == "/" {
		return ""
	}
	return p
}

// validateRendered runs traefik.Validate on the owner's routing with d
// added or replaced.
func (s *Service) validateRendered(ctx context.Context, owner *db.App, d *db.Domain) (FieldErrors, error) {
	errs := FieldErrors{}
	// Without routing (tests) the domain is checked on its own, which still
	// applies every per-domain rule of the renderer.
	app := traefik.App{Name: routing.DashboardApp, Upstreams: []string{"http://host.docker.internal:3000"}}
	if owner != nil {
		app = traefik.App{Name: owner.AppName}
	}
	var err error
	switch {
	case s.routing != nil && owner == nil:
		app, err = s.routing.DashboardConfig(ctx)
	case s.routing != nil:
		app, err = s.routing.AppConfig(ctx, owner)
	}
	if err != nil {
		return nil, err
	}
	cand := *d
	if cand.ID == 0 {
		cand.ID = math.MaxInt32 // a new domain has no ID yet; any unused positive one will do
	}
	idx := len(app.Domains)
	for i, old := range app.Domains {
		if old.ID == cand.ID {
			idx = i
		}
	}
	td := routing.ToTraefikDomain(cand, "/etc/dokploy/traefik") // any absolute root: only the file names are checked
	if idx == len(app.Domains) {
		app.Domains = append(app.Domains, td)
	} else {
		app.Domains[idx] = td
	}
	prefix := fmt.Sprintf("domains[%d].", idx)
	for _, e := range unjoinErrors(traefik.Validate(app)) {
		var fe *traefik.FieldError
		if !errors.As(e, &fe) || !strings.HasPrefix(fe.Field, prefix) {
			continue // another domain's problem is not this form's
		}
		field := traefikFields[strings.TrimPrefix(fe.Field, prefix)]
		if field == "" {
			field = "host"
		}
		errs[field] = fe.Msg
	}
	return errs, nil
}

func unjoinErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// FieldMessage returns a traefik.FieldError's message without its field.
func FieldMessage(err error) string {
	var fe *traefik.FieldError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
}

// syncRouting applies the database to Traefik's directory after a
// committed change. Its failure is a NotRoutedError: the change is saved
// and the next Sync retries it.
func (s *Service) syncRouting(ctx context.Context) error {
	if _, err := s.routing.Sync(ctx); err != nil {
		return &NotRoutedError{Err: err}
	}
	return nil
}

// SaveDomain validates d (normalising its host and paths) and creates it
// when it has no ID yet or updates it, then applies routing. owner is nil
// for the dashboard's own domain.
func (s *Service) SaveDomain(ctx context.Context, owner *db.App, d *db.Domain) error {
	errs, err := s.validateDomain(ctx, owner, d)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs
	}
	if d.ID == 0 {
		err = s.store.CreateDomain(ctx, d)
	} else {
		err = s.store.UpdateDomain(ctx, d)
	}
	if errors.Is(err, db.ErrConflict) {
		return conflict("host", "%s%s was just claimed by another domain", d.Host, PathSuffix(d.Path))
	}
	if err != nil {
		return err
	}
	return s.syncRouting(ctx)
}

// DeleteDomain removes d and applies routing.
func (s *Service) DeleteDomain(ctx context.Context, d *db.Domain) error {
	if err := s.store.DeleteDomain(ctx, d.ID); err != nil {
		return err
	}
	return s.syncRouting(ctx)
}

// AppDomain loads domain id and its app; the dashboard's domains are not
// an app's, so they are not found here.
func (s *Service) AppDomain(ctx context.Context, id int64) (*db.Domain, *db.App, error) {
	d, err := s.store.Domain(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if d.ServiceID == nil {
		return nil, nil, db.ErrNotFound
	}
	if d.ComposeService != "" {
		// A stack's domain: its owner routes like an app named after the stack.
		c, err := s.store.Compose(ctx, *d.ServiceID)
		if err != nil {
			return nil, nil, err
		}
		return d, &db.App{ID: c.ID, AppName: c.Name, Name: c.DisplayName}, nil
	}
	a, err := s.store.App(ctx, *d.ServiceID)
	return d, a, err
}

// DashboardDomain returns the dashboard's own domain, nil when it has none.
func (s *Service) DashboardDomain(ctx context.Context) (*db.Domain, error) {
	list, err := s.store.DashboardDomains(ctx)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return &list[0], nil
}

// SetDashboardDomain makes host the dashboard's one domain (replacing the
// one it had), with https, certificate and certificateID as given; the
// path is always "/" and the port the dashboard's. An empty host is
// refused: RemoveDashboardDomain removes it.
func (s *Service) SetDashboardDomain(ctx context.Context, in *db.Domain) (*db.Domain, error) {
	if s.routing == nil {
		return nil, &NotRoutedError{Err: errors.New("routing is not configured")}
	}
	if in.Host == "" {
		return nil, fieldError("host", "host is required")
	}
	d, err := s.DashboardDomain(ctx)
	if err != nil {
		return nil, err
	}
	if d == nil {
		d = NewDomain(nil, s.routing.DashboardPort())
	}
	d.Host, d.HTTPS, d.Certificate, d.CertificateID = in.Host, in.HTTPS, in.Certificate, in.CertificateID
	d.Path, d.InternalPath, d.StripPath, d.Enabled, d.Port = "/", "/", false, true, s.routing.DashboardPort()
	if err := s.SaveDomain(ctx, nil, d); err != nil {
		return d, err
	}
	return d, nil
}

// RemoveDashboardDomain removes the dashboard's domain; it reports
// whether there was one.
func (s *Service) RemoveDashboardDomain(ctx context.Context) (bool, error) {
	d, err := s.DashboardDomain(ctx)
	if err != nil || d == nil {
		return false, err
	}
	return true, s.DeleteDomain(ctx, d)
}
