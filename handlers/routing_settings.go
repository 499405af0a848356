package handlers

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"dokploy/jobs/routing"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/traefik"
	"dokploy/views"
)

// validateACME checks and normalizes ACME settings; "production" and
// "staging" name Let's Encrypt's directories.
func validateACME(a *routing.ACMESettings) map[string]string {
	errs := map[string]string{}
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

func (h *Handler) apiUpdateSettings(c echo.Context) error {
	if h.routing == nil {
		return apiError(http.StatusServiceUnavailable, "", "routing is not configured")
	}
	ctx := c.Request().Context()
	cur, err := h.routing.ACME(ctx)
	if err != nil {
		return err
	}
	var in struct {
		Email    *string `json:"acme_email"`
		Server   *string `json:"acme_server"`
		CABundle *string `json:"acme_ca_bundle"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	setIf(&cur.Email, in.Email)
	setIf(&cur.Server, in.Server)
	setIf(&cur.CABundle, in.CABundle)
	if err := firstFieldError(validateACME(&cur)); err != nil {
		return err
	}
	if err := h.routing.SetACME(ctx, cur); err != nil {
		return fmt.Errorf("ACME settings saved but Traefik not restarted: %w", err)
	}
	return c.JSON(http.StatusOK, cur)
}

// ---- settings page: ACME, the dashboard's domain, certificates, Traefik ----

// routingSettings is the data of the "settings_routing" partial.
type routingSettings struct {
	ACME      routing.ACMESettings
	ACMEMode  string // production, staging or custom
	ACMEForm  *views.Form
	Dashboard []domainRow
	DashForm  *views.Form
	Certs     []db.Certificate
	CertForm  *views.Form
	Managed   bool
	PingError string
	Listen    string
	Dir       string
	Report    traefik.Report
	SyncedAt  time.Time
	SyncError string
	Section   string
	Message   string
	Error     string
	CSRF      string
}

func (h *Handler) loadRoutingSettings(c echo.Context) (*routingSettings, error) {
	if h.routing == nil {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, "Routing is not configured.")
	}
	ctx := c.Request().Context()
	p := &routingSettings{ACMEForm: views.NewForm(), DashForm: domainToForm(newDomain(nil, 0)), CertForm: views.NewForm()}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	var err error
	if p.ACME, err = h.routing.ACME(ctx); err != nil {
		return nil, err
	}
	switch p.ACME.Server {
	case "":
		p.ACMEMode = "production"
	case routing.ACMEStaging:
		p.ACMEMode = "staging"
	default:
		p.ACMEMode = "custom"
	}
	domains, err := h.store.DashboardDomains(ctx)
	if err != nil {
		return nil, err
	}
	p.Dashboard, _ = h.domainRows(ctx, routing.DashboardApp, domains)
	if len(domains) > 0 {
		p.DashForm = domainToForm(&domains[0])
	}
	if p.Certs, err = h.store.Certificates(ctx); err != nil {
		return nil, err
	}
	p.Managed, p.Listen, p.Dir = h.routing.Managed(), h.routing.Listen(), h.routing.DynamicDir()
	if err := h.routing.Ping(ctx); err != nil {
		p.PingError = err.Error()
	}
	var syncErr error
	p.Report, p.SyncedAt, syncErr = h.routing.LastSync()
	if syncErr != nil {
		p.SyncError = syncErr.Error()
	}
	return p, nil
}

func (h *Handler) renderRoutingSettings(c echo.Context, edit func(*routingSettings)) error {
	p, err := h.loadRoutingSettings(c)
	if err != nil {
		return err
	}
	edit(p)
	status := http.StatusOK
	if !p.ACMEForm.Valid() || !p.DashForm.Valid() || !p.CertForm.Valid() || (p.Error != "" && p.Message == "") {
		status = http.StatusUnprocessableEntity
	}
	return h.partial(c, status, "settings_routing", p)
}

func (h *Handler) showRoutingSettings(c echo.Context) error {
	return h.renderRoutingSettings(c, func(*routingSettings) {})
}

func (h *Handler) updateACME(c echo.Context) error {
	if h.routing == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Routing is not configured.")
	}
	a := routing.ACMESettings{Email: c.FormValue("acme_email"), Server: c.FormValue("acme_mode"), CABundle: c.FormValue("acme_ca_bundle")}
	if a.Server == "custom" {
		a.Server = c.FormValue("acme_server")
	}
	form := views.NewForm()
	mergeErrors(form, validateACME(&a))
	msg, failed := "", ""
	if form.Valid() {
		if err := h.routing.SetACME(c.Request().Context(), a); err != nil {
			failed = "Saved, but Traefik could not be restarted: " + err.Error()
		} else {
			msg = "ACME settings saved; Traefik restarted with them."
		}
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section, p.Message, p.Error = "acme", msg, failed
		if !form.Valid() {
			p.ACMEForm, p.ACME = form, a
		}
	})
}

// updateDashboardDomain sets the dashboard's one domain; an empty host
// removes it.
func (h *Handler) updateDashboardDomain(c echo.Context) error {
	if h.routing == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Routing is not configured.")
	}
	ctx := c.Request().Context()
	current, err := h.store.DashboardDomains(ctx)
	if err != nil {
		return err
	}
	d := newDomain(nil, h.routing.DashboardPort())
	if len(current) > 0 {
		d = &current[0]
	}
	form := views.NewForm()
	formToDomain(c, d, form)
	d.Path, d.InternalPath, d.StripPath, d.Enabled, d.Port = "/", "/", false, true, h.routing.DashboardPort()
	msg, failed := "", ""
	switch {
	case d.Host == "" && d.ID != 0:
		if err := h.store.DeleteDomain(ctx, d.ID); err != nil {
			return err
		}
		msg, failed = "The dashboard no longer has a domain.", h.syncRouting(ctx)
	case d.Host == "":
		form.Errors["host"] = "host is required"
	default:
		errs, err := h.validateDomain(ctx, nil, d)
		if err != nil {
			return err
		}
		mergeErrors(form, errs)
		if form.Valid() {
			save := h.store.UpdateDomain
			if d.ID == 0 {
				save = h.store.CreateDomain
			}
			if err := save(ctx, d); errors.Is(err, db.ErrConflict) {
				form.Errors["host"] = d.Host + " was just claimed by another domain"
			} else if err != nil {
				return err
			} else {
				msg, failed = "The dashboard now answers on "+displayHost(d.Host)+".", h.syncRouting(ctx)
			}
		}
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section, p.Message, p.Error = "dashboard", msg, failed
		if !form.Valid() {
			p.DashForm = form
		}
	})
}

// resyncRouting runs the reconciler on demand (after hand edits).
func (h *Handler) resyncRouting(c echo.Context) error {
	failed := h.syncRouting(c.Request().Context())
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section, p.Error = "traefik", failed
		if failed == "" {
			p.Message = "Traefik's directory matches the database."
		}
	})
}
