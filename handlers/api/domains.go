package api

import (
	"net/http"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
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
	// Service is the compose service a stack's domain routes to.
	Service *string `json:"service"`
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
	setIf(&d.ComposeService, in.Service)
}

// domainJSON is a domain as the API shows it, with its live status.
type domainJSON struct {
	db.Domain
	Status       string `json:"status"`
	StatusDetail string `json:"status_detail,omitempty"`
	RoutingError string `json:"routing_error,omitempty"` // saved, but not applied to Traefik
}

func (h *Handler) ListDomains(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	domains, err := h.Store.AppDomains(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	states := h.Routing.Status(c.Request().Context(), a.AppName, domains)
	items := make([]domainJSON, 0, len(domains))
	for _, d := range domains {
		items = append(items, domainJSON{Domain: d, Status: states[d.ID].State, StatusDetail: states[d.ID].Detail})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) CreateDomain(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in domainInput
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.Host == nil {
		return web.Error(http.StatusUnprocessableEntity, "host", "host is required")
	}
	if in.Service != nil {
		return web.Error(http.StatusUnprocessableEntity, "service", "service is for the domains of compose stacks; an application's domain routes to the application")
	}
	d := ops.NewDomain(a, 0)
	in.apply(d)
	return h.apiSaveDomain(c, a, d, true)
}

func (h *Handler) UpdateDomain(c echo.Context) error {
	d, a, err := h.LoadAppDomain(c)
	if err != nil {
		return err
	}
	var in domainInput
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if d.ComposeService == "" && in.Service != nil {
		return web.Error(http.StatusUnprocessableEntity, "service", "service is for the domains of compose stacks; an application's domain routes to the application")
	}
	in.apply(d)
	if d.ComposeService != "" {
		stack, err := h.Store.Compose(c.Request().Context(), a.ID)
		if err != nil {
			return err
		}
		err = h.Ops.SaveComposeDomain(c.Request().Context(), stack, d)
		return h.answerDomain(c, stack.Name, d, err, http.StatusOK)
	}
	return h.apiSaveDomain(c, a, d, false)
}

func (h *Handler) apiSaveDomain(c echo.Context, a *db.App, d *db.Domain, create bool) error {
	ctx := c.Request().Context()
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	return h.answerDomain(c, a.AppName, d, h.Ops.SaveDomain(ctx, a, d), status)
}

// answerDomain answers a save: the domain with its routing status, or the
// save's error. A domain saved but not applied to Traefik is still 2xx,
// with the reason.
func (h *Handler) answerDomain(c echo.Context, owner string, d *db.Domain, err error, status int) error {
	if err != nil && !ops.IsNotRouted(err) {
		return err
	}
	st := h.Routing.Status(c.Request().Context(), owner, []db.Domain{*d})[d.ID]
	out := domainJSON{Domain: *d, Status: st.State, StatusDetail: st.Detail}
	if err != nil {
		out.RoutingError = err.Error()
	}
	return c.JSON(status, out)
}

func (h *Handler) DeleteDomain(c echo.Context) error {
	d, _, err := h.LoadAppDomain(c)
	if err != nil {
		return err
	}
	// 204 when applied; saved but not routed answers 200 with the reason.
	if err := h.Ops.DeleteDomain(c.Request().Context(), d); err != nil {
		return routed(c, err, http.StatusOK, map[string]any{"deleted": d.ID})
	}
	return c.NoContent(http.StatusNoContent)
}
