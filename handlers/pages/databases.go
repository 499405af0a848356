package pages

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/engines"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// Tabs of a database's page.
var databaseTabs = []serviceTab{
	{"general", "General"}, {"environment", "Environment"}, {"operations", "Operations"},
	{"backups", "Backups"}, {"logs", "Logs"}, {"monitoring", "Monitoring"}, {"advanced", "Advanced"},
}

// databasePage is the data of a database's page: the shared frame and
// what the active tab shows. Secrets are only in it once revealed.
type databasePage struct {
	Frame  *serviceFrame
	DB     *db.Database
	Engine engines.Engine
	Tab    string
	CSRF   string
	Volume string

	// General
	InternalURL  string
	ExternalURL  string // "" when no port is published
	Revealed     bool
	Apps         []db.App // of the same project, for "Use in app…"
	LinkForm     *views.Form
	Linked       *db.App
	PasswordForm *views.Form

	// Environment
	EnvForm  *envInput // names only; values never sent unless just typed
	EnvError string

	// Operations
	Operations []db.Deployment

	// Backups
	Backups *backupsTab

	// Advanced
	Form    *views.Form
	Warning string // major version change of the submitted image

	Queued *db.Deployment // what a save queued, for "… queued, view its log"
	Notice string
}

// databaseFrame builds the header of d's page from Swarm's live state and
// the operations history, which it returns too.
func (h *Handler) databaseFrame(c echo.Context, d *db.Database) (*serviceFrame, []db.Deployment, error) {
	ctx := c.Request().Context()
	history, err := h.Store.Deployments(ctx, d.ID, 30)
	if err != nil {
		return nil, nil, err
	}
	e, _ := engines.Lookup(d.Engine)
	live := h.Runner.Live(ctx, d.Name)
	status := web.ServiceStatus(d.Status, live)
	f := &serviceFrame{
		Base: fmt.Sprintf("/databases/%d", d.ID), Name: d.Name, Kind: e.Label,
		BackURL: fmt.Sprintf("/projects/%d", d.ProjectID), BackLabel: d.ProjectName + " / " + d.EnvironmentName,
		Subtitle: d.Image, State: liveState(status), Message: live.Message,
		Busy: pendingOperation(history), Tabs: databaseTabs,
	}
	if f.Busy != nil {
		f.State, f.Message = busyState(f.Busy), ""
	} else if status == db.AppError {
		// The last deploy failed and nothing serves: say why.
		for _, op := range history {
			if op.Status == db.DeployError {
				f.Message = op.Error
				break
			}
		}
	}
	f.Actions = permittedActions(c, d.ProjectID, databaseActions(f, live.State))
	return f, history, nil
}

// databaseActions are the header's buttons; the ones that conflict with
// a pending operation or the current state are disabled.
func databaseActions(f *serviceFrame, state string) []serviceAction {
	busy := f.Busy != nil
	wait := ""
	if busy {
		wait = "Wait for the current operation to finish (or cancel it from its log)"
	}
	notDeployed := state == "not deployed"
	stopped := state == "stopped"
	off := func(cond bool, why string) (bool, string) {
		if busy {
			return true, wait
		}
		if cond {
			return true, why
		}
		return false, ""
	}
	start := serviceAction{Label: "Start", Path: f.Base + "/start", Class: "secondary"}
	start.Disabled, start.Title = off(!stopped && state != "unknown", "The database is not stopped")
	stop := serviceAction{Label: "Stop", Path: f.Base + "/stop", Class: "secondary", Confirm: "Stop " + f.Name + "? Apps using it lose their connection; the data stays."}
	stop.Disabled, stop.Title = off(stopped || notDeployed, "The database is not running")
	restart := serviceAction{Label: "Restart", Path: f.Base + "/restart", Class: "secondary"}
	restart.Disabled, restart.Title = off(stopped || notDeployed, "The database is not running")
	deploy := serviceAction{Label: "Deploy", Path: f.Base + "/deploy", Title: "Apply the saved settings: pull the image and update the service"}
	deploy.Disabled, deploy.Title = off(false, deploy.Title)
	// Delete stays available: it cancels what is pending first.
	del := serviceAction{Label: "Delete", Dialog: "service-delete", Class: "danger"}
	return []serviceAction{deploy, start, stop, restart, del}
}

