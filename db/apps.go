package db

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// App statuses shown in the UI.
const (
	AppIdle      = "idle"      // never deployed
	AppDeploying = "deploying" // a deployment is running
	AppRunning   = "running"   // the last deployment succeeded and the service runs
	AppStopped   = "stopped"   // scaled to zero by the user
	AppError     = "error"     // the last deployment failed
)

// Source types.
const (
	SourceGit   = "git"
	SourceImage = "image"
)

// App is a deployable application: one Swarm service named AppName.
type App struct {
	ID               int64   `db:"id" json:"id"`
	EnvironmentID    int64   `db:"environment_id" json:"environment_id"`
	Name             string  `db:"name" json:"name"`
	AppName          string  `db:"app_name" json:"app_name"`
	SourceType       string  `db:"source_type" json:"-"`
	GitURL           string  `db:"git_url" json:"-"`
	GitBranch        string  `db:"git_branch" json:"-"`
	GitContext       string  `db:"git_context" json:"-"`
	GitDockerfile    string  `db:"git_dockerfile" json:"-"`
	GitSSHPublicKey  string  `db:"git_ssh_public_key" json:"-"`
	BuildTarget      string  `db:"build_target" json:"-"`
	BuildNoCache     bool    `db:"build_no_cache" json:"-"`
	Image            string  `db:"image" json:"-"`
	RegistryServer   string  `db:"registry_server" json:"-"`
	RegistryUsername string  `db:"registry_username" json:"-"`
	Port             int     `db:"port" json:"port"`
	Replicas         int     `db:"replicas" json:"replicas"`
	MemoryLimitMB    int     `db:"memory_limit_mb" json:"memory_limit_mb"`
	CPULimit         float64 `db:"cpu_limit" json:"cpu_limit"`
	// Health check: an HTTP GET inside the container; "" keeps the image's.
	HealthPath        string `db:"health_path" json:"health_path"`
	HealthPort        int    `db:"health_port" json:"health_port"`
	HealthStatus      int    `db:"health_status" json:"health_status"`
	HealthInterval    int    `db:"health_interval" json:"health_interval"`
	HealthTimeout     int    `db:"health_timeout" json:"health_timeout"`
	HealthRetries     int    `db:"health_retries" json:"health_retries"`
	HealthStartPeriod int    `db:"health_start_period" json:"health_start_period"`
	StopGracePeriod   int    `db:"stop_grace_period" json:"stop_grace_period"`
	// Placement: Swarm constraints and a cap on tasks per node (0 = none).
	PlacementConstraints pq.StringArray `db:"placement_constraints" json:"placement_constraints"`
	MaxReplicasPerNode   int            `db:"max_replicas_per_node" json:"max_replicas_per_node"`
	Status               string         `db:"status" json:"status"`
	CurrentImage         string         `db:"current_image" json:"current_image"`
	CurrentCommit        string         `db:"current_commit" json:"current_commit"`
	CreatedAt            time.Time      `db:"created_at" json:"created_at"`
	UpdatedAt            time.Time      `db:"updated_at" json:"updated_at"`

	// Sealed secrets; decrypt with Store.AppSecrets.
	GitTokenEnc         []byte `db:"git_token_enc" json:"-"`
	GitSSHKeyEnc        []byte `db:"git_ssh_key_enc" json:"-"`
	RegistryPasswordEnc []byte `db:"registry_password_enc" json:"-"`

	// Joined for display.
	ProjectID       int64  `db:"project_id" json:"project_id"`
	ProjectName     string `db:"project_name" json:"-"`
	EnvironmentName string `db:"environment_name" json:"environment"`
}

// HasGitToken etc. let pages say "set" without decrypting.
func (a *App) HasGitToken() bool         { return len(a.GitTokenEnc) > 0 }
func (a *App) HasGitSSHKey() bool        { return len(a.GitSSHKeyEnc) > 0 }
func (a *App) HasRegistryPassword() bool { return len(a.RegistryPasswordEnc) > 0 }

