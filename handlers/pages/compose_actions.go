package pages

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// composeAction queues a header action (deploy, start, stop, restart) and
// answers with the header, which then polls until the state is real.
func (h *Handler) composeAction(c echo.Context, action string) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	ctx, by := c.Request().Context(), web.CurrentUser(c).Email
	if action == db.ActionDeploy {
		_, err = h.Ops.DeployCompose(ctx, s, "user", by)
	} else {
		_, err = h.Ops.ComposeOperation(ctx, s, action, by)
	}
	if err != nil {
		return err
	}
	return h.ShowComposeHeader(c)
}

// DeployCompose, StopCompose, StartCompose and RestartCompose are the
// header's actions.
func (h *Handler) DeployCompose(c echo.Context) error  { return h.composeAction(c, db.ActionDeploy) }
func (h *Handler) StopCompose(c echo.Context) error    { return h.composeAction(c, db.ActionStop) }
func (h *Handler) StartCompose(c echo.Context) error   { return h.composeAction(c, db.ActionStart) }
func (h *Handler) RestartCompose(c echo.Context) error { return h.composeAction(c, db.ActionRestart) }

// composePanel renders one panel of a tab; with p.Queued set the header
// comes along out of band, so it starts following the operation.
func (h *Handler) composePanel(c echo.Context, status int, name string, p *composePage) error {
	if p.Queued != nil {
		f, _, _, err := h.composeFrame(c, p.Stack)
		if err != nil {
			return err
		}
		f.Tab, f.OOB = p.Tab, true
		p.Frame = f
	}
	return h.Partial(c, status, name, p)
}

// wantsDeploy reports whether the "Save and deploy" button sent the form.
func wantsDeploy(c echo.Context) bool { return c.FormValue("deploy") == "yes" }

