package db

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Database engines.
const (
	EnginePostgres = "postgres"
	EngineMySQL    = "mysql"
	EngineMariaDB  = "mariadb"
	EngineMongo    = "mongo"
	EngineRedis    = "redis"
)

// Redis persistence settings.
const (
	RedisAOF  = "aof"  // append-only file, fsync every second
	RedisRDB  = "rdb"  // periodic snapshots only
	RedisNone = "none" // nothing on disk
)

// Database is a one-click database: one Swarm service named Name with a
// <Name>-data volume. Status uses the app statuses (idle, deploying,
// running, stopped, error) as the last outcome; the live state is Swarm's.
type Database struct {
	ID               int64          `db:"id" json:"id"`
	EnvironmentID    int64          `db:"environment_id" json:"environment_id"`
	Name             string         `db:"name" json:"name"`
	Engine           string         `db:"engine" json:"engine"`
	Image            string         `db:"image" json:"image"`
	DatabaseName     string         `db:"database_name" json:"database"`
	Username         string         `db:"username" json:"user"`
	RegistryServer   string         `db:"registry_server" json:"registry_server"`
	RegistryUsername string         `db:"registry_username" json:"registry_username"`
	MemoryLimitMB    int            `db:"memory_limit_mb" json:"memory_limit_mb"`
	CPULimit         float64        `db:"cpu_limit" json:"cpu_limit"`
	Args             pq.StringArray `db:"args" json:"args"`
	RedisPersistence string         `db:"redis_persistence" json:"redis_persistence,omitempty"`
	// Placement: Swarm constraints and a cap on tasks per node (0 = none).
	PlacementConstraints pq.StringArray `db:"placement_constraints" json:"placement_constraints"`
	MaxReplicasPerNode   int            `db:"max_replicas_per_node" json:"max_replicas_per_node"`
	Status               string         `db:"status" json:"status"`
	CurrentImage         string         `db:"current_image" json:"current_image"`
	CreatedAt            time.Time      `db:"created_at" json:"created_at"`
	UpdatedAt            time.Time      `db:"updated_at" json:"updated_at"`

	// Sealed secrets; decrypt with Store.DatabaseSecrets.
	PasswordEnc         []byte `db:"password_enc" json:"-"`
	RootPasswordEnc     []byte `db:"root_password_enc" json:"-"`
	RegistryPasswordEnc []byte `db:"registry_password_enc" json:"-"`

	// Joined for display.
	ProjectID       int64  `db:"project_id" json:"project_id"`
	ProjectName     string `db:"project_name" json:"-"`
	EnvironmentName string `db:"environment_name" json:"environment"`
}

// HasRegistryPassword lets pages say "set" without decrypting.
func (d *Database) HasRegistryPassword() bool { return len(d.RegistryPasswordEnc) > 0 }

// DatabaseSecrets are a database's decrypted credentials.
type DatabaseSecrets struct {
	Password         string
	RootPassword     string // MySQL and MariaDB only
	RegistryPassword string
}

const databaseSelect = `
	SELECT d.*, s.environment_id, s.name, e.project_id, e.name AS environment_name, p.name AS project_name
	FROM databases d
	JOIN services s ON s.id = d.id
	JOIN environments e ON e.id = s.environment_id
	JOIN projects p ON p.id = e.project_id`

