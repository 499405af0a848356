package ops

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/ops/totp"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// TwoFactorStatus is what the account page and the API show.
type TwoFactorStatus struct {
	Enabled           bool       `json:"enabled"`
	EnabledAt         *time.Time `json:"enabled_at,omitempty"`
	Pending           bool       `json:"pending"` // an enrolment waits for its first code
	RecoveryCodesLeft int        `json:"recovery_codes_left"`
	Required          bool       `json:"required"` // Settings require every user to turn it on
}

// TwoFactorEnrolment is a new secret, shown once to be added to an
// authenticator app (as the URI's QR code, or typed).
type TwoFactorEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"otpauth_uri"`
}

// TwoFactorStatus reports the user's two-factor sign-in.
func (s *Service) TwoFactorStatus(ctx context.Context, userID int64) (TwoFactorStatus, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return TwoFactorStatus{}, err
	}
	st := TwoFactorStatus{Enabled: u.TwoFactorOn(), EnabledAt: u.TOTPEnabledAt, Pending: !u.TwoFactorOn() && len(u.TOTPSecretEnc) > 0}
	if st.Enabled {
		if st.RecoveryCodesLeft, err = s.store.RecoveryCodesLeft(ctx, userID); err != nil {
			return st, err
		}
	}
	st.Required, err = s.TwoFactorRequired(ctx)
	return st, err
}

// TwoFactorRequired tells whether Settings require two-factor sign-in.
func (s *Service) TwoFactorRequired(ctx context.Context) (bool, error) {
	v, err := s.store.Setting(ctx, db.SettingRequireTwoFactor, "false")
	return v == "true", err
}

// BeginTwoFactor starts an enrolment: a new secret, stored sealed, that
// takes effect once ConfirmTwoFactor sees a code of it. issuer names this
// installation in the authenticator app. Refused while it is on.
func (s *Service) BeginTwoFactor(ctx context.Context, userID int64, issuer string) (*TwoFactorEnrolment, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	secret := totp.NewSecret()
	if err := s.store.BeginTOTP(ctx, userID, secret); err != nil {
		if errors.Is(err, db.ErrTwoFactorOn) {
			return nil, conflict("", "Two-factor sign-in is already on. Turn it off first to move it to another device.")
		}
		return nil, err
	}
	return &TwoFactorEnrolment{Secret: secret, URI: totp.URI(issuer, u.Email, secret)}, nil
}

// PendingTwoFactor is the enrolment waiting for its first code, shown
// again until it is confirmed (the secret does nothing before that); nil
// when none waits.
func (s *Service) PendingTwoFactor(ctx context.Context, userID int64, issuer string) (*TwoFactorEnrolment, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil || u.TwoFactorOn() {
		return nil, err
	}
	secret, err := s.store.TOTPSecret(u)
	if err != nil || secret == "" {
		return nil, err
	}
	return &TwoFactorEnrolment{Secret: secret, URI: totp.URI(issuer, u.Email, secret)}, nil
}

// ConfirmTwoFactor turns two-factor sign-in on once code matches the
// pending secret, and returns the recovery codes, shown this once.
func (s *Service) ConfirmTwoFactor(ctx context.Context, userID int64, code string) ([]string, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.TwoFactorOn() {
		return nil, conflict("", "Two-factor sign-in is already on.")
	}
	secret, err := s.store.TOTPSecret(u)
	if err != nil {
		return nil, err
	}
	if secret == "" {
		return nil, fieldError("code", "Start the set-up first: no enrolment is waiting for a code.")
	}
	step := totp.Match(secret, code, time.Now())
	if step == 0 {
		return nil, fieldError("code", "That code does not match. Check the device's clock and type the code it shows now.")
	}
	codes := newRecoveryCodes()
	if err := s.store.EnableTOTP(ctx, userID, step, codes); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, conflict("", "The enrolment changed meanwhile (another tab?). Reload and start again.")
		}
		return nil, err
	}
	return codes, nil
}

// NewRecoveryCodes replaces the user's recovery codes, after checking
// their password; the old codes stop working.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID int64, password string) ([]string, error) {
	u, err := s.checkOwnPassword(ctx, userID, password)
	if err != nil {
		return nil, err
	}
	if !u.TwoFactorOn() {
		return nil, conflict("", "Two-factor sign-in is off: there are no recovery codes to replace.")
	}
	codes := newRecoveryCodes()
	return codes, s.store.ReplaceRecoveryCodes(ctx, userID, codes)
}

// DisableTwoFactor turns the user's two-factor sign-in off, after
// checking their password.
// An enrolment not yet confirmed is cancelled without the password: its
// secret never protected anything.
func (s *Service) DisableTwoFactor(ctx context.Context, userID int64, password string) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case !u.TwoFactorOn() && len(u.TOTPSecretEnc) == 0:
		return conflict("", "Two-factor sign-in is already off.")
	case u.TwoFactorOn():
		if _, err := s.checkOwnPassword(ctx, userID, password); err != nil {
			return err
		}
	}
	return s.store.DisableTOTP(ctx, userID)
}

func (s *Service) checkOwnPassword(ctx context.Context, userID int64, password string) (*db.User, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fieldError("password", "Enter your password to confirm.")
	}
	if !passwordMatches(ctx, u, password) {
		return nil, fieldError("password", "The password is wrong.")
	}
	return u, nil
}

// ErrWrongSecondFactor is a sign-in code that is not the current TOTP
// code nor an unused recovery code.
var ErrWrongSecondFactor = errors.New("that code is wrong or was already used")

// CheckSecondFactor accepts the current code of the user's authenticator
// (once: a code already used is refused) or one of their unused recovery
// codes, which is then spent. recovery tells which one it was.
func (s *Service) CheckSecondFactor(ctx context.Context, u *db.User, code string) (recovery bool, err error) {
	code = strings.TrimSpace(code)
	if !u.TwoFactorOn() {
		return false, ErrWrongSecondFactor
	}
	if len(strings.ReplaceAll(code, " ", "")) == totp.Digits {
		secret, err := s.store.TOTPSecret(u)
		if err != nil {
			return false, err
		}
		step := totp.Match(secret, code, time.Now())
		if step == 0 {
			return false, ErrWrongSecondFactor
		}
		ok, err := s.store.UseTOTPStep(ctx, u.ID, step)
		if err != nil || !ok {
			return false, errors.Join(err, ErrWrongSecondFactor)
		}
		return false, nil
	}
	ok, err := s.store.UseRecoveryCode(ctx, u.ID, code)
	if err != nil || !ok {
		return false, errors.Join(err, ErrWrongSecondFactor)
	}
	return true, nil
}

// SetRequireTwoFactor makes two-factor sign-in compulsory (or not) for
// every user: one without it is sent to set it up before anything else.
// by must have it on to require it, so turning it on never sends the
// person doing it away from the page.
func (s *Service) SetRequireTwoFactor(ctx context.Context, by *db.User, on bool) error {
	if on {
		u, err := s.store.UserByID(ctx, by.ID)
		if err != nil {
			return err
		}
		if !u.TwoFactorOn() {
			return fieldError("require_two_factor", "Turn two-factor sign-in on for your own account first (Account page).")
		}
	}
	v := "false"
	if on {
		v = "true"
	}
	return s.store.SetSetting(ctx, db.SettingRequireTwoFactor, v)
}

// ResetTwoFactor turns a user's two-factor sign-in off without their
// password: `dokploy admin disable-2fa` at the server console.
func (s *Service) ResetTwoFactor(ctx context.Context, email string) error {
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.store.DisableTOTP(ctx, u.ID)
}

// recoveryAlphabet leaves out characters read alike (0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newRecoveryCodes returns RecoveryCodeCount codes of 10 characters
// (about 50 bits each), written "xxxxx-xxxxx".
func newRecoveryCodes() []string {
	out := make([]string, RecoveryCodeCount)
	max := big.NewInt(int64(len(recoveryAlphabet)))
	for i := range out {
		var b strings.Builder
		for j := range 10 {
			if j == 5 {
				b.WriteByte('-')
			}
			n, err := rand.Int(rand.Reader, max)
			if err != nil {
				panic("crypto/rand failed: " + err.Error())
			}
			b.WriteByte(recoveryAlphabet[n.Int64()])
		}
		out[i] = b.String()
	}
	return out
}
