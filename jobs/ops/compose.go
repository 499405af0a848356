package ops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/compose"
	"dokploy/jobs/git"
)

// maxComposeFile bounds a pasted compose file, like one read from a
// repository.
const maxComposeFile = 1 << 20

// ComposeExtras are the parts of a stack stored beside its row. A nil field
// is left as it is.
type ComposeExtras struct {
	Env       *[]db.Variable
	GitToken  *string
	GitSSHKey *string
}

// NewCompose returns a stack's defaults.
func NewCompose(environmentID int64) *db.ComposeStack {
	return &db.ComposeStack{EnvironmentID: environmentID, SourceType: db.ComposeInline, GitBranch: "main"}
}

// ValidateCompose checks a stack's settings, one message per field. An
// inline file is loaded and checked the way a deploy will (with env, the
// stack's permissions and no repository), so a bad file is refused when
// it is saved, with its line.
func ValidateCompose(ctx context.Context, c *db.ComposeStack, env []db.Variable) (FieldErrors, []string) {
	errs := FieldErrors{}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	if err := ValidateDisplayName(c.DisplayName); err != nil {
		errs["display_name"] = err.Error()
	}
	if err := compose.ValidateStackName(c.Name); err != nil {
		errs["name"] = err.Error()
	} else if err := ValidateAppName(c.Name); err != nil {
		errs["name"] = strings.Replace(err.Error(), "app name", "stack name", 1)
	}
	if c.DockerSocket && !c.BindMounts {
		errs["allow"] = "allowing the Docker socket needs bind mounts allowed too"
	}
	var warnings []string
	switch c.SourceType {
	case db.ComposeGit:
		if err := git.ValidateSavedURL(c.GitURL); err != nil {
			errs["git_url"] = err.Error()
		}
		if err := git.ValidateBranch(c.GitBranch); err != nil {
			errs["git_branch"] = err.Error()
		}
		if c.ComposePath != "" {
			if err := ValidateRelPath(c.ComposePath, "compose file path"); err != nil {
				errs["compose_path"] = err.Error()
			} else if ext := path.Ext(c.ComposePath); ext != ".yml" && ext != ".yaml" {
				errs["compose_path"] = "compose file path must end in .yml or .yaml"
			}
		}
		c.ComposeFile = ""
	case db.ComposeInline:
		c.GitURL, c.ComposePath = "", ""
		switch {
		case strings.TrimSpace(c.ComposeFile) == "":
			errs["compose_file"] = "paste a compose file (YAML with a services: section)"
		case len(c.ComposeFile) > maxComposeFile:
			errs["compose_file"] = "the compose file is larger than 1 MiB"
		default:
			// A bad name is reported at the name; the file is checked
			// under a stand-in so it is not blamed for it too.
			stack := c.Name
			if errs["name"] != "" {
				stack = "stack"
			}
			p, err := compose.Load(ctx, compose.Source{
				Stack: stack, File: []byte(c.ComposeFile), Filename: "compose file",
				Env: variablesMap(env), InjectEnv: c.InjectEnv, Allow: permissions(c),
			})
			if err != nil {
				errs["compose_file"] = err.Error()
			} else {
				warnings = p.Warnings
			}
		}
	default:
		errs["source_type"] = `source must be "git" or "inline"`
	}
	return errs, warnings
}

func permissions(c *db.ComposeStack) compose.Permissions {
	return compose.Permissions{
		BindMounts: c.BindMounts, DockerSocket: c.DockerSocket, Privileged: c.Privileged,
		HostNamespaces: c.HostNamespaces, Capabilities: c.Capabilities,
	}
}

func variablesMap(vars []db.Variable) map[string]string {
	out := make(map[string]string, len(vars))
	for _, v := range vars {
		out[v.Key] = v.Value
	}
	return out
}