// loadDatabasePage fills the frame and the data of tab.
func (h *Handler) loadDatabasePage(c echo.Context, d *db.Database, tab string) (*databasePage, error) {
	ctx := c.Request().Context()
	f, history, err := h.databaseFrame(c, d)
	if err != nil {
		return nil, err
	}
	f.Tab = tab
	e, _ := engines.Lookup(d.Engine)
	p := &databasePage{Frame: f, DB: d, Engine: e, Tab: tab, CSRF: web.CSRF(c), Volume: engines.VolumeName(d.Name)}
	switch tab {
	case "general":
		if err := h.fillConnection(c, p, ""); err != nil {
			return nil, err
		}
		if p.Apps, err = h.Store.AppsInProject(ctx, d.ProjectID); err != nil {
			return nil, err
		}
		p.LinkForm, p.PasswordForm = views.NewForm(), views.NewForm()
		p.LinkForm.Values["key"] = "DATABASE_URL"
	case "environment":
		if p.EnvForm, err = h.storedEnvForm(ctx, d.ID); err != nil {
			return nil, err
		}
	case "operations":
		p.Operations = history
	case "backups":
		if p.Backups, err = h.loadBackupsTab(c, databaseService(d), f); err != nil {
			return nil, err
		}
	case "advanced":
		port, err := h.externalPort(c, d)
		if err != nil {
			return nil, err
		}
		p.Form = databaseToForm(d, port)
	}
	return p, nil
}

// fillConnection sets the connection URLs, masked unless password is given.
func (h *Handler) fillConnection(c echo.Context, p *databasePage, password string) error {
	port, err := h.externalPort(c, p.DB)
	if err != nil {
		return err
	}
	mask := password == ""
	if mask {
		password = "hidden" // any non-empty value: the URL shows asterisks
	}
	p.Revealed = !mask
	p.InternalURL = engines.InternalURL(p.DB, password, mask)
	if port > 0 {
		p.ExternalURL = engines.URL(p.DB, password, h.publicHost(c), port, mask)
	}
	return nil
}

// externalPort is the published host port of d, 0 when none.
func (h *Handler) externalPort(c echo.Context, d *db.Database) (int, error) {
	ports, err := h.Store.AppPorts(c.Request().Context(), d.ID)
	if err != nil || len(ports) == 0 {
		return 0, err
	}
	return ports[0].Published, nil
}

// publicHost is the host name users reach this server by: the request's
// Host header, else the public URL's.
func (h *Handler) publicHost(c echo.Context) string {
	host := c.Request().Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	if host == "" {
		if u, err := url.Parse(h.PublicURL); err == nil {
			host = u.Hostname()
		}
	}
	return host
}

func databaseToForm(d *db.Database, externalPort int) *views.Form {
	f := views.NewForm()
	v := f.Values
	v["image"], v["registry_server"], v["registry_username"] = d.Image, d.RegistryServer, d.RegistryUsername
	v["memory_limit_mb"] = strconv.Itoa(d.MemoryLimitMB)
	v["cpu_limit"] = strconv.FormatFloat(d.CPULimit, 'f', -1, 64)
	v["args"] = strings.Join(d.Args, "\n")
	v["redis_persistence"] = d.RedisPersistence
	v["placement_constraints"] = strings.Join(d.PlacementConstraints, "\n")
	v["max_replicas_per_node"] = strconv.Itoa(d.MaxReplicasPerNode)
	if externalPort > 0 {
		v["external_port"] = strconv.Itoa(externalPort)
	}
	if d.HasRegistryPassword() {
		v["has_registry_password"] = "yes"
	}
	return f
}

