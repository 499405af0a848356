package db

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"
)

// Role is what a user is on this server. Owners and admins reach every
// project; members and viewers only the projects granted to them.
type Role string

const (
	RoleOwner  Role = "owner"  // everything, including other owners
	RoleAdmin  Role = "admin"  // everything but owners
	RoleMember Role = "member" // granted projects, at the granted level
	RoleViewer Role = "viewer" // granted projects, read-only
)

// Roles lists the roles from the most to the least powerful.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMember, RoleViewer}

// ParseRole checks a role name from a form or an API body.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("role must be owner, admin, member or viewer, not %q", s)
	}
	return r, nil
}

// Administers tells whether the role reaches every project and the
// server's settings.
func (r Role) Administers() bool { return r == RoleOwner || r == RoleAdmin }

// Level is what one may do in a project, ordered: each includes the ones
// below it.
type Level int

const (
	LevelNone   Level = iota // the project does not exist for them
	LevelView                // read pages, logs, metrics; no secrets
	LevelDeploy              // deploy, start, stop, restart, roll back, run backups
	LevelManage              // change settings, secrets, domains; create and delete
)

var levelNames = []string{"none", "view", "deploy", "manage"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "none"
	}
	return levelNames[l]
}

// ParseLevel checks a grant level from a form or an API body.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "view":
		return LevelView, nil
	case "deploy":
		return LevelDeploy, nil
	case "manage":
		return LevelManage, nil
	}
	return LevelNone, fmt.Errorf("level must be view, deploy or manage, not %q", s)
}

// Token scopes, the most an API token may do whatever its user's role.
const (
	ScopeRead   = "read"
	ScopeDeploy = "deploy"
	ScopeManage = "manage"
)

// ScopeLevel maps a token scope to the project level it allows.
func ScopeLevel(scope string) Level {
	switch scope {
	case ScopeRead:
		return LevelView
	case ScopeDeploy:
		return LevelDeploy
	case ScopeManage:
		return LevelManage
	}
	return LevelNone
}

// Access is what one request may reach: its user's role and grants,
// narrowed by the API token it came with, if any.
type Access struct {
	UserID int64
	Role   Role
	// everywhere is the level on every project (owners and admins); the
	// grants count only above it.
	everywhere Level
	grants     map[int64]Level
	// admin: may change server settings, users and every token. An
	// owner's or admin's token needs the manage scope for it.
	admin bool
	// Token is the API token the request came with, nil for a browser
	// session: a token may only create tokens within its own limits.
	Token *APIToken
}

// Level is what the request may do in a project.
func (a *Access) Level(projectID int64) Level {
	if a == nil {
		return LevelNone
	}
	return max(a.everywhere, a.grants[projectID])
}

// Everywhere is the level the request has on every project, without a
// lookup: owners and admins reach each project at once.
func (a *Access) Everywhere() Level {
	if a == nil {
		return LevelNone
	}
	return a.everywhere
}

// Admin tells whether the request may change settings, users and tokens.
func (a *Access) Admin() bool { return a != nil && a.admin }

// Owner tells whether the request acts for an owner with full rights.
func (a *Access) Owner() bool { return a.Admin() && a.Role == RoleOwner }