// AppSecrets are an app's decrypted credentials, only for the deploy job.
type AppSecrets struct {
	GitToken         string
	GitSSHKey        string
	RegistryPassword string
}

// SecretUpdate changes credentials: nil keeps the stored value, "" clears it.
type SecretUpdate struct {
	GitToken         *string
	GitSSHKey        *string
	GitSSHPublicKey  *string
	RegistryPassword *string
}

// appSelect reads an app: its service row (environment, name) and its
// own row, with the names of its project and environment.
const appSelect = `
	SELECT a.*, s.environment_id, s.name AS app_name, e.project_id, e.name AS environment_name, p.name AS project_name
	FROM applications a
	JOIN services s ON s.id = a.id
	JOIN environments e ON e.id = s.environment_id
	JOIN projects p ON p.id = e.project_id`

// CreateApp inserts a validated app (its service row first, which claims
// the name across every kind) and fills its generated fields.
func (s *Store) CreateApp(ctx context.Context, a *App) error {
	return s.InTx(ctx, func(tx *Store) error {
		id, err := tx.createService(ctx, KindApp, a.EnvironmentID, a.AppName)
		if err != nil {
			return err
		}
		_, err = tx.db.ExecContext(ctx, `
			INSERT INTO applications (id, name, source_type, git_url, git_branch, git_context,
				git_dockerfile, build_target, build_no_cache, image, registry_server, registry_username,
				port, replicas, memory_limit_mb, cpu_limit, placement_constraints, max_replicas_per_node)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			id, a.Name, a.SourceType, a.GitURL, a.GitBranch, a.GitContext,
			a.GitDockerfile, a.BuildTarget, a.BuildNoCache, a.Image, a.RegistryServer, a.RegistryUsername,
			a.Port, a.Replicas, a.MemoryLimitMB, a.CPULimit, pq.StringArray(nonNil(a.PlacementConstraints)), a.MaxReplicasPerNode)
		if err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		a.ApplyHealthDefaults()
		if err := tx.saveHealth(ctx, id, a); err != nil {
			return err
		}
		fresh, err := tx.App(ctx, id)
		if err != nil {
			return err
		}
		*a = *fresh
		return nil
	})
}

// UpdateApp saves the user-editable fields. The app's name and
// environment (its service row) are fixed after creation: the name names
// the Swarm service, images and routing files.
func (s *Store) UpdateApp(ctx context.Context, a *App) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE applications SET name = $2, source_type = $3, git_url = $4, git_branch = $5,
			git_context = $6, git_dockerfile = $7, build_target = $8, build_no_cache = $9, image = $10,
			registry_server = $11, registry_username = $12, port = $13, replicas = $14,
			memory_limit_mb = $15, cpu_limit = $16, placement_constraints = $17, max_replicas_per_node = $18,
			updated_at = now()
		WHERE id = $1`,
		a.ID, a.Name, a.SourceType, a.GitURL, a.GitBranch, a.GitContext, a.GitDockerfile,
		a.BuildTarget, a.BuildNoCache, a.Image, a.RegistryServer, a.RegistryUsername, a.Port, a.Replicas,
		a.MemoryLimitMB, a.CPULimit, pq.StringArray(nonNil(a.PlacementConstraints)), a.MaxReplicasPerNode)
	if err := rowsOrNotFound(res, err); err != nil {
		return err
	}
	return s.saveHealth(ctx, a.ID, a)
}

// ApplyHealthDefaults fills unset health-check settings with sane values.
func (a *App) ApplyHealthDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&a.HealthStatus, 200)
	def(&a.HealthInterval, 5)
	def(&a.HealthTimeout, 3)
	def(&a.HealthRetries, 3)
	def(&a.StopGracePeriod, 10)
}

