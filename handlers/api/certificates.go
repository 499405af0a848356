package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

func (h *Handler) ListCertificates(c echo.Context) error {
	certs, err := h.Store.Certificates(c.Request().Context())
	if err != nil {
		return err
	}
	if certs == nil {
		certs = []db.Certificate{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": certs})
}

func (h *Handler) CreateCertificate(c echo.Context) error {
	var in struct {
		Name string `json:"name"`
		Cert string `json:"cert"`
		Key  string `json:"key"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	cert, err := h.Ops.CreateCertificate(c.Request().Context(), in.Name, in.Cert, in.Key)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cert)
}

func (h *Handler) DeleteCertificate(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	if err := h.Ops.DeleteCertificate(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
