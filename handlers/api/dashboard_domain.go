package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

// dashboardDomainJSON is the body of PUT /settings/dashboard-domain.
type dashboardDomainJSON struct {
	Host          string `json:"host"`
	HTTPS         *bool  `json:"https"`
	Certificate   string `json:"certificate"`
	CertificateID *int64 `json:"certificate_id"`
}

// GetDashboardDomain answers GET /settings/dashboard-domain: the domain
// the dashboard answers on, or null.
func (h *Handler) GetDashboardDomain(c echo.Context) error {
	d, err := h.Ops.DashboardDomain(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"domain": d})
}

// PutDashboardDomain answers PUT /settings/dashboard-domain: the
// dashboard's one domain becomes host (HTTPS with Let's Encrypt unless
// told otherwise).
func (h *Handler) PutDashboardDomain(c echo.Context) error {
	var in dashboardDomainJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	d := &db.Domain{Host: strings.TrimSpace(in.Host), HTTPS: true, Certificate: in.Certificate, CertificateID: in.CertificateID}
	if in.HTTPS != nil {
		d.HTTPS = *in.HTTPS
	}
	if d.Certificate == "" {
		d.Certificate = db.CertLetsEncrypt
	}
	saved, err := h.Ops.SetDashboardDomain(c.Request().Context(), d)
	return routed(c, err, http.StatusOK, map[string]any{"domain": saved})
}

// DeleteDashboardDomain answers DELETE /settings/dashboard-domain.
func (h *Handler) DeleteDashboardDomain(c echo.Context) error {
	removed, err := h.Ops.RemoveDashboardDomain(c.Request().Context())
	if err != nil {
		return routed(c, err, http.StatusOK, map[string]any{"domain": nil}) // removed, but Traefik not told
	}
	if !removed {
		return web.Error(http.StatusNotFound, "", "the dashboard has no domain")
	}
	return c.NoContent(http.StatusNoContent)
}