// saveCompose saves s with x through ops.UpdateCompose and queues a deploy
// when asked. It returns the file's warnings, the deploy, and a refusal
// put on form.
func (h *Handler) saveCompose(c echo.Context, s *db.ComposeStack, x ops.ComposeExtras, form *views.Form) ([]string, *db.Deployment, error) {
	ctx := c.Request().Context()
	warnings, err := h.Ops.UpdateCompose(ctx, s, x)
	if err != nil {
		if formErrors(form, err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if !wantsDeploy(c) {
		return warnings, nil, nil
	}
	dep, err := h.Ops.DeployCompose(ctx, s, "user", web.CurrentUser(c).Email)
	return warnings, dep, err
}

// UpdateComposeFile saves the Compose file tab: the pasted file of an
// inline stack, the repository settings of a git one.
func (h *Handler) UpdateComposeFile(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	form.Values["source_type"] = s.SourceType
	var x ops.ComposeExtras
	if s.SourceType == db.ComposeGit {
		text := func(k string) string {
			v := strings.TrimSpace(c.FormValue(k))
			form.Values[k] = v
			return v
		}
		s.GitURL, s.GitBranch, s.ComposePath = text("git_url"), text("git_branch"), text("compose_path")
		if v := c.FormValue("git_token"); v != "" {
			x.GitToken = &v
		}
		if c.FormValue("clear_git_token") == "on" {
			empty := ""
			x.GitToken = &empty
		}
	} else {
		s.ComposeFile = c.FormValue("compose_file")
		form.Values["compose_file"] = s.ComposeFile
	}
	warnings, dep, err := h.saveCompose(c, s, x, form)
	if err != nil {
		return err
	}
	fresh, err := h.Store.Compose(c.Request().Context(), s.ID)
	if err != nil {
		return err
	}
	p, err := h.loadComposePage(c, fresh, "file")
	if err != nil {
		return err
	}
	if !form.Valid() {
		if fresh.HasGitToken() {
			form.Values["has_git_token"] = "yes"
		}
		p.FileForm = form
		return h.composePanel(c, http.StatusUnprocessableEntity, "compose_source", p)
	}
	p.Warnings, p.Queued = warnings, dep
	p.Saved = "Saved. Deploy to apply it."
	if dep != nil {
		p.Saved = ""
	}
	return h.composePanel(c, http.StatusOK, "compose_source", p)
}

// UpdateComposeEnv saves the Environment tab: the variables and whether
// they are also injected into every service.
func (h *Handler) UpdateComposeEnv(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	vars, problem, err := h.envFromForm(c, s.ID)
	if err != nil {
		return err
	}
	var warnings []string
	var dep *db.Deployment
	if problem == "" {
		if vars == nil {
			vars = []db.Variable{}
		}
		s.InjectEnv = c.FormValue("inject_env") == "on"
		var serr error
		warnings, serr = h.Ops.SetComposeEnv(ctx, s, vars)
		if _, problem, err = outcome(serr, ""); err != nil {
			return err
		}
		if problem == "" && wantsDeploy(c) {
			if dep, err = h.Ops.DeployCompose(ctx, s, "user", web.CurrentUser(c).Email); err != nil {
				return err
			}
		}
	}
	fresh, err := h.Store.Compose(ctx, s.ID)
	if err != nil {
		return err
	}
	p, err := h.loadComposePage(c, fresh, "environment")
	if err != nil {
		return err
	}
	if problem != "" {
		p.EnvError = problem
		p.Stack.InjectEnv = c.FormValue("inject_env") == "on" // as ticked, though not saved
		p.EnvForm = typedEnv(c, p.EnvForm)
		return h.composePanel(c, http.StatusUnprocessableEntity, "compose_env", p)
	}
	p.Warnings, p.Queued = warnings, dep
	if dep == nil {
		p.Saved = "Variables saved. Deploy to apply them."
	}
	return h.composePanel(c, http.StatusOK, "compose_env", p)
}

// RevealComposeEnv shows one variable's value in its row.
func (h *Handler) RevealComposeEnv(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	return h.revealVariable(c, s.ID)
}

// UpdateComposeSettings saves the Settings tab: the display name and what
// the stack is allowed beyond the safe default.
func (h *Handler) UpdateComposeSettings(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	s.DisplayName = strings.TrimSpace(c.FormValue("display_name"))
	form.Values["display_name"] = s.DisplayName
	for _, a := range allowFields {
		on := c.FormValue(a.Key) == "on"
		*allowOf(&s.ComposeAllow, a.Key) = on
		if on {
			form.Values[a.Key] = "on"
		}
	}
	warnings, dep, err := h.saveCompose(c, s, ops.ComposeExtras{}, form)
	if err != nil {
		return err
	}
	fresh, err := h.Store.Compose(c.Request().Context(), s.ID)
	if err != nil {
		return err
	}
	p, err := h.loadComposePage(c, fresh, "settings")
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.SettingsForm = form
		return h.composePanel(c, http.StatusUnprocessableEntity, "compose_settings", p)
	}
	p.Warnings, p.Queued = warnings, dep
	p.Saved = "Saved. The permissions apply from the next deploy."
	// The name shows in the header: refresh it.
	f, _, _, err := h.composeFrame(c, fresh)
	if err != nil {
		return err
	}
	f.Tab, f.OOB = "settings", true
	p.Frame = f
	return h.Partial(c, http.StatusOK, "compose_settings", p)
}

// GenerateComposeDeployKey replaces the stack's SSH deploy key.
func (h *Handler) GenerateComposeDeployKey(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	if _, err := h.Ops.NewComposeDeployKey(c.Request().Context(), s); err != nil {
		return err
	}
	fresh, err := h.Store.Compose(c.Request().Context(), s.ID)
	if err != nil {
		return err
	}
	p, err := h.loadComposePage(c, fresh, "file")
	if err != nil {
		return err
	}
	p.Saved = "New deploy key generated: add its public half to the repository."
	return h.Partial(c, http.StatusOK, "compose_source", p)
}

// CreateComposeDomain adds a domain routed to one service of the stack.
func (h *Handler) CreateComposeDomain(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	d := ops.NewComposeDomain(s)
	form := views.NewForm()
	formToDomain(c, d, form)
	d.ComposeService = strings.TrimSpace(c.FormValue("service"))
	form.Values["service"] = d.ComposeService
	msg, failed := "", ""
	if form.Valid() {
		err := h.Ops.SaveComposeDomain(c.Request().Context(), s, d)
		if !formErrors(form, err) {
			if msg, failed, err = outcome(err, "Domain "+displayHost(d.Host)+ops.PathSuffix(d.Path)+" → "+d.ComposeService+" added."); err != nil {
				return err
			}
		}
	}
	return h.renderComposeDomains(c, s, func(p *composePage) {
		p.DomainMsg, p.DomainError = msg, failed
		if !form.Valid() {
			p.DomainForm = form
		}
	})
}

// DeleteComposeDomain removes one of the stack's domains.
func (h *Handler) DeleteComposeDomain(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	did, err := web.PathID(c, "did")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := h.Store.Domain(ctx, did)
	if err != nil {
		return err
	}
	if d.ServiceID == nil || *d.ServiceID != s.ID {
		return db.ErrNotFound
	}
	msg, failed, err := outcome(h.Ops.DeleteDomain(ctx, d), "Domain "+displayHost(d.Host)+ops.PathSuffix(d.Path)+" removed.")
	if err != nil {
		return err
	}
	return h.renderComposeDomains(c, s, func(p *composePage) { p.DomainMsg, p.DomainError = msg, failed })
}

// renderComposeDomains answers the Domains panel after a change, 422 when
// the input was refused.
func (h *Handler) renderComposeDomains(c echo.Context, s *db.ComposeStack, edit func(*composePage)) error {
	p, err := h.loadComposePage(c, s, "domains")
	if err != nil {
		return err
	}
	edit(p)
	status := http.StatusOK
	if !p.DomainForm.Valid() || (p.DomainError != "" && p.DomainMsg == "") {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "compose_domains", p)
}

// RollbackCompose queues a deploy of the file and images an earlier
// successful deploy recorded, and answers the Deployments panel.
func (h *Handler) RollbackCompose(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	did, err := web.PathID(c, "did")
	if err != nil {
		return err
	}
	dep, err := h.Ops.RollbackCompose(c.Request().Context(), s, did, web.CurrentUser(c).Email)
	if err != nil {
		return err
	}
	p, err := h.loadComposePage(c, s, "deployments")
	if err != nil {
		return err
	}
	p.Queued = dep
	return h.composePanel(c, http.StatusOK, "compose_deployments", p)
}

// DeleteCompose removes the stack once the user chose what happens to its
// named volumes; there is no default.
func (h *Handler) DeleteCompose(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	p := &composePage{Stack: s, CSRF: web.CSRF(c), DeleteForm: views.NewForm()}
	choice := c.FormValue("volumes")
	if choice != "keep" && choice != "remove" {
		p.DeleteForm.Errors["volumes"] = "choose whether to keep the stack's named volumes"
		return h.Partial(c, http.StatusUnprocessableEntity, "compose_delete_form", p)
	}
	err = h.Ops.DeleteCompose(c.Request().Context(), s, choice == "remove")
	var engineErr *ops.EngineError
	switch {
	case err == nil:
		return web.Redirect(c, fmt.Sprintf("/projects/%d", s.ProjectID))
	case errors.As(err, &engineErr):
		p.DeleteForm.Error = engineErr.Msg + " Nothing was deleted; try again."
		return h.Partial(c, http.StatusBadGateway, "compose_delete_form", p)
	case formErrors(p.DeleteForm, err):
		return h.Partial(c, http.StatusConflict, "compose_delete_form", p)
	}
	return err
}
