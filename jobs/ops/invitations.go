package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dokploy/db"
)

// NewInvitation is what an owner or admin asks for on the Users page or
// POST /api/v1/invitations.
type NewInvitation struct {
	Email string
	Role  string
	// ProjectID and Level grant a member or viewer a first project.
	ProjectID     *int64
	Level         string
	ExpiresInDays int // 0: DefaultInvitationDays
}

// Invitation days: long enough to reach someone on leave, short enough
// that a forgotten link does not stay a way in.
const (
	DefaultInvitationDays = 7
	MaxInvitationDays     = 30
)

// SentInvitation is the answer to an invitation: the link is shown this
// once; EmailedVia names the email channel that mailed it ("" when none
// is set up), EmailError why mailing failed.
type SentInvitation struct {
	Invitation *db.Invitation
	Link       string
	EmailedVia string
	EmailError string
}

// Invite creates a one-time invitation link (linkFor turns its token into
// the absolute URL) and mails it to the address when an email channel is
// set up. Admins cannot invite owners; an address that is already a user
// or has an open invitation is refused.
func (s *Service) Invite(ctx context.Context, actor *db.Access, in NewInvitation, linkFor func(token string) string) (*SentInvitation, error) {
	if !actor.Admin() {
		return nil, forbidden("Only owners and admins can invite users.")
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if err := ValidateEmail(email); err != nil {
		return nil, fieldError("email", err.Error())
	}
	role, err := db.ParseRole(in.Role)
	if err != nil {
		return nil, fieldError("role", err.Error())
	}
	if role == db.RoleOwner && !actor.Owner() {
		return nil, forbidden("Only an owner can invite another owner.")
	}
	days := in.ExpiresInDays
	if days == 0 {
		days = DefaultInvitationDays
	}
	if days < 1 || days > MaxInvitationDays {
		return nil, fieldError("expires_in_days", fmt.Sprintf("An invitation lasts 1 to %d days.", MaxInvitationDays))
	}
	inv := &db.Invitation{Email: email, Role: role, InvitedBy: &actor.UserID, ExpiresAt: time.Now().Add(time.Duration(days) * 24 * time.Hour)}
	if in.ProjectID != nil && !role.Administers() {
		level, err := db.ParseLevel(in.Level)
		if err != nil {
			return nil, fieldError("level", err.Error())
		}
		if role == db.RoleViewer && level > db.LevelView {
			return nil, fieldError("level", "Viewers get view access only.")
		}
		if _, err := s.store.Project(ctx, *in.ProjectID); errors.Is(err, db.ErrNotFound) {
			return nil, fieldError("project_id", fmt.Sprintf("There is no project %d.", *in.ProjectID))
		} else if err != nil {
			return nil, err
		}
		name := level.String()
		inv.ProjectID, inv.Level = in.ProjectID, &name
	}
	if _, err := s.store.UserByEmail(ctx, email); err == nil {
		return nil, conflict("email", "%s already has an account.", email)
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	token, err := s.store.CreateInvitation(ctx, inv)
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("email", "%s has an open invitation already: revoke it to send a new one.", email)
	}
	if err != nil {
		return nil, err
	}
	out := &SentInvitation{Invitation: inv, Link: linkFor(token)}
	out.EmailedVia, err = s.runner.Notifier().MailTo(ctx, email, "You are invited to Dokploy",
		fmt.Sprintf("You are invited to a Dokploy server as %s. Open the link to choose your password; it works once, until %s.",
			role, inv.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")), out.Link)
	if err != nil {
		// The invitation stands: the inviter still has the link to pass on.
		out.EmailError = err.Error()
		slog.Warn("invitation email failed", "email", email, "channel", out.EmailedVia, "err", err)
	}
	return out, nil
}

// RevokeInvitation makes an open invitation's link stop working.
func (s *Service) RevokeInvitation(ctx context.Context, actor *db.Access, id int64) error {
	if !actor.Admin() {
		return forbidden("Only owners and admins can revoke invitations.")
	}
	return s.store.DeleteInvitation(ctx, id)
}

// AcceptInvitation creates the invitee's account with the password they
// chose. The link works once.
func (s *Service) AcceptInvitation(ctx context.Context, token, password, confirm string) (*db.User, error) {
	if err := db.ValidatePassword(password); err != nil {
		return nil, fieldError("password", err.Error())
	}
	if password != confirm {
		return nil, fieldError("password_confirm", "passwords do not match")
	}
	hash, err := db.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u, err := s.store.AcceptInvitation(ctx, token, hash)
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("", "This address has an account already: sign in instead.")
	}
	return u, err
}