// saveHealth stores the health-check and shutdown settings.
func (s *Store) saveHealth(ctx context.Context, id int64, a *App) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE applications SET health_path = $2, health_port = $3, health_status = $4, health_interval = $5,
			health_timeout = $6, health_retries = $7, health_start_period = $8, stop_grace_period = $9
		WHERE id = $1`,
		id, a.HealthPath, a.HealthPort, a.HealthStatus, a.HealthInterval, a.HealthTimeout, a.HealthRetries,
		a.HealthStartPeriod, a.StopGracePeriod)
	return err
}

// SetAppSecrets encrypts and stores changed credentials.
func (s *Store) SetAppSecrets(ctx context.Context, id int64, u SecretUpdate) error {
	set := func(column string, v *string) error {
		if v == nil {
			return nil
		}
		// column comes from the fixed list below, never from input.
		_, err := s.db.ExecContext(ctx, `UPDATE applications SET `+column+` = $2, updated_at = now() WHERE id = $1`,
			id, s.cipher.sealOptional(*v))
		return err
	}
	if err := set("git_token_enc", u.GitToken); err != nil {
		return err
	}
	if err := set("git_ssh_key_enc", u.GitSSHKey); err != nil {
		return err
	}
	if err := set("registry_password_enc", u.RegistryPassword); err != nil {
		return err
	}
	if u.GitSSHPublicKey != nil {
		_, err := s.db.ExecContext(ctx, `UPDATE applications SET git_ssh_public_key = $2 WHERE id = $1`, id, *u.GitSSHPublicKey)
		return err
	}
	return nil
}

// AppSecrets decrypts an app's credentials.
func (s *Store) AppSecrets(a *App) (AppSecrets, error) {
	var out AppSecrets
	var err error
	if out.GitToken, err = s.cipher.Open(a.GitTokenEnc); err != nil {
		return out, opError("app secrets", err)
	}
	if out.GitSSHKey, err = s.cipher.Open(a.GitSSHKeyEnc); err != nil {
		return out, opError("app secrets", err)
	}
	out.RegistryPassword, err = s.cipher.Open(a.RegistryPasswordEnc)
	return out, opError("app secrets", err)
}

// App loads one app with its project and environment names.
func (s *Store) App(ctx context.Context, id int64) (*App, error) {
	var a App
	err := s.db.GetContext(ctx, &a, appSelect+` WHERE a.id = $1`, id)
	return &a, notFound("app", err)
}

// AppByName loads an app by its appName.
func (s *Store) AppByName(ctx context.Context, appName string) (*App, error) {
	var a App
	err := s.db.GetContext(ctx, &a, appSelect+` WHERE s.name = $1`, appName)
	return &a, notFound("app by name", err)
}

// Apps lists every app, grouped by project then environment.
func (s *Store) Apps(ctx context.Context) ([]App, error) {
	var out []App
	err := s.db.SelectContext(ctx, &out, appSelect+` ORDER BY lower(p.name), e.id, lower(a.name)`)
	return out, opError("apps", err)
}

// appListSelect is appSelect narrowed to what the dashboard and project
// page list: no sealed credentials, build or health settings, so a list of
// hundreds of apps moves and scans a fraction of the bytes.
const appListSelect = `
	SELECT a.id, a.name, a.source_type, a.git_url, a.git_branch, a.image, a.status, a.current_image,
		a.current_commit, a.replicas, s.environment_id, s.name AS app_name, e.project_id, e.name AS environment_name,
		p.name AS project_name
	FROM applications a
	JOIN services s ON s.id = a.id
	JOIN environments e ON e.id = s.environment_id
	JOIN projects p ON p.id = e.project_id`

// DashboardApp is one app as a dashboard card lists it. Not App, whose
// 38 columns made scanning and grouping the listed apps most of the
// dashboard's garbage.
type DashboardApp struct {
	ID              int64  `db:"id"`
	Name            string `db:"name"`
	Status          string `db:"status"`
	ProjectID       int64  `db:"project_id"`
	EnvironmentName string `db:"environment_name"`
}

// DashboardApps is what the dashboard's project cards show: each
// project's first perProject apps, those that need a look (failed,
// deploying) first, then by name; and every project's app count per
// status. Its cost grows with the projects, not the apps: a card lists a
// handful and links the project page for the rest.
func (s *Store) DashboardApps(ctx context.Context, perProject int, visible []int64) ([]DashboardApp, map[int64]map[string]int, error) {
	var apps []DashboardApp
	err := s.db.SelectContext(ctx, &apps, `
		SELECT id, name, status, project_id, environment_name FROM (
			SELECT a.id, a.name, a.status, e.project_id, e.name AS environment_name,
				row_number() OVER (PARTITION BY e.project_id
					ORDER BY a.status IN ('error', 'deploying') DESC, lower(a.name), a.id) AS rank
			FROM applications a
			JOIN services s ON s.id = a.id
			JOIN environments e ON e.id = s.environment_id
			WHERE ($2::bigint[] IS NULL OR e.project_id = ANY($2))
		) ranked
		WHERE rank <= $1
		ORDER BY project_id, rank`, perProject, visibleProjects(visible))
	if err != nil {
		return nil, nil, opError("dashboard apps", err)
	}
	var rows []struct {
		ProjectID int64  `db:"project_id"`
		Status    string `db:"status"`
		N         int    `db:"n"`
	}
	err = s.db.SelectContext(ctx, &rows, `
		SELECT e.project_id, a.status, count(*) AS n
		FROM applications a
		JOIN services s ON s.id = a.id
		JOIN environments e ON e.id = s.environment_id
		WHERE ($1::bigint[] IS NULL OR e.project_id = ANY($1))
		GROUP BY e.project_id, a.status`, visibleProjects(visible))
	if err != nil {
		return nil, nil, opError("dashboard app counts", err)
	}
	counts := map[int64]map[string]int{}
	for _, r := range rows {
		if counts[r.ProjectID] == nil {
			counts[r.ProjectID] = map[string]int{}
		}
		counts[r.ProjectID][r.Status] = r.N
	}
	return apps, counts, nil
}

// AppListInProject is AppsInProject for the project page: only
// appListSelect's fields are set.
func (s *Store) AppListInProject(ctx context.Context, projectID int64) ([]App, error) {
	var out []App
	err := s.db.SelectContext(ctx, &out, appListSelect+` WHERE e.project_id = $1 ORDER BY lower(a.name)`, projectID)
	return out, opError("app list in project", err)
}

// AppSummary is App with only appListSelect's fields set (no sealed
// credentials): what the app page's live poll shows.
func (s *Store) AppSummary(ctx context.Context, id int64) (*App, error) {
	var a App
	err := s.db.GetContext(ctx, &a, appListSelect+` WHERE a.id = $1`, id)
	return &a, notFound("app summary", err)
}

// AppsPage lists the visible apps with limit/offset for the API.
func (s *Store) AppsPage(ctx context.Context, limit, offset int, visible []int64) ([]App, error) {
	var out []App
	err := s.db.SelectContext(ctx, &out, appSelect+`
		WHERE ($3::bigint[] IS NULL OR e.project_id = ANY($3))
		ORDER BY a.id LIMIT $1 OFFSET $2`, limit, offset, visibleProjects(visible))
	return out, opError("apps page", err)
}

// AppsInProject lists a project's apps.
func (s *Store) AppsInProject(ctx context.Context, projectID int64) ([]App, error) {
	var out []App
	err := s.db.SelectContext(ctx, &out, appSelect+` WHERE e.project_id = $1 ORDER BY lower(a.name)`, projectID)
	return out, opError("apps in project", err)
}

// DeleteApp removes an app's service and, by cascade, the app row, its
// variables, ports, domains, webhooks and deployments.
func (s *Store) DeleteApp(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM services WHERE id = $1 AND kind = $2`, id, KindApp)
	return rowsOrNotFound(res, err)
}

// SetAppStatus records the app's runtime status.
func (s *Store) SetAppStatus(ctx context.Context, id int64, status string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE applications SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return err
}

// SetAppRunning records what a successful deployment put into service.
func (s *Store) SetAppRunning(ctx context.Context, id int64, image, commit string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE applications SET status = $2, current_image = $3, current_commit = $4, updated_at = now() WHERE id = $1`,
		id, AppRunning, image, commit)
	return err
}
