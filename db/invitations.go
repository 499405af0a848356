package db

import (
	"context"
	"fmt"
	"time"
)

// Invitation is a pending or accepted invitation; the link's token is
// shown once at creation and stored only as a hash.
type Invitation struct {
	ID         int64      `db:"id" json:"id"`
	TokenHash  string     `db:"token_hash" json:"-"`
	Email      string     `db:"email" json:"email"`
	Role       Role       `db:"role" json:"role"`
	ProjectID  *int64     `db:"project_id" json:"project_id"`
	Level      *string    `db:"level" json:"level"`
	InvitedBy  *int64     `db:"invited_by" json:"invited_by"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt  time.Time  `db:"expires_at" json:"expires_at"`
	AcceptedAt *time.Time `db:"accepted_at" json:"accepted_at"`
	// ProjectName is the granted project's name, for pages.
	ProjectName *string `db:"project_name" json:"project_name"`
}

const invitationSelect = `
	SELECT i.*, p.name AS project_name FROM invitations i LEFT JOIN projects p ON p.id = i.project_id`

// CreateInvitation stores an invitation and returns its token in clear,
// once. An address with an open invitation gets ErrConflict.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation) (string, error) {
	token := RandomToken()
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO invitations (token_hash, email, role, project_id, level, invited_by, expires_at)
		VALUES ($1, lower($2), $3, $4, $5, $6, $7) RETURNING id`,
		hashToken(token), inv.Email, inv.Role, inv.ProjectID, inv.Level, inv.InvitedBy, inv.ExpiresAt)
	if isUniqueViolation(err) {
		return "", fmt.Errorf("invitation for %s: %w", inv.Email, ErrConflict)
	}
	if err != nil {
		return "", err
	}
	got, err := s.InvitationByID(ctx, id)
	if err != nil {
		return "", err
	}
	*inv = *got
	return token, nil
}

// InvitationByID loads one invitation.
func (s *Store) InvitationByID(ctx context.Context, id int64) (*Invitation, error) {
	var inv Invitation
	err := s.db.GetContext(ctx, &inv, invitationSelect+` WHERE i.id = $1`, id)
	return &inv, notFound("invitation", err)
}

// OpenInvitation finds the unaccepted, unexpired invitation of a link's
// token.
func (s *Store) OpenInvitation(ctx context.Context, token string) (*Invitation, error) {
	var inv Invitation
	err := s.db.GetContext(ctx, &inv, invitationSelect+`
		WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.expires_at > now()`, hashToken(token))
	return &inv, notFound("open invitation", err)
}

// OpenInvitations lists the invitations not yet accepted, expired ones
// included (the page says so), newest first.
func (s *Store) OpenInvitations(ctx context.Context) ([]Invitation, error) {
	out := []Invitation{}
	err := s.db.SelectContext(ctx, &out, invitationSelect+` WHERE i.accepted_at IS NULL ORDER BY i.id DESC`)
	return out, opError("open invitations", err)
}

// DeleteInvitation revokes an invitation: its link stops working.
func (s *Store) DeleteInvitation(ctx context.Context, id int64) error {
	return affectOne(s.db.ExecContext(ctx, `DELETE FROM invitations WHERE id = $1 AND accepted_at IS NULL`, id))
}

// AcceptInvitation creates the invited user with the password hash, the
// role and the grant, and marks the invitation used, in one transaction:
// a link works once even when two requests race. ErrNotFound when the
// link is used, revoked or expired; ErrConflict when the address became a
// user meanwhile.
func (s *Store) AcceptInvitation(ctx context.Context, token, passwordHash string) (*User, error) {
	var u *User
	err := s.InTx(ctx, func(tx *Store) error {
		var inv Invitation
		err := tx.db.GetContext(ctx, &inv, `
			UPDATE invitations i SET accepted_at = now()
			WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > now()
			RETURNING i.*, NULL::text AS project_name`, hashToken(token))
		if err != nil {
			return notFound("accept invitation", err)
		}
		if u, err = tx.CreateUser(ctx, inv.Email, passwordHash, inv.Role); err != nil {
			return err
		}
		if inv.ProjectID != nil && inv.Level != nil {
			l, err := ParseLevel(*inv.Level)
			if err != nil {
				return err
			}
			return tx.SetProjectMember(ctx, *inv.ProjectID, u.ID, l)
		}
		return nil
	})
	return u, err
}
