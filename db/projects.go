package db

import (
	"context"
	"fmt"
	"time"
)

// Project groups environments, which hold applications.
type Project struct {
	ID           int64         `db:"id" json:"id"`
	Name         string        `db:"name" json:"name"`
	Description  string        `db:"description" json:"description"`
	CreatedAt    time.Time     `db:"created_at" json:"created_at"`
	Environments []Environment `db:"-" json:"environments"`
}

// Environment is a stage of a project (production, staging, ...).
type Environment struct {
	ID        int64     `db:"id" json:"id"`
	ProjectID int64     `db:"project_id" json:"project_id"`
	Name      string    `db:"name" json:"name"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	Apps      []App     `db:"-" json:"-"`
}

// DefaultEnvironment is created with every project.
const DefaultEnvironment = "production"

// CreateProject inserts a project with its default environment.
func (s *Store) CreateProject(ctx context.Context, name, description string) (*Project, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var p Project
	err = tx.GetContext(ctx, &p, `INSERT INTO projects (name, description) VALUES ($1, $2) RETURNING *`, name, description)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("project %q: %w", name, ErrConflict)
	}
	if err != nil {
		return nil, err
	}
	var env Environment
	if err := tx.GetContext(ctx, &env, `INSERT INTO environments (project_id, name) VALUES ($1, $2) RETURNING *`, p.ID, DefaultEnvironment); err != nil {
		return nil, err
	}
	p.Environments = []Environment{env}
	return &p, tx.Commit()
}

// Project loads one project with its environments.
func (s *Store) Project(ctx context.Context, id int64) (*Project, error) {
	var p Project
	if err := s.db.GetContext(ctx, &p, `SELECT * FROM projects WHERE id = $1`, id); err != nil {
		return nil, notFound("project", err)
	}
	err := s.db.SelectContext(ctx, &p.Environments, `SELECT * FROM environments WHERE project_id = $1 ORDER BY id`, id)
	return &p, err
}

// ProjectNames lists the visible projects' ids and names only, by name:
// for pickers.
func (s *Store) ProjectNames(ctx context.Context, visible []int64) ([]Project, error) {
	out := []Project{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT id, name FROM projects WHERE ($1::bigint[] IS NULL OR id = ANY($1))
		ORDER BY lower(name)`, visibleProjects(visible))
	return out, opError("project names", err)
}

// Projects lists the visible projects (nil: all, see Access.ProjectIDs)
// with environments, ordered by name.
func (s *Store) Projects(ctx context.Context, visible []int64) ([]Project, error) {
	var projects []Project
	if err := s.db.SelectContext(ctx, &projects, `
		SELECT * FROM projects WHERE ($1::bigint[] IS NULL OR id = ANY($1))
		ORDER BY lower(name)`, visibleProjects(visible)); err != nil {
		return nil, err
	}
	var envs []Environment
	if err := s.db.SelectContext(ctx, &envs, `
		SELECT * FROM environments WHERE ($1::bigint[] IS NULL OR project_id = ANY($1))
		ORDER BY id`, visibleProjects(visible)); err != nil {
		return nil, err
	}
	byProject := map[int64][]Environment{}
	for _, e := range envs {
		byProject[e.ProjectID] = append(byProject[e.ProjectID], e)
	}
	for i := range projects {
		projects[i].Environments = byProject[projects[i].ID]
	}
	return projects, nil
}

// RenameProject changes a project's name.
func (s *Store) RenameProject(ctx context.Context, id int64, name string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE projects SET name = $2 WHERE id = $1`, id, name)
	if isUniqueViolation(err) {
		return fmt.Errorf("project %q: %w", name, ErrConflict)
	}
	return rowsOrNotFound(res, err)
}

// ErrNotEmpty refuses deleting a container that still holds applications:
// deleting a project must never silently take running apps with it.
var ErrNotEmpty = fmt.Errorf("still has applications or databases; delete them first")

// DeleteProject deletes an empty project.
func (s *Store) DeleteProject(ctx context.Context, id int64) error {
	var n int
	if err := s.db.GetContext(ctx, &n, `
		SELECT count(*) FROM services s JOIN environments e ON e.id = s.environment_id WHERE e.project_id = $1`, id); err != nil {
		return err
	}
	if n > 0 {
		return ErrNotEmpty
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM projects WHERE id = $1`, id)
	return rowsOrNotFound(res, err)
}

// CreateEnvironment adds an environment to a project.
func (s *Store) CreateEnvironment(ctx context.Context, projectID int64, name string) (*Environment, error) {
	var e Environment
	err := s.db.GetContext(ctx, &e, `INSERT INTO environments (project_id, name) VALUES ($1, $2) RETURNING *`, projectID, name)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("environment %q: %w", name, ErrConflict)
	}
	return &e, err
}

// Environment loads one environment.
func (s *Store) Environment(ctx context.Context, id int64) (*Environment, error) {
	var e Environment
	err := s.db.GetContext(ctx, &e, `SELECT * FROM environments WHERE id = $1`, id)
	return &e, notFound("environment", err)
}

// EnvironmentByName finds a project's environment by name.
func (s *Store) EnvironmentByName(ctx context.Context, projectID int64, name string) (*Environment, error) {
	var e Environment
	err := s.db.GetContext(ctx, &e, `SELECT * FROM environments WHERE project_id = $1 AND name = $2`, projectID, name)
	return &e, notFound("environment by name", err)
}

// RenameEnvironment changes an environment's name.
func (s *Store) RenameEnvironment(ctx context.Context, id int64, name string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE environments SET name = $2 WHERE id = $1`, id, name)
	if isUniqueViolation(err) {
		return fmt.Errorf("environment %q: %w", name, ErrConflict)
	}
	return rowsOrNotFound(res, err)
}

// DeleteEnvironment deletes an empty environment.
func (s *Store) DeleteEnvironment(ctx context.Context, id int64) error {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM services WHERE environment_id = $1`, id); err != nil {
		return err
	}
	if n > 0 {
		return ErrNotEmpty
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM environments WHERE id = $1`, id)
	return rowsOrNotFound(res, err)
}

func rowsOrNotFound(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
