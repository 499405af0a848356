package ops

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/traefik"
)

// checkDomainCertificate returns why d's uploaded certificate cannot serve
// it, or "".
func (s *Service) checkDomainCertificate(ctx context.Context, d *db.Domain) (string, error) {
	if d.CertificateID == nil {
		return "choose an uploaded certificate", nil
	}
	c, err := s.store.Certificate(ctx, *d.CertificateID)
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

// CreateCertificate validates and stores an uploaded certificate and key.
func (s *Service) CreateCertificate(ctx context.Context, name, certPEM, keyPEM string) (*db.Certificate, error) {
	errs := FieldErrors{}
	name = strings.TrimSpace(name)
	if err := ValidateDisplayName(name); err != nil {
		errs["name"] = err.Error()
	}
	if len(certPEM) > 64<<10 || len(keyPEM) > 64<<10 {
		errs["cert"] = "certificate and key must each be at most 64 KiB"
		return nil, errs
	}
	leaf, err := parseCertificate(certPEM, keyPEM, time.Now())
	if err != nil {
		errs["cert"] = err.Error()
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c := &db.Certificate{Name: name, CertPEM: strings.TrimSpace(certPEM) + "\n", Hosts: leaf.DNSNames, NotAfter: leaf.NotAfter}
	err = s.store.CreateCertificate(ctx, c, strings.TrimSpace(keyPEM)+"\n")
	if errors.Is(err, db.ErrConflict) {
		return nil, fieldError("name", "a certificate named "+name+" already exists")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteCertificate removes an uploaded certificate; one that an enabled
// domain uses is refused with a ConflictError naming it.
func (s *Service) DeleteCertificate(ctx context.Context, id int64) error {
	err := s.store.DeleteCertificate(ctx, id)
	if errors.Is(err, db.ErrConflict) {
		return conflict("", "%s", err.Error())
	}
	return err
}