// CreateCompose validates a stack (its EnvironmentID already resolved by
// the front-end) and its extras and stores them in one transaction. It
// returns the file's warnings (keys Swarm ignores).
func (s *Service) CreateCompose(ctx context.Context, c *db.ComposeStack, x ComposeExtras) ([]string, error) {
	var env []db.Variable
	if x.Env != nil {
		if err := ValidateVariables(*x.Env); err != nil {
			return nil, fieldError("env", err.Error())
		}
		env = *x.Env
	}
	errs, warnings := ValidateCompose(ctx, c, env)
	if len(errs) > 0 {
		return nil, errs
	}
	err := s.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.CreateCompose(ctx, c); err != nil {
			return err
		}
		return saveComposeExtras(ctx, tx, c.ID, x)
	})
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("name", "the name %q is taken; service names are unique across all projects", c.Name)
	}
	return warnings, err
}

// UpdateCompose validates and saves a stack's settings and extras; they
// apply on the next deploy.
func (s *Service) UpdateCompose(ctx context.Context, c *db.ComposeStack, x ComposeExtras) ([]string, error) {
	env, err := s.composeEnv(ctx, c, x)
	if err != nil {
		return nil, err
	}
	errs, warnings := ValidateCompose(ctx, c, env)
	if len(errs) > 0 {
		return nil, errs
	}
	return warnings, s.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.UpdateCompose(ctx, c); err != nil {
			return err
		}
		return saveComposeExtras(ctx, tx, c.ID, x)
	})
}

// composeEnv is the env a save validates the file with: the new one when
// it changes, else the stored one.
func (s *Service) composeEnv(ctx context.Context, c *db.ComposeStack, x ComposeExtras) ([]db.Variable, error) {
	if x.Env != nil {
		if err := ValidateVariables(*x.Env); err != nil {
			return nil, fieldError("env", err.Error())
		}
		return *x.Env, nil
	}
	return s.store.AppVariables(ctx, c.ID, db.VarEnv)
}

// SetComposeEnv replaces the stack's env after checking the inline file
// still loads with it.
func (s *Service) SetComposeEnv(ctx context.Context, c *db.ComposeStack, vars []db.Variable) ([]string, error) {
	return s.UpdateCompose(ctx, c, ComposeExtras{Env: &vars})
}

func saveComposeExtras(ctx context.Context, tx *db.Store, id int64, x ComposeExtras) error {
	if x.Env != nil {
		if err := setVariables(ctx, tx, id, db.VarEnv, *x.Env); err != nil {
			return err
		}
	}
	return tx.SetComposeSecrets(ctx, id, x.GitToken, x.GitSSHKey, nil)
}

// NewComposeDeployKey replaces the stack's SSH deploy key and returns its
// public half; the private key is stored encrypted and never shown.
func (s *Service) NewComposeDeployKey(ctx context.Context, c *db.ComposeStack) (string, error) {
	private, public, err := git.GenerateDeployKey()
	if err != nil {
		return "", fmt.Errorf("generate deploy key: %w", err)
	}
	priv := string(private)
	return public, s.store.SetComposeSecrets(ctx, c.ID, nil, &priv, &public)
}

// DeployCompose queues a deploy of the stack.
func (s *Service) DeployCompose(ctx context.Context, c *db.ComposeStack, trigger, by string) (*db.Deployment, error) {
	d, err := s.store.CreateDeployment(ctx, c.ID, trigger, by)
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, d)
	return d, nil
}

// ComposeOperation queues a stop, start or restart of the stack.
func (s *Service) ComposeOperation(ctx context.Context, c *db.ComposeStack, action, by string) (*db.Deployment, error) {
	switch action {
	case db.ActionStop, db.ActionStart, db.ActionRestart:
	default:
		return nil, fieldError("action", "action must be stop, start or restart")
	}
	d, err := s.store.CreateOperation(ctx, c.ID, action, by, "")
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, d)
	return d, nil
}

// RollbackCompose queues a deploy of the file and images that deployment
// id put into service.
func (s *Service) RollbackCompose(ctx context.Context, c *db.ComposeStack, id int64, by string) (*db.Deployment, error) {
	from, err := s.store.Deployment(ctx, id)
	if err != nil || from.ServiceID != c.ID {
		return nil, db.ErrNotFound
	}
	d, err := s.store.CreateComposeRollback(ctx, from, by)
	if errors.Is(err, db.ErrConflict) {
		return nil, conflict("", "%s", err.Error())
	}
	if err != nil {
		return nil, err
	}
	s.enqueue(ctx, d)
	return d, nil
}

