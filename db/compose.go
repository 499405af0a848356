package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Compose sources.
const (
	ComposeGit    = "git"    // a compose file in a git repository
	ComposeInline = "inline" // a compose file pasted or edited in the page
)

// ComposeStack is a multi-service app from a compose file, deployed as the
// Swarm stack Name (services <Name>_<service>). Status uses the app
// statuses as the last outcome; the live state is Swarm's.
type ComposeStack struct {
	ID              int64  `db:"id" json:"id"`
	EnvironmentID   int64  `db:"environment_id" json:"environment_id"`
	Name            string `db:"name" json:"name"`
	DisplayName     string `db:"display_name" json:"display_name"`
	SourceType      string `db:"source_type" json:"source_type"`
	GitURL          string `db:"git_url" json:"-"`
	GitBranch       string `db:"git_branch" json:"-"`
	GitSSHPublicKey string `db:"git_ssh_public_key" json:"-"`
	ComposePath     string `db:"compose_path" json:"-"`
	ComposeFile     string `db:"compose_file" json:"-"`
	InjectEnv       bool   `db:"inject_env" json:"inject_env"`
	ComposeAllow
	Status          string          `db:"status" json:"status"`
	StoppedReplicas json.RawMessage `db:"stopped_replicas" json:"-"`
	CreatedAt       time.Time       `db:"created_at" json:"created_at"`
	UpdatedAt       time.Time       `db:"updated_at" json:"updated_at"`

	// Sealed secrets; decrypt with Store.ComposeSecrets.
	GitTokenEnc  []byte `db:"git_token_enc" json:"-"`
	GitSSHKeyEnc []byte `db:"git_ssh_key_enc" json:"-"`

	// Joined for display.
	ProjectID       int64  `db:"project_id" json:"project_id"`
	ProjectName     string `db:"project_name" json:"-"`
	EnvironmentName string `db:"environment_name" json:"environment"`
}

// ComposeAllow is what an administrator allowed a stack beyond the safe
// default: each one can give whoever edits the file root on the host.
type ComposeAllow struct {
	BindMounts     bool `db:"allow_bind_mounts" json:"bind_mounts"`
	DockerSocket   bool `db:"allow_docker_socket" json:"docker_socket"`
	Privileged     bool `db:"allow_privileged" json:"privileged"`
	HostNamespaces bool `db:"allow_host_namespaces" json:"host_namespaces"`
	Capabilities   bool `db:"allow_capabilities" json:"capabilities"`
}

// HasGitToken and HasGitSSHKey let pages say "set" without decrypting.
func (c *ComposeStack) HasGitToken() bool  { return len(c.GitTokenEnc) > 0 }
func (c *ComposeStack) HasGitSSHKey() bool { return len(c.GitSSHKeyEnc) > 0 }

// Stopped returns the replicas Stop recorded (Swarm service → count).
func (c *ComposeStack) Stopped() map[string]uint64 {
	out := map[string]uint64{}
	_ = json.Unmarshal(c.StoppedReplicas, &out)
	return out
}

const composeSelect = `
	SELECT c.*, s.environment_id, s.name, e.project_id, e.name AS environment_name, p.name AS project_name
	FROM compose_stacks c
	JOIN services s ON s.id = c.id
	JOIN environments e ON e.id = s.environment_id
	JOIN projects p ON p.id = e.project_id`

