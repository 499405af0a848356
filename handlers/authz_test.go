package handlers

import (
	"slices"

	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// Every route the router serves has an authorization rule in the route
// table: one registered around routeGroup fails here, so a route added
// later cannot be left open by accident.
func TestAuthorization_EveryRouteHasARule(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	e, ok := a.h.Router().(*echo.Echo)
	if !ok {
		t.Fatal("Router is not an *echo.Echo")
	}
	n := 0
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		n++
		need, ok := a.h.rules[r.Method+" "+r.Path]
		if !ok {
			t.Errorf("%s %s has no authorization rule: register it with a rule in routes.go", r.Method, r.Path)
		}
		// A route that names something by id is scoped to its project,
		// unless it names the caller's own things.
		if need == signedIn && strings.Contains(r.Path, ":") && !ownThings[r.Path] {
			t.Errorf("%s %s names a resource but only needs a signed-in user: give it a project rule", r.Method, r.Path)
		}
	}
	if n < 250 {
		t.Fatalf("walked %d routes; the router serves far more", n)
	}
}

// ownThings are the routes with an id that act on the caller's own
// sessions and tokens (or, for owners and admins, anyone's tokens).
var ownThings = map[string]bool{
	"/settings/tokens/:id/revoke":   true,
	"/settings/sessions/:id/revoke": true,
	"/api/v1/tokens/:id":            true,
}

// team is two projects, an owner, a member granted deploy on A only and a
// viewer granted view on A, each signed in, with an API token of their own.
type team struct {
	a              *testApp
	owner          *browser
	member, viewer *browser
	memberID       int64
	memberToken    string
	readToken      string // the member's, read scope
	projA, projB   *db.Project
	appA, appB     *db.App
	ids            map[db.Resource]int64 // project B's resources
}

