package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

func TestProjects_CreateWithHTMXUpdatesList(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	wantStatus(t, b.get("/"), http.StatusOK)

	res := b.postHTMX("/projects", url.Values{"name": {"shop"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "<html")
	doc := res.doc(t)
	if doc.Find(`.project-card[data-project="shop"]`).Length() != 1 {
		t.Fatalf("new project missing from the list partial:\n%s", res.Body)
	}
	// The form is cleared for the next project.
	if v, _ := doc.Find(`input[name=name]`).Attr("value"); v != "" {
		t.Errorf("form not cleared after success: %q", v)
	}
	res = b.postHTMX("/projects", url.Values{"name": {"blog"}})
	wantStatus(t, res, http.StatusOK)
	if n := res.doc(t).Find(".project-card").Length(); n != 2 {
		t.Errorf("want 2 project cards, got %d", n)
	}
	if app.count("projects") != 2 || app.count("environments") != 2 {
		t.Fatalf("want 2 projects each with its default environment, got %d/%d", app.count("projects"), app.count("environments"))
	}
	page := b.get("/")
	testkit.MustContain(t, page.Body, `data-project="shop"`, `data-project="blog"`)
}

func TestProjects_DuplicateNameIs422AndKeepsInput(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	wantStatus(t, b.postHTMX("/projects", url.Values{"name": {"shop"}}), http.StatusOK)
	res := b.postHTMX("/projects", url.Values{"name": {"shop"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	doc := res.doc(t)
	if v, _ := doc.Find(`input[name=name]`).Attr("value"); v != "shop" {
		t.Errorf("input not kept: %q", v)
	}
	if msg := doc.Find(".field.invalid .error-text").Text(); !strings.Contains(msg, "already exists") {
		t.Errorf("want an 'already exists' message at the field, got %q", msg)
	}
	if app.count("projects") != 1 {
		t.Fatalf("duplicate written: %d projects", app.count("projects"))
	}
}

func TestProjects_InvalidNamesAre422AndWriteNothing(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	for _, name := range []string{
		"a;rm -rf /", "$(id)", "`id`", "a|b", "a&&b", "x>y", "'quoted'", "<script>", "../etc",
		"-rf", strings.Repeat("a", 65), strings.Repeat("é", 65),
	} {
		t.Run(name, func(t *testing.T) {
			res := b.postHTMX("/projects", url.Values{"name": {name}})
			wantStatus(t, res, http.StatusUnprocessableEntity)
			doc := res.doc(t)
			if v, _ := doc.Find(`input[name=name]`).Attr("value"); v != name {
				t.Errorf("input not kept: got %q", v)
			}
			if doc.Find(".field.invalid .error-text").Text() == "" {
				t.Error("no field error shown")
			}
		})
	}
	res := b.postHTMX("/projects", url.Values{"name": {"   "}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "name is required")
	if n := app.count("projects"); n != 0 {
		t.Fatalf("invalid names wrote %d projects", n)
	}
	// The limit is in characters, not bytes; unicode letters are fine.
	wantStatus(t, b.postHTMX("/projects", url.Values{"name": {strings.Repeat("é", 64)}}), http.StatusOK)
	wantStatus(t, b.postHTMX("/projects", url.Values{"name": {"Café web_2.0"}}), http.StatusOK)
}

func TestProjects_RenameAndDelete(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	app.createProject("blog")

	page := b.get(fmt.Sprintf("/projects/%d", p.ID))
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, "<h1>shop</h1>", `data-env="production"`)

	res := b.postHTMX(fmt.Sprintf("/projects/%d/rename", p.ID), url.Values{"name": {"store"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "<html")
	testkit.MustContain(t, res.Body, "<h1>store</h1>")
	got, _ := app.store.Project(context.Background(), p.ID)
	if got.Name != "store" {
		t.Fatalf("rename not stored: %q", got.Name)
	}

	for name, want := range map[string]string{"$(id)": "may contain only", "blog": "already exists"} {
		res := b.postHTMX(fmt.Sprintf("/projects/%d/rename", p.ID), url.Values{"name": {name}})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		testkit.MustContain(t, res.Body, want)
		if v, _ := res.doc(t).Find(`form[hx-post$="/rename"] input[name=name]`).Attr("value"); v != name {
			t.Errorf("rename to %q: input not kept: %q", name, v)
		}
		if got, _ := app.store.Project(context.Background(), p.ID); got.Name != "store" {
			t.Fatalf("invalid rename to %q changed the name to %q", name, got.Name)
		}
	}

	res = b.postHTMX(fmt.Sprintf("/projects/%d/delete", p.ID), nil)
	wantStatus(t, res, http.StatusOK)
	if res.location() != "/" {
		t.Errorf("delete: want HX-Redirect /, got %q", res.location())
	}
	if app.count("projects") != 1 || app.count("environments") != 1 {
		t.Fatalf("delete left %d projects, %d environments", app.count("projects"), app.count("environments"))
	}
	wantStatus(t, b.get(fmt.Sprintf("/projects/%d", p.ID)), http.StatusNotFound)
	wantStatus(t, b.postHTMX(fmt.Sprintf("/projects/%d/delete", p.ID), nil), http.StatusNotFound)
	wantStatus(t, b.get("/projects/abc"), http.StatusNotFound)
}

// createImageApp stores a minimal image app in the project's first environment.
func (a *testApp) createImageApp(p *db.Project, appName string) *db.App {
	a.t.Helper()
	app := &db.App{EnvironmentID: p.Environments[0].ID, Name: appName, AppName: appName, SourceType: db.SourceImage,
		Image: "nginx:1.27", GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile", Port: 80, Replicas: 1}
	if err := a.store.CreateApp(context.Background(), app); err != nil {
		a.t.Fatal(err)
	}
	return app
}

func TestProjects_DeleteWithAppsIs409(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	app.createImageApp(p, "web")

	// The page does not offer a delete that would be refused: the button
	// is disabled and says why.
	page := b.get(fmt.Sprintf("/projects/%d", p.ID))
	wantStatus(t, page, http.StatusOK)
	d := page.doc(t)
	if d.Find(fmt.Sprintf(`form[hx-post="/projects/%d/delete"]`, p.ID)).Length() != 0 {
		t.Error("project page offers Delete project although the project has an app")
	}
	if btn := d.Find(`.delete-blocked button[disabled][aria-describedby=project-delete-hint]`); btn.Length() != 1 || !strings.Contains(btn.Text(), "Delete project") {
		t.Errorf("no disabled Delete project button: %s", testkit.Truncate(page.Body))
	}
	testkit.MustContain(t, uiText(t, page), "Delete its 1 app first.")
	if d.Find(fmt.Sprintf(`form[hx-post="/environments/%d/delete"]`, p.Environments[0].ID)).Length() != 0 {
		t.Error("project page offers to delete an environment that has an app")
	}
	if v, _ := d.Find(`[data-env="production"] .delete-blocked`).Attr("title"); v != "Delete its 1 app first." {
		t.Errorf("environment delete hint %q", v)
	}

	// The server still refuses.
	res := b.postHTMX(fmt.Sprintf("/projects/%d/delete", p.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	testkit.MustContain(t, res.Body, "still has applications")
	if res.Header.Get("HX-Retarget") != "#flash" {
		t.Errorf("HTMX errors should go to the flash area, got HX-Retarget %q", res.Header.Get("HX-Retarget"))
	}
	// A plain form gets a full error page.
	res = b.postForm(fmt.Sprintf("/projects/%d/delete", p.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	testkit.MustContain(t, res.Body, "<html", "still has applications")
	if app.count("projects") != 1 || app.count("applications") != 1 {
		t.Fatal("a project with apps was deleted")
	}
}

func TestEnvironments_CreateRenameDelete(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	path := fmt.Sprintf("/projects/%d/environments", p.ID)

	res := b.postHTMX(path, url.Values{"name": {"staging"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "<html")
	testkit.MustContain(t, res.Body, `data-env="staging"`, `data-env="production"`)

	res = b.postHTMX(path, url.Values{"name": {"staging"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "already has an environment")
	res = b.postHTMX(path, url.Values{"name": {"a;rm -rf /"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if v, _ := res.doc(t).Find(`#env-name`).Attr("value"); v != "a;rm -rf /" {
		t.Errorf("environment input not kept: %q", v)
	}
	if app.count("environments") != 2 {
		t.Fatalf("want 2 environments, got %d", app.count("environments"))
	}
	staging, err := app.store.EnvironmentByName(context.Background(), p.ID, "staging")
	if err != nil {
		t.Fatal(err)
	}

	res = b.postHTMX(fmt.Sprintf("/environments/%d/rename", staging.ID), url.Values{"name": {"qa"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `data-env="qa"`)
	testkit.MustNotContain(t, res.Body, `data-env="staging"`)
	wantStatus(t, b.postHTMX(fmt.Sprintf("/environments/%d/rename", staging.ID), url.Values{"name": {"production"}}), http.StatusConflict)
	wantStatus(t, b.postHTMX(fmt.Sprintf("/environments/%d/rename", staging.ID), url.Values{"name": {"$(id)"}}), http.StatusUnprocessableEntity)
	if e, _ := app.store.Environment(context.Background(), staging.ID); e.Name != "qa" {
		t.Fatalf("environment name %q, want qa", e.Name)
	}

	// An environment with apps cannot be deleted.
	prod := p.Environments[0]
	app.createImageApp(p, "web")
	res = b.postHTMX(fmt.Sprintf("/environments/%d/delete", prod.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	testkit.MustContain(t, res.Body, "still has applications")

	res = b.postHTMX(fmt.Sprintf("/environments/%d/delete", staging.ID), nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, `data-env="qa"`)
	if app.count("environments") != 1 {
		t.Fatalf("want 1 environment after delete, got %d", app.count("environments"))
	}
}

func TestUI_AnonymousHTMXGetsRedirectHeader(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.setupAdmin()
	anon := app.browser()
	res := anon.postHTMX("/projects", url.Values{"name": {"shop"}})
	if res.Code != http.StatusUnauthorized || res.Header.Get("HX-Redirect") != "/login" {
		t.Fatalf("anonymous HTMX: want 401 + HX-Redirect /login, got %d %q", res.Code, res.Header.Get("HX-Redirect"))
	}
	if app.count("projects") != 0 {
		t.Fatal("anonymous request wrote a project")
	}
}

// TestProjects_PlainFormWorksWithoutJavaScript submits the dashboard's form
// exactly as rendered, the way a browser without HTMX would.
func TestProjects_PlainFormWorksWithoutJavaScript(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	page := b.get("/")
	wantStatus(t, page, http.StatusOK)
	form := page.doc(t).Find(`form[action="/projects"]`)
	token, _ := form.Find(`input[name=_csrf]`).Attr("value")
	if token == "" {
		t.Fatal("the create-project form carries an empty _csrf field")
	}
	res := b.postFormRaw("/projects", url.Values{"_csrf": {token}, "name": {"shop"}})
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("plain form: want 303 /, got %d %q: %s", res.Code, res.location(), res.Body)
	}
	// A refused plain submission gets a whole page with the message and input.
	res = b.postFormRaw("/projects", url.Values{"_csrf": {token}, "name": {"shop"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "<html", "already exists")
	if v, _ := res.doc(t).Find(`form[action="/projects"] input[name=name]`).Attr("value"); v != "shop" {
		t.Errorf("input not kept: %q", v)
	}
	if app.count("projects") != 1 {
		t.Fatalf("want 1 project, got %d", app.count("projects"))
	}
}

// A project card lists a handful of apps, the ones that need a look first,
// counts every app by status and links the project page for the rest.
// With few projects a card lists up to 12.
func TestDashboard_ProjectCardListsAttentionFirstAndCountsTheRest(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	ctx := context.Background()
	p := app.createProject("shop")
	statuses := map[string]string{"a1": db.AppRunning, "a2": db.AppRunning, "a3": db.AppRunning, "a4": db.AppRunning,
		"a5": db.AppRunning, "a6": db.AppRunning, "a7": db.AppStopped, "z-broken": db.AppError, "z-busy": db.AppDeploying}
	for name, st := range statuses {
		a := app.createImageApp(p, name)
		if err := app.store.SetAppStatus(ctx, a.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	// 20 projects: each card lists 3 apps (with 2 projects it lists 12).
	app.createProject("empty")
	for i := range 18 {
		app.createProject(fmt.Sprintf("other-%02d", i))
	}

	res := b.get("/")
	wantStatus(t, res, http.StatusOK)
	card := res.doc(t).Find(`.project-card[data-project="shop"]`)
	var listed []string
	card.Find(".applist li a").Each(func(_ int, s *goquery.Selection) { listed = append(listed, s.Text()) })
	want := []string{"z-broken", "z-busy", "a1"}
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("card lists %v, want %v (failed and deploying first, then by name, %d at most)", listed, want, len(want))
	}
	if got := card.Find(".meta").Text(); !strings.Contains(got, "9 apps") {
		t.Errorf("card meta %q does not count all 9 apps", got)
	}
	var tally []string
	card.Find(".status-tally .badge").Each(func(_ int, s *goquery.Selection) { tally = append(tally, s.Text()) })
	if got := strings.Join(tally, ","); got != "1 error,1 deploying,6 running,1 stopped" {
		t.Errorf("status tally %q", got)
	}
	more := card.Find(".more-apps a")
	if href, _ := more.Attr("href"); href != fmt.Sprintf("/projects/%d", p.ID) || !strings.Contains(more.Text(), "6 more apps") {
		t.Errorf("more link %q → %q, want 6 more apps → the project page", more.Text(), href)
	}
	empty := res.doc(t).Find(`.project-card[data-project="empty"]`)
	few := newTestApp(t)
	fewBrowser := few.setupAdmin()
	fp := few.createProject("shop")
	for i := range 12 {
		few.createImageApp(fp, fmt.Sprintf("app-%02d", i))
	}
	if n := fewBrowser.get("/").doc(t).Find(`.project-card[data-project="shop"] .applist li`).Length(); n != 12 {
		t.Errorf("with one project the card lists %d of 12 apps, want all", n)
	}
	if !strings.Contains(empty.Text(), "No apps yet") || empty.Find(".status-tally, .more-apps").Length() != 0 {
		t.Errorf("empty project card: %q", empty.Text())
	}
}
