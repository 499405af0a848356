package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// TeamUser is a row of the Users page: a user with what the page shows
// about them, without credentials.
type TeamUser struct {
	ID          int64      `db:"id" json:"id"`
	Email       string     `db:"email" json:"email"`
	Role        Role       `db:"role" json:"role"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
	DisabledAt  *time.Time `db:"disabled_at" json:"disabled_at"`
	TwoFactorOn bool       `db:"two_factor" json:"two_factor"`
	LastSeenAt  *time.Time `db:"last_seen_at" json:"last_seen_at"`
	Projects    int        `db:"projects" json:"projects"`
}

const teamUserSelect = `
	SELECT u.id, u.email, u.role, u.created_at, u.disabled_at,
		u.totp_enabled_at IS NOT NULL AS two_factor,
		(SELECT max(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at,
		(SELECT count(*) FROM project_members m WHERE m.user_id = u.id) AS projects
	FROM users u`

// TeamUsers lists every user, owners first.
func (s *Store) TeamUsers(ctx context.Context) ([]TeamUser, error) {
	out := []TeamUser{}
	err := s.db.SelectContext(ctx, &out, teamUserSelect+`
		ORDER BY array_position(ARRAY['owner','admin','member','viewer'], u.role), lower(u.email)`)
	return out, opError("team users", err)
}

// TeamUser loads one row of the Users page.
func (s *Store) TeamUser(ctx context.Context, id int64) (*TeamUser, error) {
	var u TeamUser
	err := s.db.GetContext(ctx, &u, teamUserSelect+` WHERE u.id = $1`, id)
	return &u, notFound("team user", err)
}

// ActiveOwners counts the owners who can still sign in: the last one
// may not be demoted, disabled or removed.
func (s *Store) ActiveOwners(ctx context.Context) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL`)
	return n, err
}

// SetUserRole changes a user's role. Grants stay: they matter again if the
// user becomes a member.
func (s *Store) SetUserRole(ctx context.Context, id int64, role Role) error {
	return affectOne(s.db.ExecContext(ctx, `UPDATE users SET role = $2 WHERE id = $1`, id, role))
}

// SetUserDisabled disables or enables a user. Disabling ends their
// sessions and half-finished sign-ins in the same transaction; their
// tokens stay, refused while the user is disabled.
func (s *Store) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	return s.InTx(ctx, func(tx *Store) error {
		var err error
		if disabled {
			err = affectOne(tx.db.ExecContext(ctx, `UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1`, id))
		} else {
			err = affectOne(tx.db.ExecContext(ctx, `UPDATE users SET disabled_at = NULL WHERE id = $1`, id))
		}
		if err != nil || !disabled {
			return err
		}
		if _, err := tx.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.db.ExecContext(ctx, `DELETE FROM sign_in_challenges WHERE user_id = $1`, id)
		return err
	})
}

// DeleteUser removes a user with their sessions, tokens and grants
// (cascades); what they did stays in the history.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	return affectOne(s.db.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id))
}

// ProjectMember is one grant on a project.
type ProjectMember struct {
	ProjectID int64     `db:"project_id" json:"project_id"`
	UserID    int64     `db:"user_id" json:"user_id"`
	Email     string    `db:"email" json:"email"`
	Role      Role      `db:"role" json:"role"`
	Level     string    `db:"level" json:"level"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// ProjectMembers lists a project's grants by email.
func (s *Store) ProjectMembers(ctx context.Context, projectID int64) ([]ProjectMember, error) {
	out := []ProjectMember{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT m.project_id, m.user_id, u.email, u.role, m.level, m.created_at
		FROM project_members m JOIN users u ON u.id = m.user_id
		WHERE m.project_id = $1 ORDER BY lower(u.email)`, projectID)
	return out, opError("project members", err)
}

// UserGrants lists the projects granted to a user, for the Users page.
func (s *Store) UserGrants(ctx context.Context, userID int64) ([]ProjectMember, error) {
	out := []ProjectMember{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT m.project_id, m.user_id, p.name AS email, u.role, m.level, m.created_at
		FROM project_members m JOIN users u ON u.id = m.user_id JOIN projects p ON p.id = m.project_id
		WHERE m.user_id = $1 ORDER BY lower(p.name)`, userID)
	return out, opError("user grants", err)
}

// AllGrants lists every grant with its project's name (in Email's
// place, as UserGrants does), for the Users page.
func (s *Store) AllGrants(ctx context.Context) ([]ProjectMember, error) {
	out := []ProjectMember{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT m.project_id, m.user_id, p.name AS email, u.role, m.level, m.created_at
		FROM project_members m JOIN users u ON u.id = m.user_id JOIN projects p ON p.id = m.project_id
		ORDER BY lower(p.name)`)
	return out, opError("all grants", err)
}

// SetProjectMember grants a user a level on a project, or changes it.
func (s *Store) SetProjectMember(ctx context.Context, projectID, userID int64, level Level) error {
	if level == LevelNone {
		return fmt.Errorf("set project member: level none: %w", ErrNotFound)
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO project_members (project_id, user_id, level) VALUES ($1, $2, $3)
		ON CONFLICT (project_id, user_id) DO UPDATE SET level = excluded.level`, projectID, userID, level.String())
	if isForeignKeyViolation(err) {
		return fmt.Errorf("set project member: %w", ErrNotFound)
	}
	return err
}

// RemoveProjectMember takes a user's grant on a project away.
func (s *Store) RemoveProjectMember(ctx context.Context, projectID, userID int64) error {
	return affectOne(s.db.ExecContext(ctx, `DELETE FROM project_members WHERE project_id = $1 AND user_id = $2`, projectID, userID))
}

// affectOne turns an UPDATE or DELETE that matched no row into
// ErrNotFound.
func affectOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
