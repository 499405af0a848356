package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Certificate kinds of a domain (domains.certificate).
const (
	CertLetsEncrypt = "letsencrypt"
	CertNone        = "none"
	CertCustom      = "custom"
)

// Header kinds (service_headers.kind).
const (
	HeaderResponse = "response" // added to what the client receives
	HeaderRequest  = "request"  // added to what the app receives
)

// Domain is one public address routed through Traefik. ServiceID is nil for the
// dashboard's own domain.
type Domain struct {
	ID            int64  `db:"id" json:"id"`
	ServiceID     *int64 `db:"service_id" json:"app_id"`
	Host          string `db:"host" json:"host"`
	Path          string `db:"path" json:"path"`
	StripPath     bool   `db:"strip_path" json:"strip_path"`
	InternalPath  string `db:"internal_path" json:"internal_path"`
	Port          int    `db:"port" json:"port"`
	HTTPS         bool   `db:"https" json:"https"`
	Certificate   string `db:"certificate" json:"certificate"`
	CertificateID *int64 `db:"certificate_id" json:"certificate_id"`
	Enabled       bool   `db:"enabled" json:"enabled"`
	// ComposeService is the stack service a compose stack's domain routes
	// to ("" for apps and the dashboard).
	ComposeService string    `db:"compose_service" json:"service,omitempty"`
	CreatedAt      time.Time `db:"created_at" json:"created_at"`
	UpdatedAt      time.Time `db:"updated_at" json:"updated_at"`
}

// DomainClaim says who owns a host+path: an app, or the dashboard when
// ServiceID is nil.
type DomainClaim struct {
	DomainID  int64          `db:"id"`
	ServiceID *int64         `db:"service_id"`
	AppName   sql.NullString `db:"app_name"`  // the app's slug
	Name      sql.NullString `db:"name"`      // the app's display name
	Kind      string         `db:"kind"`      // the claimant's kind of service
	SamePath  bool           `db:"same_path"` // false: another owner's domain on the host
}

// Owner names the claimant for messages.
func (c *DomainClaim) Owner() string {
	if c.ServiceID == nil {
		return "the dashboard"
	}
	if c.Kind == KindCompose {
		return fmt.Sprintf("compose stack %q (%s)", c.Name.String, c.AppName.String)
	}
	return fmt.Sprintf("app %q (%s)", c.Name.String, c.AppName.String)
}

// AppDomains lists an app's domains in creation order.
func (s *Store) AppDomains(ctx context.Context, appID int64) ([]Domain, error) {
	var out []Domain
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM domains WHERE service_id = $1 ORDER BY id`, appID)
	return out, opError("app domains", err)
}

// DashboardDomains lists the dashboard's own domains.
func (s *Store) DashboardDomains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM domains WHERE service_id IS NULL ORDER BY id`)
	return out, opError("dashboard domains", err)
}

// AllDomains lists every domain, for rendering the whole routing table at once.
func (s *Store) AllDomains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM domains ORDER BY id`)
	return out, opError("all domains", err)
}

// Domain loads one domain.
func (s *Store) Domain(ctx context.Context, id int64) (*Domain, error) {
	var d Domain
	err := s.db.GetContext(ctx, &d, `SELECT * FROM domains WHERE id = $1`, id)
	return &d, notFound("domain", err)
}

// DomainClaimFor returns who stands in the way of serviceID (nil for the
// dashboard) using host+path, ignoring domain exceptID (the one being
// edited): a domain with the same host and path, or any domain of another
// owner on the same host, since a host belongs to one service (its paths
// split only within it). ErrNotFound when the address is free. SamePath
// tells the two cases apart.
func (s *Store) DomainClaimFor(ctx context.Context, host, path string, serviceID *int64, exceptID int64) (*DomainClaim, error) {
	var c DomainClaim
	err := s.db.GetContext(ctx, &c, `
		SELECT d.id, d.service_id, d.path = $2 AS same_path, s.name AS app_name,
			COALESCE(a.name, c.display_name, s.name) AS name, COALESCE(s.kind, '') AS kind
		FROM domains d LEFT JOIN services s ON s.id = d.service_id LEFT JOIN applications a ON a.id = s.id
		LEFT JOIN compose_stacks c ON c.id = s.id
		WHERE d.host = $1 AND d.id <> $4 AND (d.path = $2 OR d.service_id IS DISTINCT FROM $3)
		ORDER BY d.path = $2 DESC, d.id
		LIMIT 1`, host, path, serviceID, exceptID)
	return &c, notFound("domain claim for", err)
}

// CreateDomain inserts a validated domain and fills its generated fields.
// A host+path taken meanwhile by another domain returns ErrConflict.
func (s *Store) CreateDomain(ctx context.Context, d *Domain) error {
	err := s.db.GetContext(ctx, d, `
		INSERT INTO domains (service_id, host, path, strip_path, internal_path, port, https, certificate, certificate_id, enabled, compose_service)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING *`,
		d.ServiceID, d.Host, d.Path, d.StripPath, d.InternalPath, d.Port, d.HTTPS, d.Certificate, d.CertificateID, d.Enabled, d.ComposeService)
	if isUniqueViolation(err) {
		return fmt.Errorf("domain %s%s: %w", d.Host, d.Path, ErrConflict)
	}
	return err
}

// UpdateDomain saves every editable field; the owner never changes.
func (s *Store) UpdateDomain(ctx context.Context, d *Domain) error {
	err := s.db.GetContext(ctx, d, `
		UPDATE domains SET host = $2, path = $3, strip_path = $4, internal_path = $5, port = $6, https = $7,
			certificate = $8, certificate_id = $9, enabled = $10, compose_service = $11, updated_at = now()
		WHERE id = $1
		RETURNING *`,
		d.ID, d.Host, d.Path, d.StripPath, d.InternalPath, d.Port, d.HTTPS, d.Certificate, d.CertificateID, d.Enabled, d.ComposeService)
	if isUniqueViolation(err) {
		return fmt.Errorf("domain %s%s: %w", d.Host, d.Path, ErrConflict)
	}
	return notFound("update domain", err)
}

// DeleteDomain removes one domain.
func (s *Store) DeleteDomain(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM domains WHERE id = $1`, id)
	return rowsOrNotFound(res, err)
}

