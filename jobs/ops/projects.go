package ops

import (
	"context"
	"errors"
	"strings"

	"dokploy/db"
)

// CreateProject validates and creates a project with its production
// environment.
func (s *Service) CreateProject(ctx context.Context, name, description string) (*db.Project, error) {
	name = strings.TrimSpace(name)
	if err := ValidateDisplayName(name); err != nil {
		return nil, fieldError("name", err.Error())
	}
	if len(description) > 500 {
		return nil, fieldError("description", "description must be at most 500 characters")
	}
	p, err := s.store.CreateProject(ctx, name, description)
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("name", "a project named %s already exists", name)
	}
	return p, err
}

// RenameProject validates and saves a project's new name.
func (s *Service) RenameProject(ctx context.Context, id int64, name string) error {
	name = strings.TrimSpace(name)
	if err := ValidateDisplayName(name); err != nil {
		return fieldError("name", err.Error())
	}
	if err := s.store.RenameProject(ctx, id, name); errors.Is(err, db.ErrConflict) {
		return conflict("name", "a project named %s already exists", name)
	} else if err != nil {
		return err
	}
	return nil
}

// DeleteProject removes an empty project; one with applications is a
// ConflictError, so nothing running is lost by a click.
func (s *Service) DeleteProject(ctx context.Context, id int64) error {
	if err := s.store.DeleteProject(ctx, id); errors.Is(err, db.ErrNotEmpty) {
		return conflict("", "This project still has applications or databases. Delete them first.")
	} else if err != nil {
		return err
	}
	return nil
}

// CreateEnvironment validates and adds an environment to a project.
func (s *Service) CreateEnvironment(ctx context.Context, projectID int64, name string) (*db.Environment, error) {
	name = strings.TrimSpace(name)
	if err := ValidateDisplayName(name); err != nil {
		return nil, fieldError("name", err.Error())
	}
	if _, err := s.store.Project(ctx, projectID); err != nil {
		return nil, err
	}
	env, err := s.store.CreateEnvironment(ctx, projectID, name)
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("name", "this project already has an environment named %s", name)
	}
	return env, err
}

// RenameEnvironment validates and saves an environment's new name.
func (s *Service) RenameEnvironment(ctx context.Context, env *db.Environment, name string) error {
	name = strings.TrimSpace(name)
	if err := ValidateDisplayName(name); err != nil {
		return fieldError("name", "Environment "+err.Error())
	}
	if err := s.store.RenameEnvironment(ctx, env.ID, name); errors.Is(err, db.ErrConflict) {
		return conflict("name", "this project already has an environment named %s", name)
	} else if err != nil {
		return err
	}
	return nil
}

// DeleteEnvironment removes an environment without applications.
func (s *Service) DeleteEnvironment(ctx context.Context, env *db.Environment) error {
	if err := s.store.DeleteEnvironment(ctx, env.ID); errors.Is(err, db.ErrNotEmpty) {
		return conflict("", "Environment %s still has applications or databases. Delete them first.", env.Name)
	} else if err != nil {
		return err
	}
	return nil
}
