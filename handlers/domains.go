package handlers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/idna"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/traefik"
	"dokploy/views"
)

// domainInput is the body of POST and PATCH domain requests and the fields
// of the domain forms. Pointers tell "not sent" (PATCH keeps the value)
// from "sent empty".
type domainInput struct {
	Host          *string `json:"host"`
	Path          *string `json:"path"`
	StripPath     *bool   `json:"strip_path"`
	InternalPath  *string `json:"internal_path"`
	Port          *int    `json:"port"`
	HTTPS         *bool   `json:"https"`
	Certificate   *string `json:"certificate"`
	CertificateID *int64  `json:"certificate_id"`
	Enabled       *bool   `json:"enabled"`
}

func (in *domainInput) apply(d *db.Domain) {
	setIf(&d.Host, in.Host)
	setIf(&d.Path, in.Path)
	setIf(&d.StripPath, in.StripPath)
	setIf(&d.InternalPath, in.InternalPath)
	setIf(&d.Port, in.Port)
	setIf(&d.HTTPS, in.HTTPS)
	setIf(&d.Certificate, in.Certificate)
	if in.CertificateID != nil {
		d.CertificateID = in.CertificateID
	}
	setIf(&d.Enabled, in.Enabled)
}

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
	td := toTraefikDomain(cand, jobs.TraefikConfigPath)
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

// checkDomainCertificate returns why d's uploaded certificate cannot serve
// it, or "".
func (h *Handler) checkDomainCertificate(ctx context.Context, d *db.Domain) (string, error) {
	if d.CertificateID == nil {
		return "choose an uploaded certificate", nil
	}
	c, err := h.store.Certificate(ctx, *d.CertificateID)
	if errors.Is(err, db.ErrNotFound) {
		return "no such certificate", nil
	}
	if err != nil {
		return "", err
	}
	if c.Expired(time.Now()) {
		return fmt.Sprintf("certificate %s expired on %s", c.Name, c.NotAfter.Format("2006-01-02")), nil
	}
	leaf, err := parseLeaf(c.CertPEM)
	if err != nil {
		return "certificate " + c.Name + " cannot be parsed", nil
	}
	if host, herr := traefik.NormalizeHost(d.Host); herr == nil && leaf.VerifyHostname(host) != nil {
		return fmt.Sprintf("certificate %s does not cover %s (it covers %s)", c.Name, host, strings.Join(c.Hosts, ", ")), nil
	}
	return "", nil
}

// parseCertificate validates an uploaded chain and key: both parse, the key
// matches the leaf, and the leaf is valid now. It returns the leaf.
func parseCertificate(certPEM, keyPEM string, now time.Time) (*x509.Certificate, error) {
	if strings.Contains(certPEM+keyPEM, "{{") {
		// Traefik runs dynamic files through text/template; never let "{{" near them.
		return nil, errors.New("the PEM text contains {{")
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, fmt.Errorf("certificate and key do not form a pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("certificate does not parse: %v", err)
	}
	switch {
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("certificate is not valid before %s", leaf.NotBefore.Format(time.RFC3339))
	case !now.Before(leaf.NotAfter):
		return nil, fmt.Errorf("certificate expired on %s", leaf.NotAfter.Format(time.RFC3339))
	case len(leaf.DNSNames) == 0:
		return nil, errors.New("certificate names no DNS host (subjectAltName)")
	}
	return leaf, nil
}

func parseLeaf(certPEM string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// createCertificate validates and stores an upload; errors are per field.
func (h *Handler) createCertificate(ctx context.Context, name, certPEM, keyPEM string) (*db.Certificate, map[string]string, error) {
	errs := map[string]string{}
	name = strings.TrimSpace(name)
	if err := validateDisplayName(name); err != nil {
		errs["name"] = err.Error()
	}
	if len(certPEM) > 64<<10 || len(keyPEM) > 64<<10 {
		errs["cert"] = "certificate and key must each be at most 64 KiB"
		return nil, errs, nil
	}
	leaf, err := parseCertificate(certPEM, keyPEM, time.Now())
	if err != nil {
		errs["cert"] = err.Error()
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	c := &db.Certificate{Name: name, CertPEM: strings.TrimSpace(certPEM) + "\n", Hosts: leaf.DNSNames, NotAfter: leaf.NotAfter}
	err = h.store.CreateCertificate(ctx, c, strings.TrimSpace(keyPEM)+"\n")
	if errors.Is(err, db.ErrConflict) {
		return nil, map[string]string{"name": "a certificate named " + name + " already exists"}, nil
	}
	return c, nil, err
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

func (h *Handler) addBasicAuthUser(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	user, password := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	msg, perr := "", ""
	switch {
	case len(password) < 8 || len(password) > 72:
		perr = "The password must be 8 to 72 characters (bcrypt's limit)."
	default:
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return err
		}
		if err := traefik.ValidateBasicAuthUser(traefik.BasicAuthUser{Username: user, PasswordHash: string(hash)}); err != nil {
			perr = "Username " + fieldMessage(err) + "."
		} else if err := h.store.AddBasicAuthUser(ctx, a.ID, user, string(hash)); errors.Is(err, db.ErrConflict) {
			perr = "User " + user + " already exists."
		} else if err != nil {
			return err
		} else {
			msg, perr = "User "+user+" added: every domain of this app now asks for a password.", h.syncRouting(ctx)
		}
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "auth", msg, perr })
}

func (h *Handler) deleteBasicAuthUser(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.Param("uid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	if err := h.store.DeleteBasicAuthUser(c.Request().Context(), a.ID, uid); err != nil {
		return err
	}
	failed := h.syncRouting(c.Request().Context())
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "auth", "User removed.", failed })
}