// DeleteCompose cancels the stack's operations, removes its Swarm objects
// (volumes only when removeVolumes), then its rows and routes.
func (s *Service) DeleteCompose(ctx context.Context, c *db.ComposeStack, removeVolumes bool) error {
	if err := s.stopOperations(ctx, c.ID, 30*time.Second); err != nil {
		return err
	}
	if err := s.runner.RemoveCompose(ctx, c, removeVolumes); err != nil {
		return &EngineError{Msg: "Could not remove the stack: " + err.Error(), Err: err}
	}
	if err := s.store.DeleteCompose(ctx, c.ID); err != nil {
		return err
	}
	_, _ = s.routing.Sync(ctx) // the stack is gone either way; the next Sync retries
	return nil
}

// ComposeServiceNames are the stack's services as far as the product
// knows them: those of its last deploy, else those of its inline file.
func (s *Service) ComposeServiceNames(ctx context.Context, c *db.ComposeStack) []string {
	var names []string
	if last, err := s.store.LastComposeDeployments(ctx, c.ID, 1); err == nil && len(last) > 0 {
		for name := range last[0].Images {
			names = append(names, name)
		}
	} else if c.SourceType == db.ComposeInline {
		env, _ := s.store.AppVariables(ctx, c.ID, db.VarEnv)
		if p, err := compose.Load(ctx, compose.Source{Stack: c.Name, File: []byte(c.ComposeFile), Env: variablesMap(env), InjectEnv: c.InjectEnv, Allow: permissions(c)}); err == nil {
			for _, svc := range p.Services {
				names = append(names, svc.Name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// NewComposeDomain returns the defaults of a new domain of a stack.
func NewComposeDomain(c *db.ComposeStack) *db.Domain {
	id := c.ID
	return &db.Domain{ServiceID: &id, Path: "/", InternalPath: "/", Certificate: db.CertLetsEncrypt, HTTPS: true, Enabled: true, Port: 80}
}

// SaveComposeDomain validates a stack domain (its service must be one of
// the stack's, when they are known) and saves it like an app's.
func (s *Service) SaveComposeDomain(ctx context.Context, c *db.ComposeStack, d *db.Domain) error {
	d.ComposeService = strings.TrimSpace(d.ComposeService)
	if err := compose.ValidateStackName(d.ComposeService); d.ComposeService == "" || err != nil {
		return fieldError("service", "choose the stack service this domain routes to (a service name of the compose file)")
	}
	if names := s.ComposeServiceNames(ctx, c); len(names) > 0 && !contains(names, d.ComposeService) {
		return fieldError("service", fmt.Sprintf("the stack has no service %q (its services: %s)", d.ComposeService, strings.Join(names, ", ")))
	}
	return s.SaveDomain(ctx, &db.App{ID: c.ID, AppName: c.Name}, d)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ComposeFileView is the file a stack's running deploy rendered (secrets
// masked) and how it differs from the deploy before it.
type ComposeFileView struct {
	DeploymentID int64             `json:"deployment_id,omitempty"`
	Rendered     string            `json:"rendered"`
	PreviousID   int64             `json:"previous_deployment_id,omitempty"`
	Diff         []DiffLine        `json:"diff"`
	Warnings     []string          `json:"warnings"`
	Images       map[string]string `json:"images"`
}

// ComposeFileView loads the last two successful deploys' files.
func (s *Service) ComposeFileView(ctx context.Context, c *db.ComposeStack) (*ComposeFileView, error) {
	last, err := s.store.LastComposeDeployments(ctx, c.ID, 2)
	if err != nil {
		return nil, err
	}
	out := &ComposeFileView{Diff: []DiffLine{}, Warnings: []string{}, Images: map[string]string{}}
	if len(last) == 0 {
		return out, nil
	}
	out.DeploymentID, out.Rendered, out.Images = last[0].DeploymentID, last[0].Rendered, last[0].Images
	out.Warnings = append(out.Warnings, last[0].Warnings...)
	if len(last) > 1 {
		out.PreviousID = last[1].DeploymentID
		out.Diff = LineDiff(last[1].Rendered, last[0].Rendered)
	}
	return out, nil
}
