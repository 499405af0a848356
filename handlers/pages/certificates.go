package pages

import (
	"strings"

	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"

	"dokploy/views"
)

func (h *Handler) UploadCertificate(c echo.Context) error {
	form := views.NewForm()
	form.Values["name"] = c.FormValue("name")
	cert, err := h.Ops.CreateCertificate(c.Request().Context(), c.FormValue("name"), c.FormValue("cert"), c.FormValue("key"))
	if err != nil && !formErrors(form, err) {
		return err
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) {
		p.Section = "certs"
		if cert != nil {
			p.Message = "Certificate " + cert.Name + " uploaded for " + strings.Join(cert.Hosts, ", ") + "."
		} else {
			p.CertForm = form
		}
	})
}

func (h *Handler) DeleteCertificate(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	msg, failed, err := outcome(h.Ops.DeleteCertificate(c.Request().Context(), id), "Certificate deleted.")
	if err != nil {
		return err
	}
	if failed != "" {
		failed = "Not deleted: " + failed
	}
	return h.renderRoutingSettings(c, func(p *routingSettings) { p.Section, p.Message, p.Error = "certs", msg, failed })
}