func newTeam(t *testing.T) *team {
	t.Helper()
	a := newTestApp(t)
	tm := &team{a: a, owner: a.setupAdmin(), ids: map[db.Resource]int64{}}
	ctx := context.Background()
	tm.projA, tm.projB = a.createProject("alpha"), a.createProject("bravo")
	tm.appA, tm.appB = a.createImageApp(tm.projA, "web-a"), a.createImageApp(tm.projB, "web-b")

	tm.memberID = a.createTeamUser("member@example.com", db.RoleMember)
	viewerID := a.createTeamUser("viewer@example.com", db.RoleViewer)
	if err := a.store.SetProjectMember(ctx, tm.projA.ID, tm.memberID, db.LevelDeploy); err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetProjectMember(ctx, tm.projA.ID, viewerID, db.LevelView); err != nil {
		t.Fatal(err)
	}
	tm.member = a.login("member@example.com", adminPassword)
	tm.viewer = a.login("viewer@example.com", adminPassword)
	var err error
	if _, tm.memberToken, err = a.store.CreateAPIToken(ctx, tm.memberID, "member", db.TokenLimits{Scope: db.ScopeManage}); err != nil {
		t.Fatal(err)
	}
	if _, tm.readToken, err = a.store.CreateAPIToken(ctx, tm.memberID, "member-read", db.TokenLimits{Scope: db.ScopeRead}); err != nil {
		t.Fatal(err)
	}

	// One of each kind of resource in project B, for the routes to name.
	dep, err := a.store.CreateDeployment(ctx, tm.appB.ID, "manual", "test")
	if err != nil {
		t.Fatal(err)
	}
	dom := &db.Domain{ServiceID: &tm.appB.ID, Host: "b.example.com", Path: "/", InternalPath: "/", Port: 80, Certificate: "none", Enabled: true}
	if err := a.store.CreateDomain(ctx, dom); err != nil {
		t.Fatal(err)
	}
	dest := a.createDestination("b-dest")
	conn := a.store.DB()
	var backupID, runID int64
	if err := conn.Get(&backupID, `INSERT INTO backups (service_id, destination_id) VALUES ($1, $2) RETURNING id`, tm.appB.ID, dest.ID); err != nil {
		t.Fatal(err)
	}
	if err := conn.Get(&runID, `INSERT INTO backup_runs (backup_id, service_id, destination_id, deployment_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		backupID, tm.appB.ID, dest.ID, dep.ID); err != nil {
		t.Fatal(err)
	}
	tm.ids[db.ResProject] = tm.projB.ID
	tm.ids[db.ResEnvironment] = tm.projB.Environments[0].ID
	tm.ids[db.ResService] = tm.appB.ID
	tm.ids[db.ResDeployment] = dep.ID
	tm.ids[db.ResDomain] = dom.ID
	tm.ids[db.ResBackup] = backupID
	tm.ids[db.ResBackupRun] = runID
	return tm
}

// createTeamUser stores a user with the test password and a role.
func (a *testApp) createTeamUser(email string, role db.Role) int64 {
	a.t.Helper()
	hash, err := db.HashPassword(adminPassword)
	if err != nil {
		a.t.Fatal(err)
	}
	u, err := a.store.CreateUser(context.Background(), email, hash, role)
	if err != nil {
		a.t.Fatal(err)
	}
	return u.ID
}

// tokenFor makes a manage-scoped API token for a user.
func (a *testApp) tokenFor(userID int64) string {
	a.t.Helper()
	_, token, err := a.store.CreateAPIToken(context.Background(), userID, fmt.Sprint("t", userID), db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		a.t.Fatal(err)
	}
	return token
}

var pathParam = regexp.MustCompile(`:[a-z_]+`)

// pathFor fills a route's parameters: :id with the resource of project B
// its rule names, the other ids with that too (a nested id of B, or one
// the handler never reaches), :kind with a real kind.
func (tm *team) pathFor(path string, r rule) string {
	id := tm.ids[r.res]
	return pathParam.ReplaceAllStringFunc(path, func(p string) string {
		if p == ":kind" {
			return "app"
		}
		return fmt.Sprint(id)
	})
}

// A member granted deploy on project A gets 404 from every route of
// project B — UI and API, generated from the route table — and 403 from
// every owner/admin route; the API lists show A only.
func TestAuthorization_MemberCannotReachAnotherProject(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	walked := 0
	for key, r := range tm.a.h.rules {
		method, path, _ := strings.Cut(key, " ")
		if r.public || r.res == "" && !r.admin {
			continue
		}
		want := http.StatusNotFound
		if r.admin {
			want = http.StatusForbidden
		}
		target := tm.pathFor(path, r)
		var res *response
		if strings.HasPrefix(path, "/api/v1/") {
			res, _ = tm.a.apiJSON(method, target, tm.memberToken, map[string]any{})
		} else if method == http.MethodGet {
			res = tm.member.get(target)
		} else {
			res = tm.member.postHTMX(target, url.Values{})
		}
		walked++
		if res.Code != want {
			t.Errorf("member: %s %s (%s): want %d, got %d: %.200s", method, target, r, want, res.Code, res.Body)
		}
		if strings.Contains(res.Body, "web-b") || strings.Contains(res.Body, "bravo") {
			t.Errorf("member: %s %s shows project B's data: %.300s", method, target, res.Body)
		}
	}
	if walked < 200 {
		t.Fatalf("walked %d routes", walked)
	}

	// Lists: the dashboard and the API show project A only.
	dash := tm.member.get("/")
	wantStatus(t, dash, http.StatusOK)
	if body := uiText(t, dash); !strings.Contains(body, "alpha") || strings.Contains(body, "bravo") || strings.Contains(body, "Create project") {
		t.Errorf("member's dashboard: want alpha only and no Create project: %s", body)
	}
	for _, list := range []string{"/api/v1/projects", "/api/v1/applications", "/api/v1/databases", "/api/v1/compose"} {
		res, _ := tm.a.apiJSON(http.MethodGet, list, tm.memberToken, nil)
		wantStatus(t, res, http.StatusOK)
		if strings.Contains(res.Body, "bravo") || strings.Contains(res.Body, "web-b") {
			t.Errorf("member: %s lists project B: %s", list, res.Body)
		}
	}
	res, body := tm.a.apiJSON(http.MethodGet, "/api/v1/applications", tm.memberToken, nil)
	if items, _ := body["items"].([]any); len(items) != 1 || !strings.Contains(res.Body, "web-a") {
		t.Errorf("member: applications: want web-a only, got %s", res.Body)
	}
	// Creating in B through the API body answers like a missing project.
	res, _ = tm.a.apiJSON(http.MethodPost, "/api/v1/applications", tm.memberToken, map[string]any{
		"project_id": tm.projB.ID, "name": "sneaky"})
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "has no environment") {
		t.Errorf("member: create an app in B: want 422 like a missing project, got %d %s", res.Code, res.Body)
	}
}

// In project A the member deploys but cannot change settings or secrets;
// the viewer reads but cannot deploy; a read-scoped token cannot deploy;
// neither can change server settings or users.
func TestAuthorization_LevelsInAGrantedProject(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	app := fmt.Sprintf("/api/v1/applications/%d", tm.appA.ID)

	wantStatus(t, tm.member.get(fmt.Sprintf("/apps/%d", tm.appA.ID)), http.StatusOK)
	// The project page offers the member no form they could not use.
	page := tm.member.get(fmt.Sprintf("/projects/%d", tm.projA.ID))
	wantStatus(t, page, http.StatusOK)
	if d := page.doc(t); d.Find("#new-app").Length() != 0 || d.Find(`form[hx-post$="/delete"]`).Length() != 0 || !strings.Contains(d.Find(".page-head").Text(), "deploy access") {
		t.Errorf("member's project page offers forms or hides their level: %s", uiText(t, page))
	}
	if d := tm.owner.get(fmt.Sprintf("/projects/%d", tm.projA.ID)).doc(t); d.Find("#new-app").Length() != 1 {
		t.Error("owner's project page lacks the New application form")
	}
	res, _ := tm.a.apiJSON(http.MethodPost, app+"/deploy", tm.memberToken, nil)
	if res.Code != http.StatusAccepted && res.Code != http.StatusOK && res.Code != http.StatusCreated {
		t.Errorf("member with deploy: deploy in A: got %d %s", res.Code, res.Body)
	}
	res, _ = tm.a.apiJSON(http.MethodPatch, app, tm.memberToken, map[string]any{"replicas": 3})
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "You have deploy access to this project; this needs manage") {
		t.Errorf("member with deploy: change A's settings: want 403 saying why, got %d %s", res.Code, res.Body)
	}
	wantStatus(t, tm.member.postHTMX(fmt.Sprintf("/apps/%d/env/reveal", tm.appA.ID), nil), http.StatusForbidden)

	// The viewer reads A and deploys nothing.
	wantStatus(t, tm.viewer.get(fmt.Sprintf("/apps/%d", tm.appA.ID)), http.StatusOK)
	wantStatus(t, tm.viewer.postHTMX(fmt.Sprintf("/apps/%d/deploy", tm.appA.ID), nil), http.StatusForbidden)
	wantStatus(t, tm.viewer.postHTMX(fmt.Sprintf("/apps/%d/deploy", tm.appB.ID), nil), http.StatusNotFound)

	// The header offers each their buttons: the viewer none, the member
	// deploy-level ones (no terminal, no delete), the owner all.
	appPage := fmt.Sprintf("/apps/%d", tm.appA.ID)
	for _, who := range []struct {
		name  string
		b     *browser
		wants []string
	}{{"viewer", tm.viewer, nil}, {"member", tm.member, []string{"Deploy", "Restart"}}, {"owner", tm.owner, []string{"Deploy", "Restart", "Terminal", "Delete"}}} {
		var got []string
		who.b.get(appPage).doc(t).Find(".service-actions button, .service-actions a").Each(func(_ int, s *goquery.Selection) {
			got = append(got, strings.TrimSpace(s.Text()))
		})
		for _, w := range who.wants {
			if !slices.Contains(got, w) {
				t.Errorf("%s's app header lacks %s: %v", who.name, w, got)
			}
		}
		if who.name != "owner" && (slices.Contains(got, "Delete") || slices.Contains(got, "Terminal")) || who.name == "viewer" && len(got) > 0 {
			t.Errorf("%s's app header offers %v", who.name, got)
		}
	}

	// The webhook URL deploys: the viewer does not see it, the member does.
	deployments := fmt.Sprintf("/apps/%d/deployments", tm.appA.ID)
	if res := tm.viewer.get(deployments); res.Code != http.StatusOK || strings.Contains(res.Body, "/api/deploy/") {
		t.Errorf("viewer's deployments tab: want 200 without the webhook URL, got %d", res.Code)
	}
	wantStatus(t, tm.viewer.get(fmt.Sprintf("/apps/%d/webhooks", tm.appA.ID)), http.StatusForbidden)
	if res := tm.member.get(deployments); !strings.Contains(res.Body, "/api/deploy/") {
		t.Error("member with deploy: the deployments tab lacks the webhook URL")
	}

	// The member's read-scoped token reads A and cannot deploy it.
	res, _ = tm.a.apiJSON(http.MethodGet, app, tm.readToken, nil)
	wantStatus(t, res, http.StatusOK)
	res, _ = tm.a.apiJSON(http.MethodPost, app+"/deploy", tm.readToken, nil)
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "You have view access") {
		t.Errorf("read token: deploy: want 403, got %d %s", res.Code, res.Body)
	}
	// Nor can it mint itself a wider token.
	res, _ = tm.a.apiJSON(http.MethodPost, "/api/v1/tokens", tm.readToken, map[string]any{"name": "wider", "scope": "manage"})
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "cannot create a token with scope manage") {
		t.Errorf("read token: create a manage token: want 403, got %d %s", res.Code, res.Body)
	}

	// Server settings and users belong to owners and admins.
	wantStatus(t, tm.member.get("/settings"), http.StatusForbidden)
	res, _ = tm.a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", tm.memberToken, map[string]any{"concurrency": 4})
	wantStatus(t, res, http.StatusForbidden)
	if body := uiText(t, tm.member.get("/account")); strings.Contains(body, "Settings") && strings.Contains(body, "Server") {
		t.Errorf("member's navigation offers Settings and Server: %s", body)
	}
}

// Disabling or removing a user stops their open session and their token
// on the next request, and a disabled user cannot sign in again.
func TestAuthorization_RemovedUserStopsAtOnce(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ctx := context.Background()
	wantStatus(t, tm.member.get("/"), http.StatusOK)

	if err := tm.a.store.SetUserDisabled(ctx, tm.memberID, true); err != nil {
		t.Fatal(err)
	}
	if res := tm.member.get("/"); res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Errorf("disabled member's session: want 303 to /login, got %d %q", res.Code, res.location())
	}
	res, _ := tm.a.apiJSON(http.MethodGet, "/api/v1/projects", tm.memberToken, nil)
	wantStatus(t, res, http.StatusUnauthorized)
	b := tm.a.browser()
	res = b.postForm("/login", url.Values{"email": {"member@example.com"}, "password": {adminPassword}})
	if res.Code != http.StatusForbidden || !strings.Contains(uiText(t, res), "This account is disabled") {
		t.Errorf("disabled member signing in: want 403 saying so, got %d %s", res.Code, uiText(t, res))
	}

	// Enabled again: the token works; removed: nothing does.
	if err := tm.a.store.SetUserDisabled(ctx, tm.memberID, false); err != nil {
		t.Fatal(err)
	}
	res, _ = tm.a.apiJSON(http.MethodGet, "/api/v1/projects", tm.memberToken, nil)
	wantStatus(t, res, http.StatusOK)
	again := tm.a.login("member@example.com", adminPassword)
	if err := tm.a.store.DeleteUser(ctx, tm.memberID); err != nil {
		t.Fatal(err)
	}
	if res := again.get("/"); res.Code != http.StatusSeeOther || res.location() != "/login" {
		t.Errorf("removed member's session: want 303 to /login, got %d %q", res.Code, res.location())
	}
	res, _ = tm.a.apiJSON(http.MethodGet, "/api/v1/projects", tm.memberToken, nil)
	wantStatus(t, res, http.StatusUnauthorized)
}
