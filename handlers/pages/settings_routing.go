package pages

import (
	"net/http"
	"time"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"dokploy/jobs/routing"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/traefik"
	"dokploy/views"
)

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
	if h.Routing == nil {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, "Routing is not configured.")
	}
	ctx := c.Request().Context()
	p := &routingSettings{ACMEForm: views.NewForm(), DashForm: domainToForm(ops.NewDomain(nil, 0)), CertForm: views.NewForm()}
	p.CSRF = web.CSRF(c)
	var err error
	if p.ACME, err = h.Routing.ACME(ctx); err != nil {
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
	domains, err := h.Store.DashboardDomains(ctx)
	if err != nil {
		return nil, err
	}
	p.Dashboard, _ = h.domainRows(ctx, routing.DashboardApp, domains)
	if len(domains) > 0 {
		p.DashForm = domainToForm(&domains[0])
	}
	if p.Certs, err = h.Store.Certificates(ctx); err != nil {
		return nil, err
	}
	p.Managed, p.Listen, p.Dir = h.Routing.Managed(), h.Routing.Listen(), h.Routing.DynamicDir()
	if err := h.Routing.Ping(ctx); err != nil {
		p.PingError = err.Error()
	}
	var syncErr error
	p.Report, p.SyncedAt, syncErr = h.Routing.LastSync()
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
	return h.Partial(c, status, "settings_routing", p)
}

func (h *Handler) ShowRoutingSettings(c echo.Context) error {
	return h.renderRoutingSettings(c, func(*routingSettings) {})
}

func (h *Handler) UpdateACME(c echo.Context) error {
	if h.Routing == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Routing is not configured.")
	}
	a := routing.ACMESettings{Email: c.FormValue("acme_email"), Server: c.FormValue("acme_mode"), CABundle: c.FormValue("acme_ca_bundle")}
	if a.Server == "custom" {
		a.Server = c.FormValue("acme_server")
	}
	form := views.NewForm()
	msg, failed := "", ""
	if err := h.Ops.SetACME(c.Request().Context(), &a); !formErrors(form, err) {
		if msg, failed, err = outcome(err, "ACME settings saved; Traefik restarted with them."); err != nil {
			return err
		}
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section, p.Message, p.Error = "acme", msg, failed
		if !form.Valid() {
			p.ACMEForm, p.ACME = form, a
		}
	})
}

// UpdateDashboardDomain sets the dashboard's one domain; an empty host
// removes it.
func (h *Handler) UpdateDashboardDomain(c echo.Context) error {
	if h.Routing == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Routing is not configured.")
	}
	ctx := c.Request().Context()
	form := views.NewForm()
	in := &db.Domain{}
	formToDomain(c, in, form)
	msg, failed := "", ""
	var err error
	if in.Host == "" {
		var removed bool
		removed, err = h.Ops.RemoveDashboardDomain(ctx)
		if err == nil && !removed {
			form.Errors["host"] = "host is required"
		} else if msg, failed, err = outcome(err, "The dashboard no longer has a domain."); err != nil {
			return err
		}
	} else if _, err := h.Ops.SetDashboardDomain(ctx, in); !formErrors(form, err) {
		if msg, failed, err = outcome(err, "The dashboard now answers on "+displayHost(in.Host)+"."); err != nil {
			return err
		}
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section, p.Message, p.Error = "dashboard", msg, failed
		if !form.Valid() {
			p.DashForm = form
		}
	})
}

// ResyncRouting runs the reconciler on demand (after hand edits).
func (h *Handler) ResyncRouting(c echo.Context) error {
	msg, failed, err := outcome(h.Ops.SyncRouting(c.Request().Context()), "Traefik's directory matches the database.")
	if err != nil {
		return err
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section, p.Error = "traefik", failed
		if failed == "" {
			p.Message = msg
		}
	})
}
