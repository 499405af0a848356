package pages

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// Tabs of a compose stack's page; the first is the page itself.
var composeTabs = []serviceTab{
	{"services", "Services"}, {"file", "Compose file"}, {"environment", "Environment"},
	{"domains", "Domains"}, {"logs", "Logs"}, {"monitoring", "Monitoring"}, {"deployments", "Deployments"}, {"settings", "Settings"},
}

// composePage is the data of a stack's page: the shared frame and what the
// active tab shows. Env values are only in it once revealed, one by one.
type composePage struct {
	Frame *serviceFrame
	Stack *db.ComposeStack
	Tab   string
	CSRF  string

	// Services
	Services *stackServices

	// Compose file
	FileForm *views.Form
	File     *ops.ComposeFileView
	Warnings []string // of the file just saved
	Saved    string

	// Environment
	EnvForm  *envInput // names only; values never sent unless just typed
	EnvError string

	// Domains
	Domains      []domainRow
	DomainForm   *views.Form
	ServiceNames []string
	Certificates []db.Certificate
	DomainMsg    string
	DomainError  string
	DomainPoll   bool

	// Deployments
	Deployments []db.Deployment
	Recorded    map[int64]bool // deploys whose file and images a rollback can reuse
	CurrentID   int64          // the deploy in service
	WebhookURL  string
	Mismatch    *web.AddressMismatch // DOKPLOY_PUBLIC_URL is not the address in use
	Webhook     *db.Webhook

	// Settings
	SettingsForm *views.Form
	DeleteForm   *views.Form

	Queued *db.Deployment // what an action queued, for "… queued, follow its log"
}

// stackServices is the data of the live services table.
type stackServices struct {
	StackID  int64
	Items    []docker.StackServiceState
	Error    string // Docker did not answer
	Deployed bool   // a deploy succeeded once
	Pending  *db.Deployment
}

// RowClass colours a service's replica count.
func (stackServices) RowClass(s docker.StackServiceState) string {
	switch {
	case s.Desired == 0 && s.Running == 0 && s.Exiting == 0:
		return "state-off"
	case s.Running >= s.Desired && s.Health != "unhealthy":
		return "state-ok"
	case s.LastError != "" || s.Health == "unhealthy":
		return "state-bad"
	}
	return "state-busy"
}

// HealthBadge is a service's health as a badge.
func (stackServices) HealthBadge(s docker.StackServiceState) stateBadge {
	switch s.Health {
	case "healthy":
		return stateBadge{"healthy", "state-ok"}
	case "unhealthy":
		return stateBadge{"unhealthy", "state-bad"}
	case "starting":
		return stateBadge{"starting", "state-busy"}
	}
	return stateBadge{}
}

