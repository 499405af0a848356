package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

// databaseForm is a valid "new database" form.
func databaseForm(envID int64, name string) url.Values {
	return url.Values{
		"engine": {"postgres"}, "name": {name}, "environment_id": {strconv.FormatInt(envID, 10)},
		"image": {"postgres:17"}, "database": {""}, "user": {""}, "external_port": {""},
	}
}

// createDatabase creates a database through the project page's form and
// returns it; its first deploy is queued (no worker runs here).
func (b *browser) createDatabase(p *db.Project, name string) *db.Database {
	b.app.t.Helper()
	res := b.postHTMX(fmt.Sprintf("/projects/%d/databases", p.ID), databaseForm(p.Environments[0].ID, name))
	wantStatus(b.app.t, res, http.StatusOK)
	loc := res.Header.Get("HX-Redirect")
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/databases/"), 10, 64)
	if err != nil {
		b.app.t.Fatalf("create database: redirect to %q", loc)
	}
	d, err := b.app.store.Database(context.Background(), id)
	if err != nil {
		b.app.t.Fatal(err)
	}
	return d
}

func TestDatabases_CreateWithInvalidFieldIs422AndWritesNothing(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	other := app.createProject("blog")
	app.createImageApp(p, "taken")
	envID := p.Environments[0].ID

	cases := []struct {
		name, field, value, message string
	}{
		{"name taken by an app", "name", "taken", "is taken"},
		{"name not a DNS label", "name", "Bad_Name", "lowercase letters"},
		{"image with a space", "image", "postgres 17", "invalid image reference"},
		{"unknown engine", "engine", "oracle", "engine must be one of"},
		{"database name with a dash", "database", "my-db", "database name must start"},
		{"user root-like injection", "user", "a;drop", "user must start"},
		{"external port not a number", "external_port", "54x", "whole number"},
		{"external port reserved", "external_port", "22", "SSH"},
		{"environment of another project", "environment_id", strconv.FormatInt(other.Environments[0].ID, 10), "environment of this project"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := databaseForm(envID, "pg")
			form.Set(tc.field, tc.value)
			res := b.postHTMX(fmt.Sprintf("/projects/%d/databases", p.ID), form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			testkit.MustNotContain(t, res.Body, "<html")
			panel := res.doc(t).Find("#new-database")
			if panel.Length() != 1 {
				t.Fatalf("new-database form not re-rendered:\n%s", res.Body)
			}
			field := panel.Find(fmt.Sprintf(`[name=%q]`, tc.field))
			if tc.field == "engine" || tc.field == "environment_id" {
				testkit.MustContain(t, res.Body, tc.message)
				return
			}
			if v, _ := field.Attr("value"); v != tc.value {
				t.Errorf("%s: input value %q, want the submitted %q", tc.field, v, tc.value)
			}
			msg := field.Closest(".field.invalid").Find(".error-text").Text()
			if !strings.Contains(msg, tc.message) {
				t.Errorf("%s: field message %q does not contain %q", tc.field, msg, tc.message)
			}
			// The other typed values are kept.
			if tc.field != "name" {
				if v, _ := panel.Find(`[name=name]`).Attr("value"); v != "pg" {
					t.Errorf("name input %q, want pg kept", v)
				}
			}
		})
	}
	if n := app.count("databases"); n != 0 {
		t.Errorf("%d databases stored after refused forms", n)
	}
}

