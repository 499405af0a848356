package pages

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs"
	"dokploy/views"
)

// Tabs of an app's page; the first is the page itself.
var appTabs = []serviceTab{
	{"general", "General"}, {"environment", "Environment"}, {"domains", "Domains"},
	{"deployments", "Deployments"}, {"logs", "Logs"}, {"monitoring", "Monitoring"}, {"advanced", "Advanced"},
}

// appFrame builds the header of a's page from Swarm's live state and the
// deployment history, which it returns too with the live state.
func (h *Handler) appFrame(c echo.Context, a *db.App) (*serviceFrame, []db.Deployment, jobs.Live, error) {
	ctx := c.Request().Context()
	history, err := h.Store.DeploymentHistory(ctx, a.ID, appHistory)
	if err != nil {
		return nil, nil, jobs.Live{}, err
	}
	live := h.Runner.Live(ctx, a.AppName)
	status := web.ServiceStatus(a.Status, live)
	if status == "queued" {
		status = live.State // an app is created idle: "not deployed", not queued
	}
	sub := "image " + a.Image
	if a.SourceType == db.SourceGit {
		sub = a.GitURL + " @ " + a.GitBranch
	}
	f := &serviceFrame{
		Base: fmt.Sprintf("/apps/%d", a.ID), Name: a.Name, Kind: "Application",
		BackURL: fmt.Sprintf("/projects/%d", a.ProjectID), BackLabel: a.ProjectName + " / " + a.EnvironmentName,
		Subtitle: sub, State: liveState(status), Message: live.Message,
		Busy: pendingOperation(history), Tabs: appTabs,
	}
	if f.Busy != nil {
		f.State, f.Message = busyState(f.Busy), ""
	} else if status == db.AppError {
		for _, d := range history {
			if d.Status == db.DeployError {
				f.Message = d.Error
				break
			}
		}
	}
	f.Actions = permittedActions(c, a.ProjectID, appActions(f, a, live.State))
	return f, history, live, nil
}

// appActions are the header's buttons. Stop, Start and Restart act on
// Swarm at once and the header then follows the state until it is real;
// a deploy queues and the header shows it until it is done.
func appActions(f *serviceFrame, a *db.App, state string) []serviceAction {
	busy := f.Busy != nil
	off := func(cond bool, why string) (bool, string) {
		if busy {
			return true, "Wait for the current deployment to finish (or cancel it from its log)"
		}
		if cond {
			return true, why
		}
		return false, ""
	}
	notDeployed, stopped := state == "not deployed", state == "stopped"
	changing := state == "stopping" || state == "starting" || state == "updating"
	deploy := serviceAction{Label: "Deploy", Path: f.Base + "/deploy", Title: "Build (or pull) and roll out the saved settings"}
	if busy {
		deploy.Title = "A deploy requested now waits for the current one; several waiting collapse into the newest"
	}
	start := serviceAction{Label: "Start", Path: f.Base + "/start", Class: "secondary"}
	start.Disabled, start.Title = off(!stopped, "The app is not stopped")
	stop := serviceAction{Label: "Stop", Path: f.Base + "/stop", Class: "secondary",
		Confirm: "Stop " + a.Name + "? It scales to zero replicas; settings, domains and volumes stay."}
	stop.Disabled, stop.Title = off(stopped || notDeployed || state == "stopping", "The app is not running")
	restart := serviceAction{Label: "Restart", Path: f.Base + "/restart", Class: "secondary", Title: "Replace the running tasks without a rebuild"}
	if d, why := off(stopped || notDeployed || changing, "The app is not running, or is changing already"); d {
		restart.Disabled, restart.Title = d, why
	}
	terminal := serviceAction{Label: "Terminal", Href: "/services/app/" + fmt.Sprint(a.ID) + "/terminal", Class: "secondary terminal-link"}
	if stopped || notDeployed {
		terminal.Disabled, terminal.Title = true, "No task runs to open a shell in"
	}
	// Delete stays available: it removes the service whatever its state.
	del := serviceAction{Label: "Delete", Dialog: "service-delete", Class: "danger"}
	return []serviceAction{deploy, start, stop, restart, terminal, del}
}

// appPage is the data of an application's page: the shared frame and
// what the active tab shows. Env values are never in it.
type appPage struct {
	Frame *serviceFrame
	App   *db.App
	Tab   string
	CSRF  string
	Live  jobs.Live

	// General: name, source and resources (Form, Saved).
	Form  *views.Form
	Saved string

	// Environment
	EnvForm  *envInput // names only; values never sent unless just typed
	EnvError string

	// Domains
	Domains *domainsPanel

	// Deployments
	Deployments []db.Deployment
	CurrentID   int64 // the deployment whose image is in service
	Webhooks    *webhookPanel

	// Advanced: health check (Form, Saved), ports, volumes, access rules.
	PortRows    []portRow
	PortsError  string
	Volumes     []db.AppVolume
	VolumeError string
	Access      *accessPanel

	DeleteError string
}

// appHistory is how many deployments the app page lists.
const appHistory = 20

// loadAppPage fills the frame (Swarm's state, the history) and the data
// of tab: what a whole tab shows.
func (h *Handler) loadAppPage(c echo.Context, a *db.App, tab string) (*appPage, error) {
	f, history, live, err := h.appFrame(c, a)
	if err != nil {
		return nil, err
	}
	f.Tab = tab
	p, err := h.loadAppTab(c, a, tab, history)
	if err != nil {
		return nil, err
	}
	p.Frame, p.Live = f, live
	return p, nil
}

