package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/idna"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/traefik"
	"dokploy/views"
)

// newDomain returns the defaults of a new domain of an app (or the
// dashboard when a is nil).
func newDomain(a *db.App, dashboardPort int) *db.Domain {
	d := &db.Domain{Path: "/", InternalPath: "/", Certificate: db.CertLetsEncrypt, HTTPS: true, Enabled: true, Port: dashboardPort}
	if a != nil {
		id := a.ID
		d.AppID, d.Port = &id, a.Port
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
func (h *Handler) validateDomain(ctx context.Context, owner *db.App, d *db.Domain) (map[string]string, error) {
	errs := map[string]string{}
	if host, err := traefik.NormalizeHost(d.Host); err != nil {
		errs["host"] = fieldMessage(err)
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
		if msg, err := h.checkDomainCertificate(ctx, d); err != nil {
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
	claim, err := h.store.DomainClaimFor(ctx, d.Host, d.Path, d.ID)
	switch {
	case err == nil:
		errs["host"] = fmt.Sprintf("%s%s is already used by %s", d.Host, pathSuffix(d.Path), claim.Owner())
		return errs, nil
	case !errors.Is(err, db.ErrNotFound):
		return nil, err
	}
	// Last, the renderer's own rules on the app with this domain in place,
	// so nothing saved can later fail to render.
	return h.validateRendered(ctx, owner, d)
}

func pathSuffix(p string) string {
	if p == "/" {
		return ""
	}
	return p
}

// validateRendered runs traefik.Validate on the owner's routing with d
// added or replaced.
func (h *Handler) validateRendered(ctx context.Context, owner *db.App, d *db.Domain) (map[string]string, error) {
	errs := map[string]string{}
	// Without routing (tests) the domain is checked on its own, which still
	// applies every per-domain rule of the renderer.
	app := traefik.App{Name: dashboardApp, Upstreams: []string{"http://host.docker.internal:3000"}}
	if owner != nil {
		app = traefik.App{Name: owner.AppName}
	}
	var err error
	switch {
	case h.routing != nil && owner == nil:
		app, err = h.routing.DashboardConfig(ctx)
	case h.routing != nil:
		app, err = h.routing.AppConfig(ctx, owner)
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
	td := toTraefikDomain(cand, docker.TraefikConfigPath)
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

// fieldMessage returns a traefik.FieldError's message without its field.
func fieldMessage(err error) string {
	var fe *traefik.FieldError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
}

// syncRouting applies the database to Traefik's directory. Its error is
// shown, not returned: the change is saved and the next Sync retries.
func (h *Handler) syncRouting(ctx context.Context) string {
	if _, err := h.routing.Sync(ctx); err != nil {
		return "Saved, but Traefik's configuration could not be fully updated: " + err.Error()
	}
	return ""
}

// ---- app page panel ---------------------------------------------------

// domainRow is one domain with its live status.
type domainRow struct {
	db.Domain
	Display string // the host as the user typed it (Unicode), for IDNs
	Status  DomainStatus
	Form    *views.Form // its edit form
}

// domainsPanel is the data of the "app_domains" partial.
type domainsPanel struct {
	App          *db.App
	Domains      []domainRow
	Certificates []db.Certificate
	Users        []db.BasicAuthUser
	Redirects    []db.Redirect
	Headers      string // "Name: value" lines
	ReqHeaders   string
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
	p := &domainsPanel{App: a, Form: domainToForm(newDomain(a, 0))}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	domains, err := h.store.AppDomains(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	p.Domains, p.Polling = h.domainRows(ctx, a.AppName, domains)
	if p.Certificates, err = h.store.Certificates(ctx); err != nil {
		return nil, err
	}
	if p.Users, err = h.store.AppBasicAuth(ctx, a.ID); err != nil {
		return nil, err
	}
	if p.Redirects, err = h.store.AppRedirects(ctx, a.ID); err != nil {
		return nil, err
	}
	headers, err := h.store.AppHeaders(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	p.Headers, p.ReqHeaders = formatHeaders(headers, db.HeaderResponse), formatHeaders(headers, db.HeaderRequest)
	return p, nil
}

func (h *Handler) domainRows(ctx context.Context, appName string, domains []db.Domain) ([]domainRow, bool) {
	states := h.routing.statusOrUnknown(ctx, appName, domains)
	rows := make([]domainRow, len(domains))
	polling := false
	for i, d := range domains {
		rows[i] = domainRow{Domain: d, Display: displayHost(d.Host), Status: states[d.ID], Form: domainToForm(&d)}
		polling = polling || !states[d.ID].Final()
	}
	return rows, polling
}

// statusOrUnknown is Status, tolerating a nil Routing.
func (r *Routing) statusOrUnknown(ctx context.Context, appName string, domains []db.Domain) map[int64]DomainStatus {
	if r == nil {
		out := map[int64]DomainStatus{}
		for _, d := range domains {
			out[d.ID] = DomainStatus{State: StateUnknown, Detail: "routing is not configured"}
		}
		return out
	}
	return r.Status(ctx, appName, domains)
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

func (h *Handler) showDomainsPanel(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	p, err := h.loadDomainsPanel(c, a)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "app_domains", p)
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
	return h.partial(c, status, "app_domains", p)
}

func (h *Handler) createDomain(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	return h.submitDomain(c, a, newDomain(a, 0), h.store.CreateDomain, "added; no redeploy needed.",
		func(p *domainsPanel, form *views.Form) { p.Form = form })
}

// submitDomain parses and validates a domain form, saves it with save,
// applies the routing change and re-renders the panel; keepForm puts an
// invalid form back where the user typed it.
func (h *Handler) submitDomain(c echo.Context, a *db.App, d *db.Domain, save func(context.Context, *db.Domain) error,
	done string, keepForm func(*domainsPanel, *views.Form)) error {
	ctx := c.Request().Context()
	form := views.NewForm()
	formToDomain(c, d, form)
	if form.Valid() {
		errs, err := h.validateDomain(ctx, a, d)
		if err != nil {
			return err
		}
		mergeErrors(form, errs)
	}
	msg, failed := "", ""
	if form.Valid() {
		if err := save(ctx, d); errors.Is(err, db.ErrConflict) {
			form.Errors["host"] = d.Host + pathSuffix(d.Path) + " was just claimed by another domain"
		} else if err != nil {
			return err
		} else {
			msg, failed = "Domain "+displayHost(d.Host)+pathSuffix(d.Path)+" "+done, h.syncRouting(ctx)
		}
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) {
		p.Section, p.Message, p.Error = "domains", msg, failed
		if !form.Valid() {
			keepForm(p, form)
		}
	})
}

// loadAppDomain loads the :id domain and its app; the dashboard's domains
// are edited on the settings page, not here.
func (h *Handler) loadAppDomain(c echo.Context) (*db.Domain, *db.App, error) {
	id, err := idParam(c)
	if err != nil {
		return nil, nil, err
	}
	d, err := h.store.Domain(c.Request().Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if d.AppID == nil {
		return nil, nil, echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	a, err := h.store.App(c.Request().Context(), *d.AppID)
	return d, a, err
}

func (h *Handler) updateDomain(c echo.Context) error {
	d, a, err := h.loadAppDomain(c)
	if err != nil {
		return err
	}
	return h.submitDomain(c, a, d, h.store.UpdateDomain, "saved.",
		func(p *domainsPanel, form *views.Form) { p.EditID, p.EditForm = d.ID, form })
}

func (h *Handler) deleteDomain(c echo.Context) error {
	d, a, err := h.loadAppDomain(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.store.DeleteDomain(ctx, d.ID); err != nil {
		return err
	}
	failed := h.syncRouting(ctx)
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) {
		p.Section, p.Message, p.Error = "domains", "Domain "+displayHost(d.Host)+pathSuffix(d.Path)+" removed.", failed
	})
}

// showDomainStatus is polled while a domain is pending: it returns the
// poller (still polling or not) and each status badge out of band.
func (h *Handler) showDomainStatus(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	domains, err := h.store.AppDomains(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	rows, polling := h.domainRows(c.Request().Context(), a.AppName, domains)
	return h.partial(c, http.StatusOK, "domain_status_poll", map[string]any{"App": a, "Domains": rows, "Polling": polling})
}
