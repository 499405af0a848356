package db

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Certificate is an uploaded TLS certificate chain with its sealed key.
// Hosts and NotAfter come from the leaf, parsed when it was uploaded.
type Certificate struct {
	ID        int64          `db:"id" json:"id"`
	Name      string         `db:"name" json:"name"`
	CertPEM   string         `db:"cert_pem" json:"-"`
	KeyEnc    []byte         `db:"key_enc" json:"-"`
	Hosts     pq.StringArray `db:"hosts" json:"hosts"`
	NotAfter  time.Time      `db:"not_after" json:"not_after"`
	CreatedAt time.Time      `db:"created_at" json:"created_at"`
}

// Expired reports whether the certificate is no longer valid at now.
func (c *Certificate) Expired(now time.Time) bool { return !now.Before(c.NotAfter) }

// CreateCertificate stores a validated certificate, sealing keyPEM. A taken
// name returns ErrConflict.
func (s *Store) CreateCertificate(ctx context.Context, c *Certificate, keyPEM string) error {
	err := s.db.GetContext(ctx, c, `
		INSERT INTO certificates (name, cert_pem, key_enc, hosts, not_after) VALUES ($1, $2, $3, $4, $5)
		RETURNING *`, c.Name, c.CertPEM, s.cipher.Seal(keyPEM), pq.StringArray(c.Hosts), c.NotAfter)
	if isUniqueViolation(err) {
		return fmt.Errorf("a certificate named %q: %w", c.Name, ErrConflict)
	}
	return err
}

// Certificates lists every uploaded certificate by name.
func (s *Store) Certificates(ctx context.Context) ([]Certificate, error) {
	var out []Certificate
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM certificates ORDER BY lower(name), id`)
	return out, opError("certificates", err)
}

// Certificate loads one certificate.
func (s *Store) Certificate(ctx context.Context, id int64) (*Certificate, error) {
	var c Certificate
	err := s.db.GetContext(ctx, &c, `SELECT * FROM certificates WHERE id = $1`, id)
	return &c, notFound("certificate", err)
}

// CertificateKey decrypts a certificate's private key (PEM).
func (s *Store) CertificateKey(c *Certificate) (string, error) {
	return s.cipher.Open(c.KeyEnc)
}

// DeleteCertificate removes a certificate no domain uses; one still in use
// returns ErrConflict, so a domain never points at a missing key.
func (s *Store) DeleteCertificate(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM certificates c WHERE c.id = $1
		AND NOT EXISTS (SELECT 1 FROM domains d WHERE d.certificate_id = c.id)`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := s.Certificate(ctx, id); err != nil {
		return err
	}
	return conflictf("the certificate is used by a domain; change that domain first")
}
