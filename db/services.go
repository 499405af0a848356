package db

import (
	"context"
	"fmt"
	"time"
)

// Kinds of service. Each kind has its own table sharing the service's id
// (applications today); what every kind has hangs off the service: env,
// ports, domains and their access rules, webhooks and deployments (the
// operations history), and its runtime logs and metrics by name.
const (
	KindApp      = "app"
	KindDatabase = "database"
	KindCompose  = "compose"
)

// Service is the row every kind shares.
type Service struct {
	ID            int64     `db:"id" json:"id"`
	EnvironmentID int64     `db:"environment_id" json:"environment_id"`
	Kind          string    `db:"kind" json:"kind"`
	Name          string    `db:"name" json:"name"` // Swarm service or stack name, unique across kinds
	CreatedAt     time.Time `db:"created_at" json:"created_at"`
}

// createService claims name for a new service of kind in an environment.
// A name any service already has is ErrConflict.
func (s *Store) createService(ctx context.Context, kind string, environmentID int64, name string) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		INSERT INTO services (environment_id, kind, name) VALUES ($1, $2, $3) RETURNING id`,
		environmentID, kind, name)
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("name %q: %w", name, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create service: %w", err)
	}
	return id, nil
}

// ServiceByName loads the service that holds a Swarm name.
func (s *Store) ServiceByName(ctx context.Context, name string) (*Service, error) {
	var out Service
	err := s.db.GetContext(ctx, &out, `SELECT * FROM services WHERE name = $1`, name)
	return &out, notFound("service by name", err)
}

// ServicesByNames loads the services holding any of the Swarm names, by
// name; names no service holds are left out.
func (s *Store) ServicesByNames(ctx context.Context, names []string) (map[string]Service, error) {
	out := map[string]Service{}
	if len(names) == 0 {
		return out, nil
	}
	var rows []Service
	if err := s.db.SelectContext(ctx, &rows, `SELECT * FROM services WHERE name = ANY($1)`, pqStringArray(names)); err != nil {
		return nil, opError("services by names", err)
	}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out, nil
}