// loadAppTab fills only the data of tab's panels. A panel's form answers
// with its panel alone, so it needs neither Docker nor the header; history
// is the deployment history when the caller has it already.
func (h *Handler) loadAppTab(c echo.Context, a *db.App, tab string, history []db.Deployment) (*appPage, error) {
	ctx := c.Request().Context()
	var err error
	p := &appPage{App: a, Tab: tab, CSRF: web.CSRF(c), Form: appToForm(a)}
	switch tab {
	case "environment":
		// Keys only: values stay masked, revealed one at a time on
		// request, so showing the tab decrypts nothing.
		if p.EnvForm, err = h.storedEnvForm(ctx, a.ID); err != nil {
			return nil, err
		}
	case "domains":
		if p.Domains, err = h.loadDomainsPanel(c, a); err != nil {
			return nil, err
		}
	case "deployments":
		if history == nil {
			if history, err = h.Store.DeploymentHistory(ctx, a.ID, appHistory); err != nil {
				return nil, err
			}
		}
		p.Deployments, p.CurrentID = history, currentDeployment(history, a.CurrentImage)
		// The webhook URL deploys: only those who may deploy see it.
		if web.Access(c).Level(a.ProjectID) >= db.LevelDeploy {
			if p.Webhooks, err = h.loadWebhookPanel(c, a); err != nil {
				return nil, err
			}
		}
	case "advanced":
		ports, err := h.Store.AppPorts(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		p.PortRows = storedPorts(ports)
		if p.Volumes, err = h.Store.AppVolumes(ctx, a.ID); err != nil {
			return nil, err
		}
		if p.Access, err = h.loadAccessPanel(c, a); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// currentDeployment is the newest finished deployment of the image in
// service: one row is "current", even when a rollback put an older
// deployment's image back.
func currentDeployment(history []db.Deployment, image string) int64 {
	if image == "" {
		return 0
	}
	for _, d := range history {
		if d.Status == db.DeployDone && d.Image == image && (d.Action == "" || d.Action == db.ActionDeploy) {
			return d.ID
		}
	}
	return 0
}

func (h *Handler) showAppTab(c echo.Context, tab string) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	p, err := h.loadAppPage(c, a, tab)
	if err != nil {
		return err
	}
	return h.renderApp(c, http.StatusOK, p)
}

func (h *Handler) renderApp(c echo.Context, status int, p *appPage) error {
	return h.renderService(c, status, "app", "app_body", p.App.Name, p)
}

// ShowAppPage is the General tab: the live overview, name, source and
// resources, the deploy key.
func (h *Handler) ShowAppPage(c echo.Context) error { return h.showAppTab(c, "general") }

// ShowAppEnvironment is the Environment tab: variable names, values masked.
func (h *Handler) ShowAppEnvironment(c echo.Context) error { return h.showAppTab(c, "environment") }

// ShowAppDomains is the Domains tab.
func (h *Handler) ShowAppDomains(c echo.Context) error { return h.showAppTab(c, "domains") }

// ShowAppDeployments is the Deployments tab: history, rollback, redeploy on push.
func (h *Handler) ShowAppDeployments(c echo.Context) error { return h.showAppTab(c, "deployments") }

// ShowAppLogs is the Logs tab; its box follows StreamRuntimeLogs.
func (h *Handler) ShowAppLogs(c echo.Context) error { return h.showAppTab(c, "logs") }

// ShowAppMonitoring is the Monitoring tab: the metrics charts.
func (h *Handler) ShowAppMonitoring(c echo.Context) error { return h.showAppTab(c, "monitoring") }

// ShowAppAdvanced is the Advanced tab: health check, ports, volumes and
// their backups, access rules.
func (h *Handler) ShowAppAdvanced(c echo.Context) error { return h.showAppTab(c, "advanced") }

// ShowAppHeader is the header the page polls: every 2 s while something
// is on its way, every 10 s otherwise, so a replica that dies shows.
func (h *Handler) ShowAppHeader(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	f, _, _, err := h.appFrame(c, a)
	if err != nil {
		return err
	}
	return h.answerHeaderPoll(c, f)
}

// HistoryPoll is how often the Deployments tab refreshes its history:
// every 2 s while a listed deployment is queued or running, so its
// progress shows, and every 10 s otherwise (a webhook's deployment appears
// within 10 s), which keeps a hundred open idle pages cheap.
func (p *appPage) HistoryPoll() string {
	for _, d := range p.Deployments {
		if d.Status == db.DeployQueued || d.Status == db.DeployRunning {
			return "2s"
		}
	}
	return "10s"
}

// ShowAppDeploymentsTable is the history the Deployments tab polls (see
// HistoryPoll). It reads only what the table shows (the app row and its recent
// deployments, both by index), never variables or Docker: a hundred open
// pages must stay cheap.
func (h *Handler) ShowAppDeploymentsTable(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	a, err := h.Store.AppSummary(c.Request().Context(), id)
	if err != nil {
		return err
	}
	deps, err := h.Store.DeploymentHistory(c.Request().Context(), a.ID, appHistory)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "app_deployments", &appPage{App: a, Deployments: deps,
		CurrentID: currentDeployment(deps, a.CurrentImage), CSRF: web.CSRF(c)})
}
