package handlers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/traefik"
	"dokploy/views"
)

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