func TestDatabases_CreateSuggestsNameAndShowsEveryTab(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")

	form := databaseForm(p.Environments[0].ID, "")
	form.Set("image", "")
	res := b.postForm(fmt.Sprintf("/projects/%d/databases", p.ID), form)
	wantStatus(t, res, http.StatusSeeOther)
	d, err := app.store.DatabaseByName(context.Background(), "postgres")
	if err != nil {
		t.Fatalf("no database named after the engine: %v", err)
	}
	if d.Image != "postgres:17" || d.DatabaseName != "postgres" || d.Username != "postgres" {
		t.Errorf("defaults: image %q database %q user %q", d.Image, d.DatabaseName, d.Username)
	}
	if res.location() != fmt.Sprintf("/databases/%d", d.ID) {
		t.Errorf("redirect to %q", res.location())
	}
	// A second one gets the next free name.
	wantStatus(t, b.postForm(fmt.Sprintf("/projects/%d/databases", p.ID), form), http.StatusSeeOther)
	if _, err := app.store.DatabaseByName(context.Background(), "postgres-2"); err != nil {
		t.Errorf("second suggested name: %v", err)
	}

	sec, err := app.store.DatabaseSecrets(d)
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("/databases/%d", d.ID)
	for _, tab := range []string{"", "/environment", "/operations", "/logs", "/monitoring", "/advanced"} {
		full := b.get(base + tab)
		wantStatus(t, full, http.StatusOK)
		testkit.MustContain(t, full.Body, "<html", `id="service-header"`, `id="service-body"`, "postgres")
		testkit.MustNotContain(t, full.Body, sec.Password)
		doc := full.doc(t)
		active := doc.Find(".service-tabs a.active")
		if active.Length() != 1 {
			t.Errorf("%s: %d active tabs", tab, active.Length())
		}
		if href, _ := active.Attr("href"); href != base+tab {
			t.Errorf("%s: active tab links to %q", tab, href)
		}
		if got, want := doc.Find("#service-metrics").Length(), map[bool]int{true: 1}[tab == "/monitoring"]; got != want {
			t.Errorf("%s: %d metrics panels, want %d (charts live on the Monitoring tab only)", tab, got, want)
		}
		// The first deploy is queued: the header says so and polls.
		if got := doc.Find("#service-header .badge").Text(); !strings.Contains(got, "deploying") {
			t.Errorf("%s: header badge %q, want deploying…", tab, got)
		}
		if _, ok := doc.Find("#service-header").Attr("hx-get"); !ok {
			t.Errorf("%s: the header does not poll while an operation is pending", tab)
		}
		if doc.Find(`#service-header button[data-action=Stop][disabled]`).Length() != 1 {
			t.Errorf("%s: Stop is not disabled while an operation is pending", tab)
		}

		part := b.do(withHeader(b.newRequest(http.MethodGet, base+tab, nil), "HX-Request", "true"))
		wantStatus(t, part, http.StatusOK)
		testkit.MustNotContain(t, part.Body, "<html", `id="service-header"`)
		testkit.MustContain(t, part.Body, `class="service-tabs"`)
	}

	general := b.get(base).Body
	testkit.MustContain(t, general, "postgresql://postgres:********@postgres:5432/postgres", "postgres-data")

	res = b.postHTMX(base+"/reveal", nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, fmt.Sprintf("postgresql://postgres:%s@postgres:5432/postgres", sec.Password))

	res = b.get(base + "/header")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="service-header"`, "deploying")
	testkit.MustNotContain(t, res.Body, "<html")
	// The header's own poll URL carries what it shows: nothing changed, so
	// 204 and htmx swaps nothing; after a change the header comes back.
	poll := res.doc(t).Find("#service-header").AttrOr("hx-get", "")
	if !strings.HasPrefix(poll, base+"/header?seen=") {
		t.Fatalf("poll URL %q", poll)
	}
	wantStatus(t, b.get(poll), http.StatusNoContent)
	if err := app.store.SetDatabaseRunning(context.Background(), d.ID, "postgres:17"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.store.DB().Exec(`UPDATE deployments SET status = 'cancelled' WHERE service_id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	res = b.get(poll)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="service-header"`)
	testkit.MustNotContain(t, res.Body, "deploying")
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}

func TestDatabases_ProjectPageListsDatabasesPerEnvironment(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	res := b.get(fmt.Sprintf("/projects/%d", p.ID))
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "No databases in production", `id="new-database"`, "PostgreSQL", "Redis")

	b.createDatabase(p, "cache")
	doc := b.get(fmt.Sprintf("/projects/%d", p.ID)).doc(t)
	row := doc.Find(`.env[data-env="production"] tr[data-database="cache"]`)
	if row.Length() != 1 {
		t.Fatalf("the database is not listed in production")
	}
	for _, want := range []string{"cache", "PostgreSQL", "queued", "postgres:17"} {
		if !strings.Contains(row.Text(), want) {
			t.Errorf("row %q lacks %q", row.Text(), want)
		}
	}
}

func TestDatabases_AdvancedRefusesMajorChangeUntilConfirmed(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	d := b.createDatabase(p, "pg")
	base := fmt.Sprintf("/databases/%d", d.ID)
	form := url.Values{"image": {"postgres:18"}, "memory_limit_mb": {"256"}, "cpu_limit": {"0.5"},
		"args": {"-c\nmax_connections=50\n"}, "external_port": {""}}

	res := b.postHTMX(base, form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "PostgreSQL 17 → 18", `name="confirm_major"`, "Nothing was saved")
	if v, _ := res.doc(t).Find(`#db-image`).Attr("value"); v != "postgres:18" {
		t.Errorf("image input %q, want the submitted one kept", v)
	}
	if got, _ := app.store.Database(context.Background(), d.ID); got.Image != "postgres:17" || got.MemoryLimitMB != 0 {
		t.Errorf("saved without confirmation: %q %d", got.Image, got.MemoryLimitMB)
	}

	form.Set("confirm_major", "on")
	res = b.postHTMX(base, form)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "A deploy is queued", "/deployments/", `hx-swap-oob="outerHTML"`)
	got, err := app.store.Database(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Image != "postgres:18" || got.MemoryLimitMB != 256 || got.CPULimit != 0.5 ||
		strings.Join(got.Args, " ") != "-c max_connections=50" {
		t.Errorf("saved %q %d %v %q", got.Image, got.MemoryLimitMB, got.CPULimit, got.Args)
	}

	// A same-major tag needs no confirmation; bad input names its field.
	form = url.Values{"image": {"postgres 18"}, "memory_limit_mb": {"2"}}
	res = b.postHTMX(base, form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	doc := res.doc(t)
	for field, msg := range map[string]string{"image": "invalid image reference", "memory_limit_mb": "at least 6 MB"} {
		if got := doc.Find(fmt.Sprintf(`[name=%q]`, field)).Closest(".field.invalid").Find(".error-text").Text(); !strings.Contains(got, msg) {
			t.Errorf("%s: message %q, want %q", field, got, msg)
		}
	}
}

func TestDatabases_EnvPasswordAndLink(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	web := app.createImageApp(p, "web")
	d := b.createDatabase(p, "pg")
	base := fmt.Sprintf("/databases/%d", d.ID)
	ctx := context.Background()

	res := b.postHTMX(base+"/env", url.Values{"key": {"TZ"}, "value": {"Europe/Paris"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "A deploy is queued")
	testkit.MustNotContain(t, res.Body, "Europe/Paris")
	vars, _ := app.store.AppVariables(ctx, d.ID, db.VarEnv)
	if len(vars) != 1 || vars[0].Value != "Europe/Paris" {
		t.Errorf("env %v", vars)
	}
	res = b.postHTMX(base+"/env", url.Values{"key": {"POSTGRES_PASSWORD"}, "value": {"x"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "set by dokploy", "Nothing was saved")
	// A refusal keeps every row and the pasted block as typed.
	res = b.postHTMX(base+"/env", url.Values{"key": {"TZ", "LANG"}, "value": {"", "C.UTF-8"}, "dotenv": {"GOOD=1\nnot a line"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "Nothing was saved", `value="TZ"`, `value="LANG"`, `value="C.UTF-8"`, "GOOD=1\nnot a line")
	if vars, _ := app.store.AppVariables(ctx, d.ID, db.VarEnv); len(vars) != 1 {
		t.Errorf("a refused form changed the env: %v", vars)
	}

	// Not deployed yet: the password change is refused with a reason.
	res = b.postHTMX(base+"/password", url.Values{"password": {""}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "deploy it first")
	if err := app.store.SetDatabaseRunning(ctx, d.ID, "postgres:17"); err != nil {
		t.Fatal(err)
	}
	res = b.postHTMX(base+"/password", url.Values{"password": {"short"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "16 to 128 characters")
	res = b.postHTMX(base+"/password", url.Values{"password": {""}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Password change is queued", "/deployments/")

	res = b.postHTMX(base+"/link", url.Values{"app_id": {strconv.FormatInt(web.ID, 10)}, "key": {""}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "DATABASE_URL of", "next deploy")
	vars, _ = app.store.AppVariables(ctx, web.ID, db.VarEnv)
	if len(vars) != 1 || vars[0].Key != "DATABASE_URL" || vars[0].Value != "${{database.pg.url}}" {
		t.Errorf("app env %v", vars)
	}
	other := app.createProject("blog")
	foreign := app.createImageApp(other, "blog-web")
	res = b.postHTMX(base+"/link", url.Values{"app_id": {strconv.FormatInt(foreign.ID, 10)}, "key": {"DB"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "choose an app of this project")
}

func TestDatabases_ActionsAnswerTheHeader(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	d := b.createDatabase(p, "pg")
	base := fmt.Sprintf("/databases/%d", d.ID)
	for _, action := range []string{"restart", "stop", "start", "deploy"} {
		res := b.postHTMX(base+"/"+action, nil)
		wantStatus(t, res, http.StatusOK)
		testkit.MustContain(t, res.Body, `id="service-header"`, "…", `hx-trigger="every 2s"`)
		testkit.MustNotContain(t, res.Body, "<html")
	}
	ops, err := app.store.Deployments(context.Background(), d.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	// The last of start/stop/restart supersedes the queued others.
	var actions []string
	for _, o := range ops {
		if !o.Finished() {
			actions = append(actions, o.Action)
		}
	}
	if strings.Join(actions, ",") != "deploy,start" {
		t.Errorf("pending operations %v", actions)
	}

	// The operation's log page belongs to the database.
	res := b.get(fmt.Sprintf("/deployments/%d", ops[1].ID))
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Start #", `href="`+base+`"`, "← pg")
	testkit.MustNotContain(t, res.Body, "Roll back")
	wantStatus(t, b.get(fmt.Sprintf("/deployments/%d/status", ops[1].ID)), http.StatusOK)

	res = b.get(base + "/operations")
	testkit.MustContain(t, res.Body, "start", "restart", "stop", "deploy", "superseded")
}

func TestDatabases_DeleteNeedsAVolumeChoice(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	d := b.createDatabase(p, "pg")
	base := fmt.Sprintf("/databases/%d", d.ID)

	page := b.get(base).doc(t)
	radios := page.Find(`#service-delete input[name=remove_volume]`)
	if radios.Length() != 2 {
		t.Fatalf("%d volume choices", radios.Length())
	}
	radios.Each(func(_ int, s *goquery.Selection) {
		if _, checked := s.Attr("checked"); checked {
			t.Errorf("a volume choice is preselected")
		}
	})
	testkit.MustContain(t, page.Text(), "pg-data", "cannot be undone")

	res := b.postHTMX(base+"/delete", nil)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "choose whether to keep the data volume")
	if _, err := app.store.Database(context.Background(), d.ID); err != nil {
		t.Fatalf("deleted without a choice: %v", err)
	}
	res = b.postHTMX(base+"/delete", url.Values{"remove_volume": {"keep"}})
	wantStatus(t, res, http.StatusOK)
	if res.location() != fmt.Sprintf("/projects/%d", p.ID) {
		t.Errorf("redirect to %q", res.location())
	}
	if _, err := app.store.Database(context.Background(), d.ID); err == nil {
		t.Errorf("the database is still stored")
	}
	wantStatus(t, b.get(base), http.StatusNotFound)
}

func TestDatabases_ExternalURLUsesTheRequestHost(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	port := testkit.FreePort(t)
	form := databaseForm(p.Environments[0].ID, "pg")
	form.Set("external_port", strconv.Itoa(port))
	res := b.postHTMX(fmt.Sprintf("/projects/%d/databases", p.ID), form)
	wantStatus(t, res, http.StatusOK)
	page := b.get(res.location())
	wantStatus(t, page, http.StatusOK)
	want := fmt.Sprintf("postgresql://pg:********@127.0.0.1:%d/pg", port)
	if got := page.doc(t).Find("#db-external-url").Text(); got != want {
		t.Errorf("external URL %q, want %q", got, want)
	}
	adv := b.get(res.location() + "/advanced").doc(t)
	if v, _ := adv.Find("#db-external-port").Attr("value"); v != strconv.Itoa(port) {
		t.Errorf("advanced external port %q, want %d", v, port)
	}
	// Emptying it removes the published port.
	res = b.postHTMX(res.location(), url.Values{"image": {"postgres:17"}, "external_port": {""}})
	wantStatus(t, res, http.StatusOK)
	if got := b.get(fmt.Sprintf("/databases/%d", mustDatabaseID(t, app, "pg"))).doc(t).Find("#db-external-url").Text(); !strings.Contains(got, "Not reachable from outside") {
		t.Errorf("after removing the port: %q", got)
	}
}

func mustDatabaseID(t *testing.T, app *testApp, name string) int64 {
	t.Helper()
	d, err := app.store.DatabaseByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}