// CreateCompose inserts a validated stack (its service row first, which
// claims the name across every kind) and fills its generated fields.
func (s *Store) CreateCompose(ctx context.Context, c *ComposeStack) error {
	return s.InTx(ctx, func(tx *Store) error {
		id, err := tx.createService(ctx, KindCompose, c.EnvironmentID, c.Name)
		if err != nil {
			return err
		}
		_, err = tx.db.ExecContext(ctx, `
			INSERT INTO compose_stacks (id, display_name, source_type, git_url, git_branch, compose_path, compose_file, inject_env,
				allow_bind_mounts, allow_docker_socket, allow_privileged, allow_host_namespaces, allow_capabilities)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			id, c.DisplayName, c.SourceType, c.GitURL, c.GitBranch, c.ComposePath, c.ComposeFile, c.InjectEnv,
			c.BindMounts, c.DockerSocket, c.Privileged, c.HostNamespaces, c.Capabilities)
		if err != nil {
			return fmt.Errorf("create compose stack: %w", err)
		}
		fresh, err := tx.Compose(ctx, id)
		if err != nil {
			return err
		}
		*c = *fresh
		return nil
	})
}

// UpdateCompose saves the user-editable settings; they apply on the next
// deploy. The name is fixed: it names the stack's Swarm objects.
func (s *Store) UpdateCompose(ctx context.Context, c *ComposeStack) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE compose_stacks SET display_name = $2, source_type = $3, git_url = $4, git_branch = $5,
			compose_path = $6, compose_file = $7, inject_env = $8, allow_bind_mounts = $9, allow_docker_socket = $10,
			allow_privileged = $11, allow_host_namespaces = $12, allow_capabilities = $13, updated_at = now()
		WHERE id = $1`,
		c.ID, c.DisplayName, c.SourceType, c.GitURL, c.GitBranch, c.ComposePath, c.ComposeFile, c.InjectEnv,
		c.BindMounts, c.DockerSocket, c.Privileged, c.HostNamespaces, c.Capabilities)
	return rowsOrNotFound(res, err)
}

// SetComposeSecrets encrypts and stores changed git credentials: nil keeps
// the stored value, "" clears it.
func (s *Store) SetComposeSecrets(ctx context.Context, id int64, token, sshKey, sshPublicKey *string) error {
	set := func(column string, v *string, seal bool) error {
		if v == nil {
			return nil
		}
		var val any = *v
		if seal {
			val = s.cipher.sealOptional(*v)
		}
		// column comes from the fixed list below, never from input.
		_, err := s.db.ExecContext(ctx, `UPDATE compose_stacks SET `+column+` = $2, updated_at = now() WHERE id = $1`, id, val)
		return err
	}
	if err := set("git_token_enc", token, true); err != nil {
		return err
	}
	if err := set("git_ssh_key_enc", sshKey, true); err != nil {
		return err
	}
	return set("git_ssh_public_key", sshPublicKey, false)
}

// ComposeSecrets decrypts a stack's git credentials.
func (s *Store) ComposeSecrets(c *ComposeStack) (AppSecrets, error) {
	var out AppSecrets
	var err error
	if out.GitToken, err = s.cipher.Open(c.GitTokenEnc); err != nil {
		return out, opError("compose secrets", err)
	}
	out.GitSSHKey, err = s.cipher.Open(c.GitSSHKeyEnc)
	return out, opError("compose secrets", err)
}

// Compose loads one stack with its project and environment names.
func (s *Store) Compose(ctx context.Context, id int64) (*ComposeStack, error) {
	var c ComposeStack
	err := s.db.GetContext(ctx, &c, composeSelect+` WHERE c.id = $1`, id)
	return &c, notFound("compose stack", err)
}

// ComposeStacks lists every stack, grouped by project then environment.
func (s *Store) ComposeStacks(ctx context.Context) ([]ComposeStack, error) {
	out := []ComposeStack{}
	err := s.db.SelectContext(ctx, &out, composeSelect+` ORDER BY lower(p.name), e.id, s.name`)
	return out, opError("compose stacks", err)
}

// ComposePage lists stacks with limit/offset for the API.
func (s *Store) ComposePage(ctx context.Context, limit, offset int, visible []int64) ([]ComposeStack, error) {
	out := []ComposeStack{}
	err := s.db.SelectContext(ctx, &out, composeSelect+`
		WHERE ($3::bigint[] IS NULL OR e.project_id = ANY($3))
		ORDER BY c.id LIMIT $1 OFFSET $2`, limit, offset, visibleProjects(visible))
	return out, opError("compose page", err)
}

// ComposeInProject lists a project's stacks.
func (s *Store) ComposeInProject(ctx context.Context, projectID int64) ([]ComposeStack, error) {
	out := []ComposeStack{}
	err := s.db.SelectContext(ctx, &out, composeSelect+` WHERE e.project_id = $1 ORDER BY s.name`, projectID)
	return out, opError("compose in project", err)
}

// DeleteCompose removes a stack's service row and, by cascade, its row,
// env, domains, webhooks and operations history.
func (s *Store) DeleteCompose(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM services WHERE id = $1 AND kind = $2`, id, KindCompose)
	return rowsOrNotFound(res, err)
}

// SetComposeStatus records the stack's last outcome.
func (s *Store) SetComposeStatus(ctx context.Context, id int64, status string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE compose_stacks SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return err
}

// SetComposeStopped records the replicas a stop scaled down (nil clears
// them once a start restored them).
func (s *Store) SetComposeStopped(ctx context.Context, id int64, replicas map[string]uint64) error {
	if replicas == nil {
		replicas = map[string]uint64{}
	}
	raw, err := json.Marshal(replicas)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE compose_stacks SET stopped_replicas = $2, updated_at = now() WHERE id = $1`, id, raw)
	return err
}

// ComposeDeployment is what one deploy of a stack put into service.
type ComposeDeployment struct {
	DeploymentID int64             `db:"deployment_id" json:"deployment_id"`
	Source       string            `db:"source" json:"-"`
	Rendered     string            `db:"rendered" json:"rendered"`
	ImagesRaw    json.RawMessage   `db:"images" json:"-"`
	Warnings     pq.StringArray    `db:"warnings" json:"warnings"`
	Images       map[string]string `db:"-" json:"images"`
}

// SaveComposeDeployment records a deploy's files and images.
func (s *Store) SaveComposeDeployment(ctx context.Context, cd *ComposeDeployment) error {
	raw, err := json.Marshal(cd.Images)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO compose_deployments (deployment_id, source, rendered, images, warnings) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (deployment_id) DO UPDATE SET source = $2, rendered = $3, images = $4, warnings = $5`,
		cd.DeploymentID, cd.Source, cd.Rendered, raw, pq.StringArray(nonNil(cd.Warnings)))
	return err
}

// ComposeDeployment loads what deployment id put into service.
func (s *Store) ComposeDeployment(ctx context.Context, id int64) (*ComposeDeployment, error) {
	var cd ComposeDeployment
	if err := s.db.GetContext(ctx, &cd, `SELECT * FROM compose_deployments WHERE deployment_id = $1`, id); err != nil {
		return nil, notFound("compose deployment", err)
	}
	cd.Images = map[string]string{}
	_ = json.Unmarshal(cd.ImagesRaw, &cd.Images)
	return &cd, nil
}

// LastComposeDeployments returns the files of a stack's newest successful
// deploys, newest first: the running one and the one before it (for the
// diff and the rollback).
func (s *Store) LastComposeDeployments(ctx context.Context, stackID int64, limit int) ([]ComposeDeployment, error) {
	out := []ComposeDeployment{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT cd.* FROM compose_deployments cd JOIN deployments d ON d.id = cd.deployment_id
		WHERE d.service_id = $1 AND d.status = 'done' AND d.action = 'deploy'
		ORDER BY d.id DESC LIMIT $2`, stackID, limit)
	for i := range out {
		out[i].Images = map[string]string{}
		_ = json.Unmarshal(out[i].ImagesRaw, &out[i].Images)
	}
	return out, opError("last compose deployments", err)
}

// ComposeDomains lists a stack's domains in creation order.
func (s *Store) ComposeDomains(ctx context.Context, stackID int64) ([]Domain, error) {
	return s.AppDomains(ctx, stackID)
}

// CreateComposeRollback queues a deploy of the file and images an earlier
// successful deploy of a stack recorded, without a build.
func (s *Store) CreateComposeRollback(ctx context.Context, from *Deployment, triggeredBy string) (*Deployment, error) {
	if from.Status != DeployDone || from.Action != ActionDeploy {
		return nil, conflictf("only a successful deploy can be rolled back to")
	}
	if _, err := s.ComposeDeployment(ctx, from.ID); err != nil {
		return nil, conflictf("deployment #%d recorded no compose file to roll back to", from.ID)
	}
	return s.queueDeployment(ctx, &Deployment{
		ServiceID: from.ServiceID, Trigger: "rollback", TriggeredBy: triggeredBy, RollbackOf: &from.ID,
		CommitSHA: from.CommitSHA, CommitMessage: from.CommitMessage,
	})
}