func (h *Handler) addRedirect(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rd := &db.Redirect{AppID: a.ID, Regex: strings.TrimSpace(c.FormValue("regex")),
		Replacement: strings.TrimSpace(c.FormValue("replacement")), Permanent: c.FormValue("permanent") == "on"}
	msg, perr := "", ""
	if err := traefik.ValidateRedirect(toTraefikRedirect(db.Redirect{ID: 1, Regex: rd.Regex, Replacement: rd.Replacement})); err != nil {
		perr = "Redirect not saved: " + err.Error()
	} else if err := h.store.CreateRedirect(ctx, rd); err != nil {
		return err
	} else {
		msg, perr = "Redirect added.", h.syncRouting(ctx)
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "redirects", msg, perr })
}

func (h *Handler) deleteRedirect(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	rid, err := strconv.ParseInt(c.Param("rid"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	if err := h.store.DeleteRedirect(c.Request().Context(), a.ID, rid); err != nil {
		return err
	}
	failed := h.syncRouting(c.Request().Context())
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) { p.Section, p.Message, p.Error = "redirects", "Redirect removed.", failed })
}

// parseHeaderLines reads "Name: value" lines; an empty value removes the
// header from the message.
func parseHeaderLines(text, kind string) ([]db.Header, error) {
	var out []db.Header
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok {
			return nil, fmt.Errorf("line %d: expected Name: value", i+1)
		}
		if err := traefik.ValidateHeader(name, value); err != nil {
			return nil, fmt.Errorf("line %d: %s", i+1, fieldMessage(err))
		}
		key := strings.ToLower(name)
		if seen[key] {
			return nil, fmt.Errorf("line %d: header %s is listed twice", i+1, name)
		}
		seen[key] = true
		out = append(out, db.Header{Kind: kind, Name: name, Value: value})
	}
	if len(out) > 50 {
		return nil, errors.New("at most 50 headers")
	}
	return out, nil
}

func (h *Handler) updateHeaders(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	resp, err1 := parseHeaderLines(c.FormValue("headers"), db.HeaderResponse)
	req, err2 := parseHeaderLines(c.FormValue("request_headers"), db.HeaderRequest)
	msg, perr := "", ""
	switch {
	case err1 != nil:
		perr = "Response headers not saved: " + err1.Error()
	case err2 != nil:
		perr = "Request headers not saved: " + err2.Error()
	default:
		if err := h.store.SetAppHeaders(ctx, a.ID, db.HeaderResponse, resp); err != nil {
			return err
		}
		if err := h.store.SetAppHeaders(ctx, a.ID, db.HeaderRequest, req); err != nil {
			return err
		}
		msg, perr = "Headers saved.", h.syncRouting(ctx)
	}
	return h.renderDomainsPanel(c, a, func(p *domainsPanel) {
		p.Section, p.Message, p.Error = "headers", msg, perr
		if msg == "" {
			p.Headers, p.ReqHeaders = c.FormValue("headers"), c.FormValue("request_headers")
		}
	})
}

// ---- JSON API ------------------------------------------------------------

// domainJSON is a domain as the API shows it, with its live status.
type domainJSON struct {
	db.Domain
	Status       string `json:"status"`
	StatusDetail string `json:"status_detail,omitempty"`
}