// stackLive sums a stack's services into one state, the way jobs.Live
// does for a single service.
func stackLive(states []docker.StackServiceState, err error) jobs.Live {
	if err != nil {
		return jobs.Live{State: "unknown", Message: "Docker did not answer: " + oneLine(err.Error())}
	}
	if len(states) == 0 {
		return jobs.Live{State: "not deployed"}
	}
	var l jobs.Live
	allHealthy, failing, exiting := true, "", 0
	for _, s := range states {
		l.Desired += int(s.Desired)
		l.Running += int(s.Running)
		exiting += int(s.Exiting)
		if s.Health == "healthy" {
			l.Healthy += int(s.Running)
		} else {
			allHealthy = false
		}
		if s.Running < s.Desired && s.LastError != "" && failing == "" {
			failing = s.Service + ": " + oneLine(s.LastError)
		}
	}
	lagging := false
	unhealthy := false
	for _, s := range states {
		if s.Running < s.Desired {
			lagging = true
		}
		if s.Health == "unhealthy" {
			unhealthy = true
		}
	}
	switch {
	case l.Desired == 0 && l.Running == 0 && exiting == 0:
		l.State = "stopped"
	case l.Desired == 0:
		l.State = "stopping"
	case unhealthy:
		l.State = "unhealthy"
	case lagging:
		l.State = "starting"
	case allHealthy:
		l.State = "healthy"
	default:
		l.State = "running"
	}
	l.Message = failing
	return l
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// composeFrame builds the header of a stack's page from Swarm's live state
// and the operations history; it returns both too.
func (h *Handler) composeFrame(c echo.Context, s *db.ComposeStack) (*serviceFrame, []db.Deployment, *stackServices, error) {
	ctx := c.Request().Context()
	history, err := h.Store.Deployments(ctx, s.ID, 30)
	if err != nil {
		return nil, nil, nil, err
	}
	svc := h.stackServices(ctx, s)
	var derr error
	if svc.Error != "" {
		derr = fmt.Errorf("%s", svc.Error)
	}
	live := stackLive(svc.Items, derr)
	status := web.ServiceStatus(s.Status, live)
	sub := "pasted compose file"
	if s.SourceType == db.ComposeGit {
		sub = s.GitURL + " @ " + s.GitBranch
	}
	f := &serviceFrame{
		Base: fmt.Sprintf("/compose/%d", s.ID), Name: s.DisplayName, Kind: "Compose stack",
		BackURL: fmt.Sprintf("/projects/%d", s.ProjectID), BackLabel: s.ProjectName + " / " + s.EnvironmentName,
		Subtitle: sub, State: liveState(status), Message: live.Message,
		Busy: pendingOperation(history), Tabs: composeTabs,
	}
	if f.Name != s.Name {
		f.Subtitle = "stack " + s.Name + " · " + sub
	}
	if f.Busy != nil {
		f.State, f.Message = busyState(f.Busy), ""
	} else if status == db.AppError {
		for _, op := range history {
			if op.Status == db.DeployError {
				f.Message = op.Error
				break
			}
		}
	}
	svc.Pending = f.Busy
	f.Actions = permittedActions(c, s.ProjectID, composeActions(f, live.State))
	return f, history, svc, nil
}

// composeActions are the header's buttons; those that conflict with a
// pending operation or the current state are disabled.
func composeActions(f *serviceFrame, state string) []serviceAction {
	busy := f.Busy != nil
	off := func(cond bool, why string) (bool, string) {
		if busy {
			return true, "Wait for the current operation to finish (or cancel it from its log)"
		}
		if cond {
			return true, why
		}
		return false, ""
	}
	notDeployed, stopped := state == "not deployed", state == "stopped"
	deploy := serviceAction{Label: "Deploy", Path: f.Base + "/deploy"}
	deploy.Disabled, deploy.Title = off(false, "")
	if !deploy.Disabled {
		deploy.Title = "Load the compose file, pull or build its images and roll every service out"
	}
	start := serviceAction{Label: "Start", Path: f.Base + "/start", Class: "secondary"}
	start.Disabled, start.Title = off(!stopped && state != "unknown", "The stack is not stopped")
	stop := serviceAction{Label: "Stop", Path: f.Base + "/stop", Class: "secondary",
		Confirm: "Stop every service of " + f.Name + "? They scale to zero; volumes and settings stay."}
	stop.Disabled, stop.Title = off(stopped || notDeployed, "The stack is not running")
	restart := serviceAction{Label: "Restart", Path: f.Base + "/restart", Class: "secondary"}
	restart.Disabled, restart.Title = off(stopped || notDeployed, "The stack is not running")
	del := serviceAction{Label: "Delete", Dialog: "service-delete", Class: "danger"}
	return []serviceAction{deploy, start, stop, restart, del}
}

// stackServices reads the live state of the stack's services.
func (h *Handler) stackServices(ctx context.Context, s *db.ComposeStack) *stackServices {
	out := &stackServices{StackID: s.ID}
	items, err := h.Runner.StackServices(ctx, s.Name)
	if err != nil {
		out.Error = "Docker did not answer: " + oneLine(err.Error())
	}
	out.Items = items
	if len(items) == 0 {
		last, err := h.Store.LastComposeDeployments(ctx, s.ID, 1)
		out.Deployed = err == nil && len(last) > 0
	} else {
		out.Deployed = true
	}
	return out
}

// loadComposePage fills the frame and the data of tab.
func (h *Handler) loadComposePage(c echo.Context, s *db.ComposeStack, tab string) (*composePage, error) {
	ctx := c.Request().Context()
	f, history, svc, err := h.composeFrame(c, s)
	if err != nil {
		return nil, err
	}
	f.Tab = tab
	p := &composePage{Frame: f, Stack: s, Tab: tab, CSRF: web.CSRF(c), Services: svc,
		DeleteForm: views.NewForm()}
	switch tab {
	case "file":
		p.FileForm = composeSourceForm(s)
		if p.File, err = h.Ops.ComposeFileView(ctx, s); err != nil {
			return nil, err
		}
	case "environment":
		if p.EnvForm, err = h.storedEnvForm(ctx, s.ID); err != nil {
			return nil, err
		}
	case "domains":
		if err := h.fillComposeDomains(c, p); err != nil {
			return nil, err
		}
		p.DomainForm = domainToForm(ops.NewComposeDomain(s))
		if len(p.ServiceNames) > 0 {
			p.DomainForm.Values["service"] = p.ServiceNames[0]
		}
	case "logs":
		for _, it := range svc.Items {
			p.ServiceNames = append(p.ServiceNames, it.Service)
		}
	case "deployments":
		p.Deployments = history
		recorded, err := h.Store.LastComposeDeployments(ctx, s.ID, 100)
		if err != nil {
			return nil, err
		}
		p.Recorded = map[int64]bool{}
		for i, cd := range recorded {
			p.Recorded[cd.DeploymentID] = true
			if i == 0 {
				p.CurrentID = cd.DeploymentID
			}
		}
		// The webhook URL and secret deploy: only those who may deploy see them.
		if web.Access(c).Level(s.ProjectID) >= db.LevelDeploy {
			if p.Webhook, err = h.Store.AppWebhook(ctx, s.ID); err != nil {
				return nil, err
			}
			p.WebhookURL = h.WebhookURL(p.Webhook)
		}
		p.Mismatch = h.PublicAddressMismatch(c)
	case "settings":
		p.SettingsForm = composeSettingsForm(s)
	}
	return p, nil
}

// fillComposeDomains loads the domains list, the stack's services and
// the uploaded certificates.
func (h *Handler) fillComposeDomains(c echo.Context, p *composePage) error {
	ctx := c.Request().Context()
	domains, err := h.Store.ComposeDomains(ctx, p.Stack.ID)
	if err != nil {
		return err
	}
	p.Domains, p.DomainPoll = h.domainRows(ctx, p.Stack.Name, domains)
	p.ServiceNames = h.Ops.ComposeServiceNames(ctx, p.Stack)
	p.Certificates, err = h.Store.Certificates(ctx)
	return err
}

// composeSourceForm is the Compose file tab's form: the file of an inline
// stack, the repository settings of a git one.
func composeSourceForm(s *db.ComposeStack) *views.Form {
	f := views.NewForm()
	v := f.Values
	v["source_type"], v["compose_file"] = s.SourceType, s.ComposeFile
	v["git_url"], v["git_branch"], v["compose_path"] = s.GitURL, s.GitBranch, s.ComposePath
	if s.HasGitToken() {
		v["has_git_token"] = "yes"
	}
	return f
}

// allowFields are the Security checkboxes of the Settings tab, in order.
var allowFields = []struct{ Key, Label, Warning string }{
	{"allow_bind_mounts", "bind mounts of host paths", "services can read and write any file of the host."},
	{"allow_docker_socket", "the Docker socket (needs bind mounts)", "a service with the socket controls Docker, so it can run anything as root."},
	{"allow_privileged", "privileged containers", "a privileged container has every capability and device of the host."},
	{"allow_host_namespaces", "host network, PID and IPC namespaces", "services see the host's processes and reach every port it listens on."},
	{"allow_capabilities", "added capabilities (cap_add)", "SYS_ADMIN, NET_ADMIN and the like let a service escape its container."},
}

// allowOf returns the stack's field for an allowFields key.
func allowOf(a *db.ComposeAllow, key string) *bool {
	return map[string]*bool{
		"allow_bind_mounts": &a.BindMounts, "allow_docker_socket": &a.DockerSocket, "allow_privileged": &a.Privileged,
		"allow_host_namespaces": &a.HostNamespaces, "allow_capabilities": &a.Capabilities,
	}[key]
}

func composeSettingsForm(s *db.ComposeStack) *views.Form {
	f := views.NewForm()
	f.Values["display_name"] = s.DisplayName
	for _, a := range allowFields {
		if *allowOf(&s.ComposeAllow, a.Key) {
			f.Values[a.Key] = "on"
		}
	}
	return f
}

// AllowFields is the list the Settings template ranges over.
func (p *composePage) AllowFields() any { return allowFields }

// DiffClass is the class of a diff line.
func (p *composePage) DiffClass(op string) string {
	switch op {
	case "+":
		return "add"
	case "-":
		return "del"
	}
	return "ctx"
}

// showComposeTab serves one tab of the :id stack.
func (h *Handler) showComposeTab(c echo.Context, tab string) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	p, err := h.loadComposePage(c, s, tab)
	if err != nil {
		return err
	}
	return h.renderCompose(c, http.StatusOK, p)
}

