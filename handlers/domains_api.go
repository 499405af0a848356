package handlers

import (
	"errors"
	"fmt"
	"net/http"

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
	states := h.routing.Status(c.Request().Context(), a.AppName, domains)
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
	st := h.routing.Status(ctx, a.AppName, []db.Domain{*d})[d.ID]
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
