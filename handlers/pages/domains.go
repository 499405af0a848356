package pages

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"dokploy/handlers/web"

	"dokploy/jobs/ops"
	"dokploy/jobs/routing"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/idna"

	"dokploy/db"
	"dokploy/views"
)

// ---- app page panel ---------------------------------------------------

// domainRow is one domain with its live status.
type domainRow struct {
	db.Domain
	Display string // the host as the user typed it (Unicode), for IDNs
	Status  routing.DomainStatus
	Form    *views.Form // its edit form
}

// domainsPanel is the data of the "app_domains" partial.
type domainsPanel struct {
	App          *db.App
	Domains      []domainRow
	Certificates []db.Certificate
	Form         *views.Form // the add-domain form
	EditID       int64       // the domain whose edit form failed
	EditForm     *views.Form
	Section      string // which sub-form a message belongs to
	Message      string
	Error        string
	Polling      bool
	CSRF         string
}

func (h *Handler) loadDomainsPanel(c echo.Context, a *db.App) (*domainsPanel, error) {
	ctx := c.Request().Context()
	p := &domainsPanel{App: a, Form: domainToForm(ops.NewDomain(a, 0))}
	p.CSRF = web.CSRF(c)
	domains, err := h.Store.AppDomains(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	p.Domains, p.Polling = h.domainRows(ctx, a.AppName, domains)
	if p.Certificates, err = h.Store.Certificates(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (h *Handler) domainRows(ctx context.Context, appName string, domains []db.Domain) ([]domainRow, bool) {
	states := h.Routing.Status(ctx, appName, domains)
	rows := make([]domainRow, len(domains))
	polling := false
	for i, d := range domains {
		rows[i] = domainRow{Domain: d, Display: displayHost(d.Host), Status: states[d.ID], Form: domainToForm(&d)}
		polling = polling || !states[d.ID].Final()
	}
	return rows, polling
}

// displayHost shows a punycode host as Unicode (xn--bcher-kva.example →
// bücher.example), as the user typed it.
func displayHost(ascii string) string {
	if u, err := idna.Display.ToUnicode(ascii); err == nil {
		return u
	}
	return ascii
}

func formatHeaders(hs []db.Header, kind string) string {
	var b strings.Builder
	for _, h := range hs {
		if h.Kind == kind {
			fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
		}
	}
	return b.String()
}

func domainToForm(d *db.Domain) *views.Form {
	f := views.NewForm()
	v := f.Values
	v["host"], v["path"], v["internal_path"] = displayHost(d.Host), d.Path, d.InternalPath
	v["port"], v["certificate"] = strconv.Itoa(d.Port), d.Certificate
	if d.CertificateID != nil {
		v["certificate_id"] = strconv.FormatInt(*d.CertificateID, 10)
	}
	for k, on := range map[string]bool{"strip_path": d.StripPath, "https": d.HTTPS, "enabled": d.Enabled} {
		if on {
			v[k] = "on"
		}
	}
	return f
}

// formToDomain copies the submitted domain form onto d.
func formToDomain(c echo.Context, d *db.Domain, form *views.Form) {
	text := func(k string) string {
		v := strings.TrimSpace(c.FormValue(k))
		form.Values[k] = v
		return v
	}
	d.Host, d.Path, d.InternalPath = text("host"), text("path"), text("internal_path")
	d.Certificate = text("certificate")
	if v := text("port"); v != "" { // empty keeps the default: the app's port
		n, err := strconv.Atoi(v)
		if err != nil {
			form.Errors["port"] = "port must be a whole number"
		}
		d.Port = n
	}
	d.CertificateID = nil
	if id, err := strconv.ParseInt(text("certificate_id"), 10, 64); err == nil && id > 0 {
		d.CertificateID = &id
	}
	for k, dst := range map[string]*bool{"strip_path": &d.StripPath, "https": &d.HTTPS, "enabled": &d.Enabled} {
		*dst = c.FormValue(k) == "on"
		if *dst {
			form.Values[k] = "on"
		}
	}
}

// renderDomainsPanel re-renders the panel after an action, with status 422
// when the action's input was refused.
func (h *Handler) renderDomainsPanel(c echo.Context, a *db.App, edit func(*domainsPanel)) error {
	p, err := h.loadDomainsPanel(c, a)
	if err != nil {
		return err
	}
	edit(p)
	status := http.StatusOK
	if !p.Form.Valid() || !p.EditForm.Valid() || (p.Error != "" && p.Message == "") {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "app_domains", p)
}

func (h *Handler) CreateDomain(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.submitDomain(c, a, ops.NewDomain(a, 0), "added; no redeploy needed.",
		func(p *domainsPanel, form *views.Form) { p.Form = form })
}

// submitDomain parses a domain form, saves it (ops.SaveDomain validates
// it and applies routing) and re-renders the panel; keepForm puts an
// invalid form back where the user typed it.
func (h *Handler) submitDomain(c echo.Context, a *db.App, d *db.Domain, done string, keepForm func(*domainsPanel, *views.Form)) error {
	form := views.NewForm()
	formToDomain(c, d, form)
	msg, failed := "", ""
	if form.Valid() {
		err := h.Ops.SaveDomain(c.Request().Context(), a, d)
		if !formErrors(form, err) {
			if msg, failed, err = outcome(err, "Domain "+displayHost(d.Host)+ops.PathSuffix(d.Path)+" "+done); err != nil {
				return err
			}
		}
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) {
		p.Section, p.Message, p.Error = "domains", msg, failed
		if !form.Valid() {
			keepForm(p, form)
		}
	})
}

func (h *Handler) UpdateDomain(c echo.Context) error {
	d, a, err := h.LoadAppDomain(c)
	if err != nil {
		return err
	}
	return h.submitDomain(c, a, d, "saved.",
		func(p *domainsPanel, form *views.Form) { p.EditID, p.EditForm = d.ID, form })
}

func (h *Handler) DeleteDomain(c echo.Context) error {
	d, a, err := h.LoadAppDomain(c)
	if err != nil {
		return err
	}
	msg, failed, err := outcome(h.Ops.DeleteDomain(c.Request().Context(), d), "Domain "+displayHost(d.Host)+ops.PathSuffix(d.Path)+" removed.")
	if err != nil {
		return err
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "domains", msg, failed })
}

// ShowDomainStatus is polled while a domain is pending: it returns the
// poller (still polling or not) and each status badge out of band.
func (h *Handler) ShowDomainStatus(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	domains, err := h.Store.AppDomains(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	rows, polling := h.domainRows(c.Request().Context(), a.AppName, domains)
	return h.Partial(c, http.StatusOK, "domain_status_poll", map[string]any{"App": a, "Domains": rows, "Polling": polling})
}