func (h *Handler) renderCompose(c echo.Context, status int, p *composePage) error {
	return h.renderService(c, status, "compose", "compose_body", p.Stack.DisplayName, p)
}

// loadCompose loads the stack named by the :id path parameter.
func (h *Handler) loadCompose(c echo.Context) (*db.ComposeStack, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	return h.Store.Compose(c.Request().Context(), id)
}

// ShowComposePage is the Services tab: the live state of every service.
func (h *Handler) ShowComposePage(c echo.Context) error { return h.showComposeTab(c, "services") }

// ShowComposeFile is the Compose file tab: the source, the deployed file
// and its changes.
func (h *Handler) ShowComposeFile(c echo.Context) error { return h.showComposeTab(c, "file") }

// ShowComposeEnvironment is the Environment tab: the env, masked.
func (h *Handler) ShowComposeEnvironment(c echo.Context) error {
	return h.showComposeTab(c, "environment")
}

// ShowComposeLogs is the Logs tab: any service's runtime logs, filtered.
func (h *Handler) ShowComposeLogs(c echo.Context) error { return h.showComposeTab(c, "logs") }

// ShowComposeMonitoring is the Monitoring tab: the stack's metrics charts.
func (h *Handler) ShowComposeMonitoring(c echo.Context) error {
	return h.showComposeTab(c, "monitoring")
}

