package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SignInChallengeTTL is how long the second step of a sign-in waits for its
// code after the password was accepted.
const SignInChallengeTTL = 5 * time.Minute

// SignInChallengeAttempts is how many wrong codes end a challenge: the
// password must be given again.
const SignInChallengeAttempts = 5

// ErrTwoFactorOn refuses a new enrolment while two-factor sign-in is on.
var ErrTwoFactorOn = fmt.Errorf("two-factor sign-in is already on: %w", ErrConflict)

// NormalizeRecoveryCode is the form a recovery code is hashed in: typed
// with or without its dash, in any case.
func NormalizeRecoveryCode(code string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
}

// BeginTOTP stores a new secret, sealed, for an enrolment that waits for
// its first code; an earlier unconfirmed one is replaced. Refused with
// ErrTwoFactorOn while two-factor sign-in is on.
func (s *Store) BeginTOTP(ctx context.Context, userID int64, secret string) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE users SET totp_secret_enc = $2 WHERE id = $1 AND totp_enabled_at IS NULL`,
		userID, s.cipher.Seal(secret))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.UserByID(ctx, userID); err != nil {
			return err
		}
		return ErrTwoFactorOn
	}
	return nil
}

// TOTPSecret opens the user's secret ("" when none is stored).
func (s *Store) TOTPSecret(u *User) (string, error) {
	if len(u.TOTPSecretEnc) == 0 {
		return "", nil
	}
	return s.cipher.Open(u.TOTPSecretEnc)
}

// EnableTOTP turns the pending enrolment on, with step as the code just
// accepted, and replaces the user's recovery codes with codes, in one
// transaction. ErrNotFound when no enrolment is pending.
func (s *Store) EnableTOTP(ctx context.Context, userID, step int64, codes []string) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, `
		UPDATE users SET totp_enabled_at = now(), totp_last_step = $2
		WHERE id = $1 AND totp_secret_enc IS NOT NULL AND totp_enabled_at IS NULL`, userID, step)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := replaceRecoveryCodes(ctx, tx, userID, codes); err != nil {
		return err
	}
	return tx.Commit()
}

// ReplaceRecoveryCodes gives a user with two-factor on a new set of
// recovery codes; the old ones stop working.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, codes []string) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := replaceRecoveryCodes(ctx, tx, userID, codes); err != nil {
		return err
	}
	return tx.Commit()
}

func replaceRecoveryCodes(ctx context.Context, tx txn, userID int64, codes []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, c := range codes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)`,
			userID, hashToken(NormalizeRecoveryCode(c))); err != nil {
			return err
		}
	}
	return nil
}

// UseTOTPStep records step as the user's last accepted code, only if it
// is later than the last one: false means the code was already used (or
// two-factor is off).
func (s *Store) UseTOTPStep(ctx context.Context, userID, step int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE users SET totp_last_step = $2
		WHERE id = $1 AND totp_enabled_at IS NOT NULL AND totp_last_step < $2`, userID, step)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UseRecoveryCode spends one of the user's unused recovery codes: false
// when code is not one of them.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, code string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE recovery_codes SET used_at = now()
		WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`, userID, hashToken(NormalizeRecoveryCode(code)))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID)
	return n, err
}

// DisableTOTP turns two-factor sign-in off: the secret, the recovery codes
// and any half-done sign-in go. ErrNotFound for an unknown user.
func (s *Store) DisableTOTP(ctx context.Context, userID int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, `
		UPDATE users SET totp_secret_enc = NULL, totp_enabled_at = NULL, totp_last_step = 0 WHERE id = $1`, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	for _, q := range []string{`DELETE FROM recovery_codes WHERE user_id = $1`, `DELETE FROM sign_in_challenges WHERE user_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, userID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// CreateSignInChallenge starts the second step of a sign-in and returns
// the token the browser keeps for it. Expired challenges are swept here.
func (s *Store) CreateSignInChallenge(ctx context.Context, userID int64) (string, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sign_in_challenges WHERE expires_at < now()`); err != nil {
		return "", err
	}
	token := RandomToken()
	_, err := s.db.ExecContext(ctx, `INSERT INTO sign_in_challenges (id, user_id, expires_at) VALUES ($1, $2, $3)`,
		hashToken(token), userID, time.Now().Add(SignInChallengeTTL))
	return token, err
}

// SignInChallengeUser is the user a live challenge signs in.
func (s *Store) SignInChallengeUser(ctx context.Context, token string) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `
		SELECT users.* FROM sign_in_challenges c JOIN users ON users.id = c.user_id
		WHERE c.id = $1 AND c.expires_at > now() AND c.attempts < $2`, hashToken(token), SignInChallengeAttempts)
	return &u, notFound("sign-in challenge", err)
}

// FailSignInChallenge counts a wrong code and returns how many remain; at
// none the challenge is gone.
func (s *Store) FailSignInChallenge(ctx context.Context, token string) (int, error) {
	var attempts int
	err := s.db.GetContext(ctx, &attempts, `
		UPDATE sign_in_challenges SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, hashToken(token))
	if err != nil {
		return 0, notFound("fail sign-in challenge", err)
	}
	left := SignInChallengeAttempts - attempts
	if left <= 0 {
		return 0, s.EndSignInChallenge(ctx, token)
	}
	return left, nil
}

// EndSignInChallenge removes a challenge (signed in, or given up).
func (s *Store) EndSignInChallenge(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sign_in_challenges WHERE id = $1`, hashToken(token))
	return err
}
