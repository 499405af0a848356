package db

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// APIToken authenticates scripts and CI. Only its hash is stored.
type APIToken struct {
	ID         int64      `db:"id" json:"id"`
	UserID     int64      `db:"user_id" json:"-"`
	Name       string     `db:"name" json:"name"`
	TokenHash  string     `db:"token_hash" json:"-"`
	Prefix     string     `db:"prefix" json:"prefix"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at"`
	// Scope caps what the token may do (ScopeRead, ScopeDeploy,
	// ScopeManage) below its user's role; ProjectIDs, when set, limits it
	// to those projects; past ExpiresAt it is refused.
	Scope      string        `db:"scope" json:"scope"`
	ProjectIDs pq.Int64Array `db:"project_ids" json:"project_ids"`
	ExpiresAt  *time.Time    `db:"expires_at" json:"expires_at"`
}

// APITokenPrefix marks our tokens so secret scanners can recognise them.
const APITokenPrefix = "dkp_"

// TokenLimits narrow what a new token may do below its user's role.
type TokenLimits struct {
	Scope      string     // ScopeRead, ScopeDeploy or ScopeManage
	ProjectIDs []int64    // nil: every project the user reaches
	ExpiresAt  *time.Time // nil: until revoked
}

// CreateAPIToken stores a new token and returns it in clear, once.
func (s *Store) CreateAPIToken(ctx context.Context, userID int64, name string, lim TokenLimits) (*APIToken, string, error) {
	token := APITokenPrefix + RandomToken()
	var projects any
	if lim.ProjectIDs != nil {
		projects = pq.Array(lim.ProjectIDs)
	}
	var t APIToken
	err := s.db.GetContext(ctx, &t, `
		INSERT INTO api_tokens (user_id, name, token_hash, prefix, scope, project_ids, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
		userID, name, hashToken(token), token[:len(APITokenPrefix)+6], lim.Scope, projects, lim.ExpiresAt)
	if err != nil {
		return nil, "", err
	}
	return &t, token, nil
}

// APITokens lists a user's tokens.
func (s *Store) APITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	var out []APIToken
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY id`, userID)
	return out, opError("a p i tokens", err)
}

// RevokeAPIToken deletes one of the user's tokens.
func (s *Store) RevokeAPIToken(ctx context.Context, userID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RevokeAnyAPIToken deletes a token whoever it belongs to (owners and
// admins).
func (s *Store) RevokeAnyAPIToken(ctx context.Context, id int64) error {
	return affectOne(s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = $1`, id))
}

// TokenWithOwner is a row of the every-token list owners and admins see.
type TokenWithOwner struct {
	APIToken
	Email string `db:"email" json:"user_email"`
}

// AllAPITokens lists every user's tokens, newest first.
func (s *Store) AllAPITokens(ctx context.Context) ([]TokenWithOwner, error) {
	out := []TokenWithOwner{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT t.*, u.email FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC`)
	return out, opError("all api tokens", err)
}

// APITokenUser resolves a presented token to its owner and records the use.
func (s *Store) APITokenUser(ctx context.Context, token string) (*User, *APIToken, error) {
	var t APIToken
	err := s.db.GetContext(ctx, &t, `
		UPDATE api_tokens SET last_used_at = now()
		WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > now())
		RETURNING *`, hashToken(token))
	if err != nil {
		return nil, nil, notFound("a p i token user", err)
	}
	u, err := s.UserByID(ctx, t.UserID)
	if err == nil && u.DisabledAt != nil {
		return nil, nil, fmt.Errorf("token of a disabled user: %w", ErrNotFound)
	}
	return u, &t, err
}
