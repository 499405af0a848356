package db

import (
	"context"
	"time"
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
}

// APITokenPrefix marks our tokens so secret scanners can recognise them.
const APITokenPrefix = "dkp_"

// CreateAPIToken stores a new token and returns it in clear, once.
func (s *Store) CreateAPIToken(ctx context.Context, userID int64, name string) (*APIToken, string, error) {
	token := APITokenPrefix + RandomToken()
	var t APIToken
	err := s.db.GetContext(ctx, &t, `
		INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES ($1, $2, $3, $4) RETURNING *`,
		userID, name, hashToken(token), token[:len(APITokenPrefix)+6])
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

// APITokenUser resolves a presented token to its owner and records the use.
func (s *Store) APITokenUser(ctx context.Context, token string) (*User, *APIToken, error) {
	var t APIToken
	err := s.db.GetContext(ctx, &t, `
		UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1 RETURNING *`, hashToken(token))
	if err != nil {
		return nil, nil, notFound("a p i token user", err)
	}
	u, err := s.UserByID(ctx, t.UserID)
	return u, &t, err
}