// ProjectIDs lists the projects the request reaches, or nil for all of
// them: the filter list queries take.
func (a *Access) ProjectIDs() []int64 {
	if a == nil {
		return []int64{}
	}
	if a.everywhere > LevelNone {
		return nil
	}
	ids := make([]int64, 0, len(a.grants))
	for id, l := range a.grants {
		if l > LevelNone {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Sees tells whether the request reaches the project at all.
func (a *Access) Sees(projectID int64) bool { return a.Level(projectID) > LevelNone }

// visibleProjects is the SQL argument for "project_id = ANY($n) OR $n IS
// NULL": nil (all) becomes NULL.
func visibleProjects(ids []int64) any {
	if ids == nil {
		return nil
	}
	return pq.Array(ids)
}

// AccessFor works out what a user, through an optional token, may reach.
// Owners and admins cost no query: only members and viewers have grants
// to load.
func (s *Store) AccessFor(ctx context.Context, u *User, t *APIToken) (*Access, error) {
	a := &Access{UserID: u.ID, Role: u.Role, Token: t}
	ceiling := LevelManage
	if u.Role == RoleViewer {
		ceiling = LevelView
	}
	if t != nil {
		ceiling = min(ceiling, ScopeLevel(t.Scope))
	}
	if u.Role.Administers() {
		a.everywhere = ceiling
		a.admin = ceiling == LevelManage
	}
	if !u.Role.Administers() || t != nil && t.ProjectIDs != nil {
		var rows []struct {
			ProjectID int64  `db:"project_id"`
			Level     string `db:"level"`
		}
		if u.Role.Administers() {
			// An admin's token limited to some projects: those, at its scope.
			err := s.db.SelectContext(ctx, &rows, `
				SELECT id AS project_id, 'manage' AS level FROM projects WHERE id = ANY($1)`, pq.Array(t.ProjectIDs))
			if err != nil {
				return nil, err
			}
			a.everywhere, a.admin = LevelNone, false
		} else if err := s.db.SelectContext(ctx, &rows, `
			SELECT project_id, level FROM project_members WHERE user_id = $1`, u.ID); err != nil {
			return nil, err
		}
		a.grants = make(map[int64]Level, len(rows))
		for _, r := range rows {
			if t != nil && t.ProjectIDs != nil && !slices.Contains(t.ProjectIDs, r.ProjectID) {
				continue
			}
			l, _ := ParseLevel(r.Level)
			a.grants[r.ProjectID] = min(l, ceiling)
		}
	}
	return a, nil
}

// Resource names what a route's id parameter points at, to find the
// project it belongs to.
type Resource string

const (
	ResProject     Resource = "project"
	ResEnvironment Resource = "environment"
	ResService     Resource = "service" // an app, database or compose stack: they share ids
	ResDeployment  Resource = "deployment"
	ResDomain      Resource = "domain"
	ResBackup      Resource = "backup"
	ResBackupRun   Resource = "backup-run"
)

// projectOfSQL finds the project of each kind of resource by its id.
var projectOfSQL = map[Resource]string{
	ResProject:     `SELECT id FROM projects WHERE id = $1`,
	ResEnvironment: `SELECT project_id FROM environments WHERE id = $1`,
	ResService: `SELECT e.project_id FROM services s
		JOIN environments e ON e.id = s.environment_id WHERE s.id = $1`,
	ResDeployment: `SELECT e.project_id FROM deployments d JOIN services s ON s.id = d.service_id
		JOIN environments e ON e.id = s.environment_id WHERE d.id = $1`,
	ResDomain: `SELECT e.project_id FROM domains d JOIN services s ON s.id = d.service_id
		JOIN environments e ON e.id = s.environment_id WHERE d.id = $1`,
	ResBackup: `SELECT e.project_id FROM backups b JOIN services s ON s.id = b.service_id
		JOIN environments e ON e.id = s.environment_id WHERE b.id = $1`,
	ResBackupRun: `SELECT e.project_id FROM backup_runs r JOIN services s ON s.id = r.service_id
		JOIN environments e ON e.id = s.environment_id WHERE r.id = $1`,
}

// ProjectOf finds the project a resource belongs to; ErrNotFound when the
// resource does not exist (or belongs to no project, like the dashboard's
// own domain).
func (s *Store) ProjectOf(ctx context.Context, res Resource, id int64) (int64, error) {
	q, ok := projectOfSQL[res]
	if !ok {
		return 0, fmt.Errorf("project of %s: no such resource kind", res)
	}
	var projectID int64
	err := s.db.GetContext(ctx, &projectID, q, id)
	return projectID, notFound("project of "+string(res), err)
}
