package ops

import (
	"context"

	"dokploy/db"
)

// ChangePassword changes a user's own password: current must be their
// password now, and the new one follows the rule of setup and `dokploy
// admin reset-password` (db.ValidatePassword). On success every other
// session of the user ends; keepSession (the stored id of the session
// asking, "" for none, as for an API token) stays signed in. API tokens
// stay valid. A wrong current password changes nothing.
func (s *Service) ChangePassword(ctx context.Context, userID int64, current, newPassword, keepSession string) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	errs := FieldErrors{}
	if current == "" {
		errs["current_password"] = "Enter your current password."
	} else if !passwordMatches(ctx, u, current) {
		errs["current_password"] = "The current password is wrong."
	}
	if err := db.ValidatePassword(newPassword); err != nil {
		errs["new_password"] = "The new " + err.Error() + "."
	} else if newPassword == current && errs["current_password"] == "" {
		errs["new_password"] = "The new password is the same as the current one."
	}
	if len(errs) > 0 {
		return errs
	}
	hash, err := db.HashPassword(newPassword)
	if err != nil {
		return err
	}
	return s.store.SetPasswordKeeping(ctx, userID, hash, keepSession)
}

// wrongPasswordKey carries a flag the HTTP layer's rate limit reads: set
// when a check of the user's own password failed, so only wrong
// passwords count as guesses (not a too-short new one, say).
type wrongPasswordKey struct{}

// WatchPasswordChecks returns a context whose own-password checks report
// a wrong password through the returned func.
func WatchPasswordChecks(ctx context.Context) (context.Context, func() bool) {
	wrong := new(bool)
	return context.WithValue(ctx, wrongPasswordKey{}, wrong), func() bool { return *wrong }
}

// passwordMatches checks the user's own password and reports a wrong one
// to WatchPasswordChecks.
func passwordMatches(ctx context.Context, u *db.User, password string) bool {
	ok := db.CheckPassword(u.PasswordHash, password)
	if w, _ := ctx.Value(wrongPasswordKey{}).(*bool); w != nil && !ok {
		*w = true
	}
	return ok
}