// CreateDatabase inserts a validated database with its secrets (its
// service row first, which claims the name across every kind) and fills
// its generated fields.
func (s *Store) CreateDatabase(ctx context.Context, d *Database, sec DatabaseSecrets) error {
	return s.InTx(ctx, func(tx *Store) error {
		id, err := tx.createService(ctx, KindDatabase, d.EnvironmentID, d.Name)
		if err != nil {
			return err
		}
		_, err = tx.db.ExecContext(ctx, `
			INSERT INTO databases (id, engine, image, database_name, username, password_enc, root_password_enc,
				registry_server, registry_username, registry_password_enc, memory_limit_mb, cpu_limit, args, redis_persistence,
				placement_constraints, max_replicas_per_node)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			id, d.Engine, d.Image, d.DatabaseName, d.Username, s.cipher.Seal(sec.Password), s.cipher.sealOptional(sec.RootPassword),
			d.RegistryServer, d.RegistryUsername, s.cipher.sealOptional(sec.RegistryPassword),
			d.MemoryLimitMB, d.CPULimit, pq.StringArray(nonNil(d.Args)), d.RedisPersistence,
			pq.StringArray(nonNil(d.PlacementConstraints)), d.MaxReplicasPerNode)
		if err != nil {
			return fmt.Errorf("create database: %w", err)
		}
		fresh, err := tx.Database(ctx, id)
		if err != nil {
			return err
		}
		*d = *fresh
		return nil
	})
}

// UpdateDatabase saves the user-editable settings; they apply on the next
// deploy. Engine, name, database and user are fixed after creation: the
// data volume was initialised with them.
func (s *Store) UpdateDatabase(ctx context.Context, d *Database) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE databases SET image = $2, registry_server = $3, registry_username = $4,
			memory_limit_mb = $5, cpu_limit = $6, args = $7, redis_persistence = $8,
			placement_constraints = $9, max_replicas_per_node = $10, updated_at = now()
		WHERE id = $1`,
		d.ID, d.Image, d.RegistryServer, d.RegistryUsername, d.MemoryLimitMB, d.CPULimit,
		pq.StringArray(nonNil(d.Args)), d.RedisPersistence, pq.StringArray(nonNil(d.PlacementConstraints)), d.MaxReplicasPerNode)
	return rowsOrNotFound(res, err)
}

// SetDatabaseRegistryPassword changes the stored registry password ("" clears it).
func (s *Store) SetDatabaseRegistryPassword(ctx context.Context, id int64, password string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE databases SET registry_password_enc = $2, updated_at = now() WHERE id = $1`,
		id, s.cipher.sealOptional(password))
	return err
}

// SetDatabasePassword stores the password the engine now has.
func (s *Store) SetDatabasePassword(ctx context.Context, id int64, password string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE databases SET password_enc = $2, updated_at = now() WHERE id = $1`,
		id, s.cipher.Seal(password))
	return rowsOrNotFound(res, err)
}

// DatabaseSecrets decrypts a database's credentials.
func (s *Store) DatabaseSecrets(d *Database) (DatabaseSecrets, error) {
	var out DatabaseSecrets
	var err error
	if out.Password, err = s.cipher.Open(d.PasswordEnc); err != nil {
		return out, opError("database secrets", err)
	}
	if out.RootPassword, err = s.cipher.Open(d.RootPasswordEnc); err != nil {
		return out, opError("database secrets", err)
	}
	out.RegistryPassword, err = s.cipher.Open(d.RegistryPasswordEnc)
	return out, opError("database secrets", err)
}

// Database loads one database with its project and environment names.
func (s *Store) Database(ctx context.Context, id int64) (*Database, error) {
	var d Database
	err := s.db.GetContext(ctx, &d, databaseSelect+` WHERE d.id = $1`, id)
	return &d, notFound("database", err)
}

// DatabaseByName loads a database by its service name.
func (s *Store) DatabaseByName(ctx context.Context, name string) (*Database, error) {
	var d Database
	err := s.db.GetContext(ctx, &d, databaseSelect+` WHERE s.name = $1`, name)
	return &d, notFound("database by name", err)
}

// DatabasesPage lists databases with limit/offset for the API.
func (s *Store) DatabasesPage(ctx context.Context, limit, offset int, visible []int64) ([]Database, error) {
	out := []Database{}
	err := s.db.SelectContext(ctx, &out, databaseSelect+`
		WHERE ($3::bigint[] IS NULL OR e.project_id = ANY($3))
		ORDER BY d.id LIMIT $1 OFFSET $2`, limit, offset, visibleProjects(visible))
	return out, opError("databases page", err)
}

// Databases lists every database, grouped by project then environment.
func (s *Store) Databases(ctx context.Context) ([]Database, error) {
	out := []Database{}
	err := s.db.SelectContext(ctx, &out, databaseSelect+` ORDER BY lower(p.name), e.id, s.name`)
	return out, opError("databases", err)
}

// DatabasesInProject lists a project's databases.
func (s *Store) DatabasesInProject(ctx context.Context, projectID int64) ([]Database, error) {
	out := []Database{}
	err := s.db.SelectContext(ctx, &out, databaseSelect+` WHERE e.project_id = $1 ORDER BY s.name`, projectID)
	return out, opError("databases in project", err)
}

// DeleteDatabase removes a database's service row and, by cascade, its
// row, env, port and operations history.
func (s *Store) DeleteDatabase(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM services WHERE id = $1 AND kind = $2`, id, KindDatabase)
	return rowsOrNotFound(res, err)
}

// SetDatabaseStatus records the database's last outcome.
func (s *Store) SetDatabaseStatus(ctx context.Context, id int64, status string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE databases SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return err
}

// SetDatabaseRunning records the image a successful deploy put into service.
func (s *Store) SetDatabaseRunning(ctx context.Context, id int64, image string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE databases SET status = $2, current_image = $3, updated_at = now() WHERE id = $1`, id, AppRunning, image)
	return err
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