// showDatabaseTab serves one tab of the :id database.
func (h *Handler) showDatabaseTab(c echo.Context, tab string) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	p, err := h.loadDatabasePage(c, d, tab)
	if err != nil {
		return err
	}
	return h.renderDatabase(c, http.StatusOK, p)
}

func (h *Handler) renderDatabase(c echo.Context, status int, p *databasePage) error {
	return h.renderService(c, status, "database", "database_body", p.DB.Name, p)
}

// ShowDatabasePage is the General tab: connection, "use in app", password.
func (h *Handler) ShowDatabasePage(c echo.Context) error { return h.showDatabaseTab(c, "general") }

// ShowDatabaseEnvironment is the Environment tab: the extra env, masked.
func (h *Handler) ShowDatabaseEnvironment(c echo.Context) error {
	return h.showDatabaseTab(c, "environment")
}

// ShowDatabaseOperations is the Operations tab: the history with its logs.
func (h *Handler) ShowDatabaseOperations(c echo.Context) error {
	return h.showDatabaseTab(c, "operations")
}

// ShowDatabaseLogs is the Logs tab; its box follows StreamDatabaseLogs.
func (h *Handler) ShowDatabaseLogs(c echo.Context) error { return h.showDatabaseTab(c, "logs") }

// ShowDatabaseMonitoring is the Monitoring tab: the metrics charts.
func (h *Handler) ShowDatabaseMonitoring(c echo.Context) error {
	return h.showDatabaseTab(c, "monitoring")
}

// ShowDatabaseAdvanced is the Advanced tab: image, registry, limits, arguments, port.
func (h *Handler) ShowDatabaseAdvanced(c echo.Context) error { return h.showDatabaseTab(c, "advanced") }

// ShowDatabaseHeader is the header partial the page polls while an
// operation is pending.
func (h *Handler) ShowDatabaseHeader(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	f, _, err := h.databaseFrame(c, d)
	if err != nil {
		return err
	}
	return h.answerHeaderPoll(c, f)
}

// StreamDatabaseLogs follows the database's container output over SSE.
func (h *Handler) StreamDatabaseLogs(c echo.Context) error {
	d, err := h.LoadDatabase(c)
	if err != nil {
		return err
	}
	return h.streamServiceLogs(c, d.Name)
}

// CreateDatabase is the project page's "New database" form.
func (h *Handler) CreateDatabase(c echo.Context) error {
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
	engine := text("engine")
	name := text("name")
	if name == "" {
		name = h.suggestDatabaseName(c, engine)
	}
	d := ops.NewDatabase(0, engine, name)
	if image := text("image"); image != "" {
		d.Image = image
	}
	d.DatabaseName, d.Username = text("database"), text("user")
	if env, err := h.Store.Environment(ctx, envID); err != nil || env.ProjectID != projectID {
		form.Errors["environment_id"] = "choose an environment of this project"
	} else {
		d.EnvironmentID = env.ID
	}
	var x ops.DatabaseExtras
	if v := text("external_port"); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil {
			form.Errors["external_port"] = "must be a whole number"
		}
		x.ExternalPort = &port
	}
	if form.Valid() {
		_, err := h.Ops.CreateDatabase(ctx, d, x, web.CurrentUser(c).Email)
		if err == nil {
			return web.Redirect(c, fmt.Sprintf("/databases/%d", d.ID))
		}
		if !formErrors(form, err) {
			return err
		}
	}
	return h.renderProject(c, projectID, http.StatusUnprocessableEntity, func(p *projectPage) { p.DBForm = form })
}

// suggestDatabaseName names a database after its engine when the user
// left the name empty: postgres, then postgres-2, … whichever is free.
func (h *Handler) suggestDatabaseName(c echo.Context, engine string) string {
	if _, ok := engines.Lookup(engine); !ok {
		return ""
	}
	for i := 1; i <= 20; i++ {
		name := engine
		if i > 1 {
			name = fmt.Sprintf("%s-%d", engine, i)
		}
		if _, err := h.Store.ServiceByName(c.Request().Context(), name); err != nil {
			return name
		}
	}
	return engine
}