// ShowComposeDomains is the Domains tab.
func (h *Handler) ShowComposeDomains(c echo.Context) error { return h.showComposeTab(c, "domains") }

// ShowComposeDeployments is the Deployments tab: the history, rollbacks
// and the webhook.
func (h *Handler) ShowComposeDeployments(c echo.Context) error {
	return h.showComposeTab(c, "deployments")
}

// ShowComposeSettings is the Settings tab: name, security, danger zone.
func (h *Handler) ShowComposeSettings(c echo.Context) error { return h.showComposeTab(c, "settings") }

// ShowComposeHeader is the header partial the page polls while an
// operation is pending.
func (h *Handler) ShowComposeHeader(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	f, _, _, err := h.composeFrame(c, s)
	if err != nil {
		return err
	}
	return h.answerHeaderPoll(c, f)
}

// ShowComposeServices is the services table the Services tab polls.
func (h *Handler) ShowComposeServices(c echo.Context) error {
	s, err := h.loadCompose(c)
	if err != nil {
		return err
	}
	svc := h.stackServices(c.Request().Context(), s)
	history, err := h.Store.Deployments(c.Request().Context(), s.ID, 30)
	if err != nil {
		return err
	}
	svc.Pending = pendingOperation(history)
	return h.Partial(c, http.StatusOK, "compose_services", svc)
}