func (h *Handler) apiListDomains(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	domains, err := h.store.AppDomains(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	states := h.routing.statusOrUnknown(c.Request().Context(), a.AppName, domains)
	items := make([]domainJSON, 0, len(domains))
	for _, d := range domains {
		items = append(items, domainJSON{Domain: d, Status: states[d.ID].State, StatusDetail: states[d.ID].Detail})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) apiCreateDomain(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	var in domainInput
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Host == nil {
		return apiError(http.StatusUnprocessableEntity, "host", "host is required")
	}
	d := newDomain(a, 0)
	in.apply(d)
	return h.apiSaveDomain(c, a, d, true)
}

func (h *Handler) apiUpdateDomain(c echo.Context) error {
	d, a, err := h.loadAppDomain(c)
	if err != nil {
		return err
	}
	var in domainInput
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	in.apply(d)
	return h.apiSaveDomain(c, a, d, false)
}

func (h *Handler) apiSaveDomain(c echo.Context, a *db.App, d *db.Domain, create bool) error {
	ctx := c.Request().Context()
	errs, err := h.validateDomain(ctx, a, d)
	if err != nil {
		return err
	}
	if err := firstFieldError(errs); err != nil {
		return err
	}
	status := http.StatusOK
	if create {
		status, err = http.StatusCreated, h.store.CreateDomain(ctx, d)
	} else {
		err = h.store.UpdateDomain(ctx, d)
	}
	if errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "host", d.Host+pathSuffix(d.Path)+" was just claimed by another domain")
	}
	if err != nil {
		return err
	}
	if _, err := h.routing.Sync(ctx); err != nil {
		return fmt.Errorf("domain saved but routing not applied: %w", err)
	}
	st := h.routing.statusOrUnknown(ctx, a.AppName, []db.Domain{*d})[d.ID]
	return c.JSON(status, domainJSON{Domain: *d, Status: st.State, StatusDetail: st.Detail})
}

func (h *Handler) apiDeleteDomain(c echo.Context) error {
	d, _, err := h.loadAppDomain(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.store.DeleteDomain(ctx, d.ID); err != nil {
		return err
	}
	if _, err := h.routing.Sync(ctx); err != nil {
		return fmt.Errorf("domain deleted but routing not applied: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) apiListCertificates(c echo.Context) error {
	certs, err := h.store.Certificates(c.Request().Context())
	if err != nil {
		return err
	}
	if certs == nil {
		certs = []db.Certificate{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": certs})
}

func (h *Handler) apiCreateCertificate(c echo.Context) error {
	var in struct {
		Name string `json:"name"`
		Cert string `json:"cert"`
		Key  string `json:"key"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	cert, errs, err := h.createCertificate(c.Request().Context(), in.Name, in.Cert, in.Key)
	if err != nil {
		return err
	}
	if err := firstFieldError(errs); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cert)
}

func (h *Handler) apiDeleteCertificate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteCertificate(c.Request().Context(), id); errors.Is(err, db.ErrConflict) {
		return apiError(http.StatusConflict, "", err.Error())
	} else if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// validateACME checks and normalizes ACME settings; "production" and
// "staging" name Let's Encrypt's directories.
func validateACME(a *ACMESettings) map[string]string {
	errs := map[string]string{}
	a.Email, a.Server = strings.TrimSpace(a.Email), strings.TrimSpace(a.Server)
	if a.Email != "" {
		if err := ValidateEmail(a.Email); err != nil {
			errs["acme_email"] = err.Error()
		}
	}
	switch a.Server {
	case "", "production", ACMEProduction:
		a.Server = ""
	case "staging":
		a.Server = ACMEStaging
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
	ACME      ACMESettings
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
	case ACMEStaging:
		p.ACMEMode = "staging"
	default:
		p.ACMEMode = "custom"
	}
	domains, err := h.store.DashboardDomains(ctx)
	if err != nil {
		return nil, err
	}
	p.Dashboard, _ = h.domainRows(ctx, dashboardApp, domains)
	if len(domains) > 0 {
		p.DashForm = domainToForm(&domains[0])
	}
	if p.Certs, err = h.store.Certificates(ctx); err != nil {
		return nil, err
	}
	p.Managed, p.Listen, p.Dir = h.routing.Managed(), h.routing.opts.Listen, h.routing.DynamicDir()
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
	a := ACMESettings{Email: c.FormValue("acme_email"), Server: c.FormValue("acme_mode"), CABundle: c.FormValue("acme_ca_bundle")}
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
	d := newDomain(nil, h.routing.dashboardPort())
	if len(current) > 0 {
		d = &current[0]
	}
	form := views.NewForm()
	formToDomain(c, d, form)
	d.Path, d.InternalPath, d.StripPath, d.Enabled, d.Port = "/", "/", false, true, h.routing.dashboardPort()
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

func (h *Handler) uploadCertificate(c echo.Context) error {
	form := views.NewForm()
	form.Values["name"] = c.FormValue("name")
	cert, errs, err := h.createCertificate(c.Request().Context(), c.FormValue("name"), c.FormValue("cert"), c.FormValue("key"))
	if err != nil {
		return err
	}
	mergeErrors(form, errs)
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section = "certs"
		if cert != nil {
			p.Message = "Certificate " + cert.Name + " uploaded for " + strings.Join(cert.Hosts, ", ") + "."
		} else {
			p.CertForm = form
		}
	})
}

func (h *Handler) deleteCertificate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	msg, failed := "Certificate deleted.", ""
	if err := h.store.DeleteCertificate(c.Request().Context(), id); errors.Is(err, db.ErrConflict) {
		msg, failed = "", "Not deleted: "+err.Error()
	} else if err != nil {
		return err
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) { p.Section, p.Message, p.Error = "certs", msg, failed })
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
