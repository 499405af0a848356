package db

import (
	"context"
	"time"
)

// Session is a logged-in browser.
type Session struct {
	ID         string    `db:"id"`
	UserID     int64     `db:"user_id"`
	IP         string    `db:"ip"`
	UserAgent  string    `db:"user_agent"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`
}

// SessionTTL is how long a session lives without activity.
const SessionTTL = 14 * 24 * time.Hour

// CreateSession stores a new session and returns the cookie value.
func (s *Store) CreateSession(ctx context.Context, userID int64, ip, userAgent string) (string, error) {
	token := RandomToken()
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO sessions (id, user_id, ip, user_agent, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		hashToken(token), userID, ip, truncate(userAgent, 300), time.Now().Add(SessionTTL))
	return token, err
}

// SessionUser resolves a cookie value to its user, sliding the expiry
// forward. last_seen_at (and the expiry) move at most once a minute:
// requests within a minute of the last touch only read the session, so a
// page's polls write nothing (no row version, no commit to flush). The
// sealed two-factor secret is left out: no request past sign-in needs it,
// and the sign-in step loads it by id.
func (s *Store) SessionUser(ctx context.Context, token string) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `
		WITH live AS (
			SELECT id, user_id, last_seen_at FROM sessions
			WHERE id = $1 AND expires_at > now()),
		touched AS (
			UPDATE sessions SET last_seen_at = now(), expires_at = $2
			FROM live WHERE sessions.id = live.id AND live.last_seen_at < now() - interval '1 minute')
		SELECT users.id, users.email, users.password_hash, users.created_at, users.role, users.totp_enabled_at,
			users.totp_enabled_at IS NULL AND EXISTS (
			SELECT 1 FROM settings WHERE key = '`+SettingRequireTwoFactor+`' AND value = 'true') AS must_enrol_2fa
		FROM users JOIN live ON live.user_id = users.id
		WHERE users.disabled_at IS NULL`,
		hashToken(token), time.Now().Add(SessionTTL))
	return &u, notFound("session user", err)
}

// DeleteSession ends one session (logout).
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, hashToken(token))
	return err
}

// SessionsByUser lists a user's live sessions, newest first.
func (s *Store) SessionsByUser(ctx context.Context, userID int64) ([]Session, error) {
	var out []Session
	err := s.db.SelectContext(ctx, &out, `
		SELECT * FROM sessions WHERE user_id = $1 AND expires_at > now() ORDER BY last_seen_at DESC`, userID)
	return out, opError("sessions by user", err)
}

// RevokeSession deletes a session by its stored id, only if it is the user's.
func (s *Store) RevokeSession(ctx context.Context, userID int64, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SessionIDFor gives the stored id of a cookie value, to mark "this session".
func SessionIDFor(token string) string { return hashToken(token) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