// BasicAuthUser is one user allowed through an app's basic auth.
type BasicAuthUser struct {
	ID           int64     `db:"id"`
	ServiceID    int64     `db:"service_id"`
	Username     string    `db:"username"`
	PasswordHash string    `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
}

// AppBasicAuth lists an app's basic-auth users by name.
func (s *Store) AppBasicAuth(ctx context.Context, appID int64) ([]BasicAuthUser, error) {
	var out []BasicAuthUser
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_basic_auth WHERE service_id = $1 ORDER BY username`, appID)
	return out, opError("app basic auth", err)
}

// AllBasicAuth lists every app's basic-auth users.
func (s *Store) AllBasicAuth(ctx context.Context) ([]BasicAuthUser, error) {
	var out []BasicAuthUser
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_basic_auth ORDER BY service_id, username`)
	return out, opError("all basic auth", err)
}

// AddBasicAuthUser stores a user with an already bcrypt-hashed password.
// An existing username of the app returns ErrConflict.
func (s *Store) AddBasicAuthUser(ctx context.Context, appID int64, username, hash string) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO service_basic_auth (service_id, username, password_hash) VALUES ($1, $2, $3)`, appID, username, hash)
	if isUniqueViolation(err) {
		return fmt.Errorf("user %s: %w", username, ErrConflict)
	}
	return err
}

// DeleteBasicAuthUser removes one of an app's users.
func (s *Store) DeleteBasicAuthUser(ctx context.Context, appID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM service_basic_auth WHERE service_id = $1 AND id = $2`, appID, id)
	return rowsOrNotFound(res, err)
}

// Redirect is a regex redirect of an app.
type Redirect struct {
	ID          int64     `db:"id" json:"id"`
	ServiceID   int64     `db:"service_id" json:"app_id"`
	Regex       string    `db:"regex" json:"regex"`
	Replacement string    `db:"replacement" json:"replacement"`
	Permanent   bool      `db:"permanent" json:"permanent"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}

// AppRedirects lists an app's redirects in the order they apply.
func (s *Store) AppRedirects(ctx context.Context, appID int64) ([]Redirect, error) {
	var out []Redirect
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_redirects WHERE service_id = $1 ORDER BY id`, appID)
	return out, opError("app redirects", err)
}

// AllRedirects lists every app's redirects.
func (s *Store) AllRedirects(ctx context.Context) ([]Redirect, error) {
	var out []Redirect
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_redirects ORDER BY service_id, id`)
	return out, opError("all redirects", err)
}

// CreateRedirect stores a validated redirect and fills its ID.
func (s *Store) CreateRedirect(ctx context.Context, r *Redirect) error {
	return s.db.GetContext(ctx, r, `
		INSERT INTO service_redirects (service_id, regex, replacement, permanent) VALUES ($1, $2, $3, $4)
		RETURNING *`, r.ServiceID, r.Regex, r.Replacement, r.Permanent)
}

// DeleteRedirect removes one of an app's redirects.
func (s *Store) DeleteRedirect(ctx context.Context, appID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM service_redirects WHERE service_id = $1 AND id = $2`, appID, id)
	return rowsOrNotFound(res, err)
}

// Header is one extra header of an app.
type Header struct {
	ServiceID int64  `db:"service_id" json:"-"`
	Kind      string `db:"kind" json:"kind"`
	Name      string `db:"name" json:"name"`
	Value     string `db:"value" json:"value"`
}

// AppHeaders lists an app's extra headers by kind and name.
func (s *Store) AppHeaders(ctx context.Context, appID int64) ([]Header, error) {
	var out []Header
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_headers WHERE service_id = $1 ORDER BY kind, name`, appID)
	return out, opError("app headers", err)
}

// AllHeaders lists every app's extra headers.
func (s *Store) AllHeaders(ctx context.Context) ([]Header, error) {
	var out []Header
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM service_headers ORDER BY service_id, kind, name`)
	return out, opError("all headers", err)
}

// SetAppHeaders replaces an app's headers of one kind in one transaction,
// so a reader never sees half a list.
func (s *Store) SetAppHeaders(ctx context.Context, appID int64, kind string, headers []Header) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM service_headers WHERE service_id = $1 AND kind = $2`, appID, kind); err != nil {
		return err
	}
	for _, h := range headers {
		_, err := tx.ExecContext(ctx, `INSERT INTO service_headers (service_id, kind, name, value) VALUES ($1, $2, $3, $4)`,
			appID, kind, h.Name, h.Value)
		if isUniqueViolation(err) {
			return conflictf("header %s is listed twice", h.Name)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}
