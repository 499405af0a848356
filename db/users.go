package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// User is an operator of this installation.
type User struct {
	ID           int64     `db:"id" json:"id"`
	Email        string    `db:"email" json:"email"`
	PasswordHash string    `db:"password_hash" json:"-"`
	CreatedAt    time.Time `db:"created_at" json:"created_at"`
	Role         Role      `db:"role" json:"role"`
	// DisabledAt is set while the user may not sign in; their sessions and
	// tokens are refused.
	DisabledAt *time.Time `db:"disabled_at" json:"disabled_at"`

	// Two-factor sign-in (two_factor.go): the sealed secret, when it was
	// turned on (nil while off or while an enrolment waits for its first
	// code) and the step of the last code accepted.
	TOTPSecretEnc []byte     `db:"totp_secret_enc" json:"-"`
	TOTPEnabledAt *time.Time `db:"totp_enabled_at" json:"-"`
	TOTPLastStep  int64      `db:"totp_last_step" json:"-"`
	// MustEnrolTwoFactor is set by SessionUser only: Settings require
	// two-factor sign-in and this user has not turned it on yet.
	MustEnrolTwoFactor bool `db:"must_enrol_2fa" json:"-"`
}

// TwoFactorOn tells whether the user signs in with a second factor.
func (u *User) TwoFactorOn() bool { return u.TOTPEnabledAt != nil }

// argon2id parameters: OWASP's minimum (19 MiB, 2 passes) keeps the idle
// footprint small while staying expensive for offline guessing.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an encoded argon2id hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword compares password with an encoded argon2id hash in constant time.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var mem, iter uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &threads); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iter, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidatePassword states the password policy in one place.
func ValidatePassword(p string) error {
	switch {
	case len(p) < 10:
		return errors.New("password must be at least 10 characters")
	case len(p) > 256:
		return errors.New("password must be at most 256 characters")
	}
	return nil
}

// CountUsers tells whether the first-run setup is still open.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM users`)
	return n, err
}

// CreateUser stores a user with an already hashed password.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string, role Role) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u,
		`INSERT INTO users (email, password_hash, role) VALUES (lower($1), $2, $3) RETURNING *`, email, passwordHash, role)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("user %s: %w", email, ErrConflict)
	}
	return &u, err
}

// CreateFirstUser creates a user only while no user exists, so two racing
// setup requests cannot both become the first owner.
func (s *Store) CreateFirstUser(ctx context.Context, email, passwordHash string) (*User, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// Without the lock two concurrent statements both see an empty table
	// (READ COMMITTED) and both insert. EXCLUSIVE blocks other writers, not readers.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE users IN EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	var u User
	err = tx.GetContext(ctx, &u, `
		INSERT INTO users (email, password_hash, role)
		SELECT lower($1), $2, 'owner' WHERE NOT EXISTS (SELECT 1 FROM users)
		RETURNING *`, email, passwordHash)
	if err != nil {
		return nil, notFound("create first user", err)
	}
	return &u, tx.Commit()
}

// UserByEmail looks a user up case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT * FROM users WHERE email = lower($1)`, email)
	return &u, notFound("user by email", err)
}

// UserByID loads one user.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT * FROM users WHERE id = $1`, id)
	return &u, notFound("user by i d", err)
}

// SetPassword replaces a user's password and ends all their sessions.
func (s *Store) SetPassword(ctx context.Context, userID int64, passwordHash string) error {
	return s.SetPasswordKeeping(ctx, userID, passwordHash, "")
}

// SetPasswordKeeping replaces a user's password and ends all their
// sessions but keepSession (a stored session id; "" keeps none), in one
// transaction. API tokens stay valid.
func (s *Store) SetPasswordKeeping(ctx context.Context, userID int64, passwordHash, keepSession string) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, passwordHash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, keepSession); err != nil {
		return err
	}
	// A sign-in half done with the old password does not finish.
	if _, err := tx.ExecContext(ctx, `DELETE FROM sign_in_challenges WHERE user_id = $1`, userID); err != nil {
		return err
	}
	return tx.Commit()
}

// RandomToken returns a URL-safe random string with 256 bits of entropy.
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how session and API tokens are stored: a leaked table
// does not give working credentials.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