// ---- project page -----------------------------------------------------

// composeRow is a stack as the project page lists it, with its live state.
type composeRow struct {
	db.ComposeStack
	State    stateBadge
	Services string // "2/2 running"
}

func (h *Handler) composeRow(ctx context.Context, s db.ComposeStack) composeRow {
	items, err := h.Runner.StackServices(ctx, s.Name)
	live := stackLive(items, err)
	row := composeRow{ComposeStack: s, State: liveState(web.ServiceStatus(s.Status, live))}
	if len(items) > 0 {
		row.Services = fmt.Sprintf("%d/%d running", live.Running, live.Desired)
	}
	return row
}

func newComposeForm() *views.Form {
	f := views.NewForm()
	f.Values["source_type"] = db.ComposeInline
	f.Values["git_branch"] = "main"
	return f
}

// CreateCompose is the project page's "New compose stack" form: it stores
// the stack, queues its first deploy and opens its page. A refused form
// comes back with everything typed, the pasted file above all.
func (h *Handler) CreateCompose(c echo.Context) error {
	projectID, err := web.IDParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := views.NewForm()
	text := func(k string) string {
		v := strings.TrimSpace(c.FormValue(k))
		form.Values[k] = v
		return v
	}
	envID, _ := strconv.ParseInt(text("environment_id"), 10, 64)
	s := ops.NewCompose(0)
	s.DisplayName = text("display_name")
	s.Name = text("name")
	if s.Name == "" {
		s.Name = ops.SuggestServiceName(s.DisplayName, "stack-")
	}
	if st := text("source_type"); st != "" {
		s.SourceType = st
	}
	s.GitURL, s.ComposePath = text("git_url"), text("compose_path")
	if b := text("git_branch"); b != "" {
		s.GitBranch = b
	}
	s.ComposeFile = c.FormValue("compose_file") // as typed: YAML cares about every space
	form.Values["compose_file"] = s.ComposeFile
	if s.InjectEnv = c.FormValue("inject_env") == "on"; s.InjectEnv {
		form.Values["inject_env"] = "on"
	}
	if env, err := h.Store.Environment(ctx, envID); err != nil || env.ProjectID != projectID {
		form.Errors["environment_id"] = "choose an environment of this project"
	} else {
		s.EnvironmentID = env.ID
	}
	var x ops.ComposeExtras
	if tok := c.FormValue("git_token"); tok != "" && s.SourceType == db.ComposeGit {
		x.GitToken = &tok
	}
	if form.Valid() {
		_, err := h.Ops.CreateCompose(ctx, s, x)
		if err == nil {
			if _, err := h.Ops.DeployCompose(ctx, s, "user", web.CurrentUser(c).Email); err != nil {
				return err
			}
			return web.Redirect(c, fmt.Sprintf("/compose/%d", s.ID))
		}
		if !formErrors(form, err) {
			return err
		}
		// A bad stack name also fails the file's load; say it once, at the name.
		if form.Errors["name"] != "" && strings.HasPrefix(form.Errors["compose_file"], "stack name ") {
			delete(form.Errors, "compose_file")
		}
	}
	if form.Values["name"] == "" && form.Errors["name"] != "" && s.Name != "" {
		form.Values["name"] = s.Name // show the suggestion that was refused
	}
	return h.renderProject(c, projectID, http.StatusUnprocessableEntity, func(p *projectPage) { p.ComposeForm = form })
}

// StreamComposeLogs follows one compose service's output over SSE
// (?service=web), with the filters of streamServiceLogs.
func (h *Handler) StreamComposeLogs(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	f, err := ops.ParseLogFilter(c.QueryParam, time.Now())
	if err != nil {
		return err
	}
	name, _, err := h.Ops.LogTarget(c.Request().Context(), db.KindCompose, id, f)
	if err != nil {
		return err
	}
	return h.streamServiceLogs(c, name)
}
