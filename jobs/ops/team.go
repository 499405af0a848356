package ops

import (
	"context"
	"errors"

	"dokploy/db"
)

// The rules of who may change whom. Owners change anyone; admins change
// everyone but owners and cannot make owners. Nobody changes their own
// role, disables or removes themselves (another owner or admin does),
// and the last owner who can sign in stays one.

// checkTarget loads the user an owner or admin acts on and refuses what
// the actor's role does not allow.
func (s *Service) checkTarget(ctx context.Context, actor *db.Access, id int64, what string) (*db.User, error) {
	if !actor.Admin() {
		return nil, forbidden("Only owners and admins can change users.")
	}
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.ID == actor.UserID {
		return nil, forbidden("You cannot %s yourself: ask another owner or admin.", what)
	}
	if u.Role == db.RoleOwner && !actor.Owner() {
		return nil, forbidden("Only an owner can %s an owner.", what)
	}
	return u, nil
}

// keepAnOwner refuses a change that would leave no owner able to sign in.
func (s *Service) keepAnOwner(ctx context.Context, u *db.User) error {
	if u.Role != db.RoleOwner || u.DisabledAt != nil {
		return nil
	}
	n, err := s.store.ActiveOwners(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return conflict("", "%s is the last owner who can sign in: make another user an owner first.", u.Email)
	}
	return nil
}

// SetUserRole changes another user's role.
func (s *Service) SetUserRole(ctx context.Context, actor *db.Access, id int64, role string) error {
	r, err := db.ParseRole(role)
	if err != nil {
		return fieldError("role", err.Error())
	}
	u, err := s.checkTarget(ctx, actor, id, "change the role of")
	if err != nil {
		return err
	}
	if r == db.RoleOwner && !actor.Owner() {
		return forbidden("Only an owner can make another user an owner.")
	}
	if r != db.RoleOwner {
		if err := s.keepAnOwner(ctx, u); err != nil {
			return err
		}
	}
	return s.store.SetUserRole(ctx, id, r)
}

// SetUserDisabled disables (their sessions end at once, their tokens are
// refused) or enables another user.
func (s *Service) SetUserDisabled(ctx context.Context, actor *db.Access, id int64, disabled bool) error {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	u, err := s.checkTarget(ctx, actor, id, verb)
	if err != nil {
		return err
	}
	if disabled {
		if err := s.keepAnOwner(ctx, u); err != nil {
			return err
		}
	}
	return s.store.SetUserDisabled(ctx, id, disabled)
}

// RemoveUser deletes another user with their sessions, tokens and grants.
func (s *Service) RemoveUser(ctx context.Context, actor *db.Access, id int64) error {
	u, err := s.checkTarget(ctx, actor, id, "remove")
	if err != nil {
		return err
	}
	if err := s.keepAnOwner(ctx, u); err != nil {
		return err
	}
	return s.store.DeleteUser(ctx, id)
}

// SetProjectMember grants a member or viewer a level on a project. Owners
// and admins need no grant: they reach every project.
func (s *Service) SetProjectMember(ctx context.Context, actor *db.Access, projectID, userID int64, level string) error {
	if !actor.Admin() {
		return forbidden("Only owners and admins can change who works on a project.")
	}
	l, err := db.ParseLevel(level)
	if err != nil {
		return fieldError("level", err.Error())
	}
	u, err := s.store.UserByID(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return fieldError("user_id", "There is no such user.")
	}
	if err != nil {
		return err
	}
	if u.Role.Administers() {
		return fieldError("user_id", u.Email+" is an "+string(u.Role)+" and reaches every project already.")
	}
	if u.Role == db.RoleViewer && l > db.LevelView {
		return fieldError("level", u.Email+" is a viewer: viewers get view access only. Make them a member first.")
	}
	return s.store.SetProjectMember(ctx, projectID, userID, l)
}

// RemoveProjectMember takes a user's grant on a project away.
func (s *Service) RemoveProjectMember(ctx context.Context, actor *db.Access, projectID, userID int64) error {
	if !actor.Admin() {
		return forbidden("Only owners and admins can change who works on a project.")
	}
	return s.store.RemoveProjectMember(ctx, projectID, userID)
}
