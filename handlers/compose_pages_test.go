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
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// composeFile is a valid two-service file; no worker runs in these tests,
// so it is only loaded and checked, never deployed.
const composeFile = `services:
  web:
    image: nginx:1.27
    environment:
      GREETING: ${GREETING:-hello}
  cache:
    image: redis:7
`

// composeForm is a valid "new compose stack" form with a pasted file.
func composeForm(envID int64, name, file string) url.Values {
	return url.Values{
		"display_name": {"Shop " + name}, "name": {name}, "environment_id": {strconv.FormatInt(envID, 10)},
		"source_type": {"inline"}, "compose_file": {file}, "git_branch": {"main"},
	}
}

// stackName is unique per test: the page reads Swarm's stacks of the
// local engine by name.
func stackName(prefix string) string { return prefix + "-" + dbtest.RandomSuffix() }

// createCompose creates a stack through the project page's form and
// returns it; its first deploy is queued.
func (b *browser) createCompose(p *db.Project, name string) *db.ComposeStack {
	b.app.t.Helper()
	res := b.postHTMX(fmt.Sprintf("/projects/%d/compose", p.ID), composeForm(p.Environments[0].ID, name, composeFile))
	wantStatus(b.app.t, res, http.StatusOK)
	loc := res.Header.Get("HX-Redirect")
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/compose/"), 10, 64)
	if err != nil {
		b.app.t.Fatalf("create compose stack: redirect to %q", loc)
	}
	s, err := b.app.store.Compose(context.Background(), id)
	if err != nil {
		b.app.t.Fatal(err)
	}
	return s
}

func TestComposePages_CreateFromPastedFile(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	name := stackName("cui")

	// A plain form post redirects to the stack's page.
	res := b.postForm(fmt.Sprintf("/projects/%d/compose", p.ID), composeForm(p.Environments[0].ID, name, composeFile))
	wantStatus(t, res, http.StatusSeeOther)
	stacks, err := app.store.ComposeInProject(context.Background(), p.ID)
	if err != nil || len(stacks) != 1 {
		t.Fatalf("stacks after create: %v %v", stacks, err)
	}
	s := stacks[0]
	if res.location() != fmt.Sprintf("/compose/%d", s.ID) {
		t.Errorf("redirect to %q", res.location())
	}
	if s.Name != name || s.DisplayName != "Shop "+name || s.SourceType != db.ComposeInline || s.ComposeFile != composeFile || s.InjectEnv {
		t.Errorf("stored %+v", s)
	}
	// Its first deploy is queued.
	deps, err := app.store.Deployments(context.Background(), s.ID, 10)
	if err != nil || len(deps) != 1 || deps[0].Action != db.ActionDeploy || deps[0].Status != db.DeployQueued {
		t.Errorf("deployments after create: %+v %v", deps, err)
	}

	// The project page lists it in its environment.
	doc := b.get(fmt.Sprintf("/projects/%d", p.ID)).doc(t)
	row := doc.Find(fmt.Sprintf(`.env[data-env="production"] tr[data-stack=%q]`, name))
	if row.Length() != 1 {
		t.Fatalf("the stack is not listed in production")
	}
	if href, _ := row.Find("a").Attr("href"); href != fmt.Sprintf("/compose/%d", s.ID) {
		t.Errorf("row links to %q", href)
	}
	if !strings.Contains(row.Text(), "pasted file") || row.Find(".badge").Length() != 1 {
		t.Errorf("row %q", row.Text())
	}
	// The environment and the project cannot be deleted while it exists.
	testkit.MustContain(t, doc.Text(), "1 compose stack")

	// An empty name is suggested from the display name.
	form := composeForm(p.Environments[0].ID, "", composeFile)
	form.Set("display_name", "Blog Site "+strings.TrimPrefix(name, "cui-"))
	form.Set("inject_env", "on")
	res = b.postHTMX(fmt.Sprintf("/projects/%d/compose", p.ID), form)
	wantStatus(t, res, http.StatusOK)
	want := "blog-site-" + strings.TrimPrefix(name, "cui-")
	other, err := app.store.Compose(context.Background(), mustID(t, res.location(), "/compose/"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Name != want || !other.InjectEnv {
		t.Errorf("suggested name %q (inject %v), want %q", other.Name, other.InjectEnv, want)
	}
}

func mustID(t *testing.T, loc, prefix string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, prefix), 10, 64)
	if err != nil {
		t.Fatalf("redirect to %q, want %s<id>", loc, prefix)
	}
	return id
}

func TestComposePages_CreateRefusedKeepsTheTypedFile(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	app.createImageApp(p, "taken")
	envID := p.Environments[0].ID
	bindRoot := "services:\n  web:\n    image: nginx:1.27\n    volumes:\n      - /:/host\n"

	for _, tc := range []struct {
		name, field, value string
		file               string
		message            []string
	}{
		{"YAML syntax error", "", "", "services: [\n", []string{"line 1", "invalid YAML"}},
		{"bind mount of the host root", "", "", bindRoot, []string{"line 5", "bind mount", `"/"`}},
		{"no file", "", "", "   \n", []string{"paste a compose file"}},
		{"name not a DNS label", "name", "Bad_Name", composeFile, []string{"not a DNS label"}},
		{"name taken by an app", "name", "taken", composeFile, []string{"is taken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := composeForm(envID, "cui-ok", tc.file)
			if tc.field != "" {
				form.Set(tc.field, tc.value)
			}
			res := b.postHTMX(fmt.Sprintf("/projects/%d/compose", p.ID), form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			testkit.MustNotContain(t, res.Body, "<html")
			panel := res.doc(t).Find("#new-compose")
			if panel.Length() != 1 {
				t.Fatalf("the new-compose form is not re-rendered:\n%s", testkit.Truncate(res.Body))
			}
			// The pasted file is still in the textarea, exactly as typed.
			if got := panel.Find("textarea[name=compose_file]").Text(); got != tc.file {
				t.Errorf("textarea holds %q, want the pasted %q", got, tc.file)
			}
			if v, _ := panel.Find(`input[name=display_name]`).Attr("value"); v != "Shop cui-ok" {
				t.Errorf("display name %q not kept", v)
			}
			if _, ok := panel.Find(`input[name=source_type][value=inline]`).Attr("checked"); !ok {
				t.Errorf("the source choice was not kept")
			}
			field := "compose_file"
			if tc.field != "" {
				field = tc.field
				if v, _ := panel.Find(fmt.Sprintf(`[name=%q]`, tc.field)).Attr("value"); v != tc.value {
					t.Errorf("%s: input %q, want the submitted %q", tc.field, v, tc.value)
				}
			}
			msg := panel.Find(fmt.Sprintf(`[name=%q]`, field)).Closest(".field.invalid").Find(".error-text, pre.compose-error").Text()
			for _, want := range tc.message {
				if !strings.Contains(msg, want) {
					t.Errorf("message at %s %q does not contain %q", field, msg, want)
				}
			}
			if n := panel.Find(".field.invalid").Length(); n != 1 {
				t.Errorf("%d invalid fields, want 1", n)
			}
		})
	}
	if n := app.count("compose_stacks"); n != 0 {
		t.Errorf("%d stacks stored after refused forms", n)
	}
	// A git stack needs a valid URL; the typed values come back.
	form := composeForm(envID, "cui-git", "")
	form.Set("source_type", "git")
	form.Set("git_url", "not a url")
	res := b.postHTMX(fmt.Sprintf("/projects/%d/compose", p.ID), form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	panel := res.doc(t).Find("#new-compose")
	if v, _ := panel.Find(`[name=git_url]`).Attr("value"); v != "not a url" {
		t.Errorf("git URL %q not kept", v)
	}
	if panel.Find(`[name=git_url]`).Closest(".field.invalid").Length() != 1 {
		t.Errorf("no error at the git URL:\n%s", testkit.Truncate(res.Body))
	}
}

func TestComposePages_EveryTabRenders(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	s := b.createCompose(p, stackName("cui"))
	ctx := context.Background()
	const secret = "s3cret-value-never-shown"
	vars := []db.Variable{{Key: "GREETING", Value: secret}}
	if err := app.store.SetAppVariables(ctx, s.ID, db.VarEnv, vars); err != nil {
		t.Fatal(err)
	}

	base := fmt.Sprintf("/compose/%d", s.ID)
	for _, tab := range []struct{ path, id, want string }{
		{"", "services", "Deploying…"},
		{"/file", "file", "docker-compose.yml"},
		{"/environment", "environment", "Values are used for ${VAR} in the compose file. Tick the box to also add them to every service's environment."},
		{"/domains", "domains", "Applies at once, no redeploy needed."},
		{"/monitoring", "monitoring", "Metrics"},
		{"/deployments", "deployments", "/api/deploy/"},
		{"/settings", "settings", "Danger zone"},
	} {
		full := b.get(base + tab.path)
		wantStatus(t, full, http.StatusOK)
		testkit.MustContain(t, full.Body, "<html", `id="service-header"`, `id="service-body"`, "Compose stack", s.Name)
		testkit.MustNotContain(t, full.Body, secret)
		doc := full.doc(t)
		testkit.MustContain(t, strings.Join(strings.Fields(doc.Find("#service-body").Text()), " "), tab.want)
		active := doc.Find(".service-tabs a.active")
		if active.Length() != 1 || active.AttrOr("data-tab", "") != tab.id {
			t.Errorf("%s: active tab %q", tab.path, active.AttrOr("data-tab", ""))
		}
		if href, _ := active.Attr("href"); href != base+tab.path {
			t.Errorf("%s: active tab links to %q", tab.path, href)
		}
		// The first deploy is queued: the header says so, polls, and
		// offers no Stop.
		if got := doc.Find("#service-header .badge").Text(); !strings.Contains(got, "deploying") {
			t.Errorf("%s: header badge %q, want deploying…", tab.path, got)
		}
		if v, _ := doc.Find("#service-header").Attr("hx-get"); !strings.HasPrefix(v, base+"/header?seen=") || doc.Find("#service-header").AttrOr("hx-trigger", "") != "every 2s" {
			t.Errorf("%s: the header does not poll while an operation is pending", tab.path)
		}
		if doc.Find(`#service-header button[data-action=Stop][disabled]`).Length() != 1 {
			t.Errorf("%s: Stop is not disabled while an operation is pending", tab.path)
		}
		part := b.do(withHeader(b.newRequest(http.MethodGet, base+tab.path, nil), "HX-Request", "true"))
		wantStatus(t, part, http.StatusOK)
		testkit.MustNotContain(t, part.Body, "<html", `id="service-header"`, secret)
		testkit.MustContain(t, part.Body, `class="service-tabs"`)
	}

	// The live partials.
	res := b.get(base + "/services")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="compose-services"`, `hx-trigger="every 2s"`)
	testkit.MustNotContain(t, res.Body, "<html")
	res = b.get(base + "/header")
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="service-header"`, "deploying")

	// The env tab lists the key with a blank value; Reveal shows it.
	env := b.get(base + "/environment").doc(t)
	if v, _ := env.Find(`#compose-env input[name=key]`).First().Attr("value"); v != "GREETING" {
		t.Errorf("env key %q", v)
	}
	env.Find(`#compose-env input[name=value]`).Each(func(_ int, s *goquery.Selection) {
		if v, _ := s.Attr("value"); v != "" {
			t.Errorf("a value is printed: %q", v)
		}
	})
	res = b.postHTMX(base+"/env/reveal", url.Values{"key": {"GREETING"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, secret)

	// The deployment's log page belongs to the stack.
	deps, _ := app.store.Deployments(ctx, s.ID, 1)
	res = b.get(fmt.Sprintf("/deployments/%d", deps[0].ID))
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Deploy #", `href="`+base+`"`)

	// Another project's id is not found.
	wantStatus(t, b.get("/compose/999999"), http.StatusNotFound)
	wantStatus(t, b.get("/compose/999999/settings"), http.StatusNotFound)
}

func TestComposePages_NotDeployedEmptyState(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	s := b.createCompose(p, stackName("cui"))
	ctx := context.Background()
	// Cancel the queued first deploy: the stack is then never deployed.
	deps, _ := app.store.Deployments(ctx, s.ID, 1)
	if err := app.store.FinishDeployment(ctx, deps[0].ID, db.DeployCancelled, "cancelled by user"); err != nil {
		t.Fatal(err)
	}
	doc := b.get(fmt.Sprintf("/compose/%d", s.ID)).doc(t)
	testkit.MustContain(t, doc.Find("#compose-services").Text(), "Not deployed yet — press Deploy")
	if doc.Find(`#service-header button[data-action=Deploy][disabled]`).Length() != 0 {
		t.Errorf("Deploy is disabled on a stack never deployed")
	}
	if doc.Find(`#service-header button[data-action=Stop][disabled]`).Length() != 1 {
		t.Errorf("Stop is offered on a stack never deployed")
	}
	file := b.get(fmt.Sprintf("/compose/%d/file", s.ID)).doc(t)
	testkit.MustContain(t, file.Find("#compose-deployed").Text(), "Nothing deployed yet")

	// Deploy answers the header, which then polls.
	res := b.postHTMX(fmt.Sprintf("/compose/%d/deploy", s.ID), nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, `id="service-header"`, "deploying…", `hx-trigger="every 2s"`)
	for _, action := range []string{"restart", "stop", "start"} {
		res := b.postHTMX(fmt.Sprintf("/compose/%d/%s", s.ID, action), nil)
		wantStatus(t, res, http.StatusOK)
		testkit.MustContain(t, res.Body, `id="service-header"`, "…")
	}
}

func TestComposePages_SaveFileEnvAndSettings(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	s := b.createCompose(p, stackName("cui"))
	base := fmt.Sprintf("/compose/%d", s.ID)
	ctx := context.Background()

	// A refused file keeps the typed text and shows the line.
	bad := "services:\n  web:\n    image: nginx:1.27\n    ports:\n      - \"abc\"\n"
	res := b.postHTMX(base+"/file", url.Values{"compose_file": {bad}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	doc := res.doc(t)
	if got := doc.Find("textarea[name=compose_file]").Text(); got != bad {
		t.Errorf("textarea %q, want the typed file", got)
	}
	if msg := doc.Find("pre.compose-error").Text(); !strings.Contains(msg, "line 5") {
		t.Errorf("error %q has no line", msg)
	}
	testkit.MustContain(t, res.Body, "Nothing was saved")
	if got, _ := app.store.Compose(ctx, s.ID); got.ComposeFile != composeFile {
		t.Errorf("a refused file was saved: %q", got.ComposeFile)
	}

	// A valid one is saved; "Save and deploy" queues a deploy too.
	next := composeFile + "  worker:\n    image: nginx:1.27\n"
	res = b.postHTMX(base+"/file", url.Values{"compose_file": {next}, "deploy": {""}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Saved. Deploy to apply it.")
	if got, _ := app.store.Compose(ctx, s.ID); got.ComposeFile != next {
		t.Errorf("file not saved: %q", got.ComposeFile)
	}
	res = b.postHTMX(base+"/file", url.Values{"compose_file": {next}, "deploy": {"yes"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "A deploy is queued", `hx-swap-oob="outerHTML"`)

	// Env: the value is stored, never echoed; inject_env follows the box.
	res = b.postHTMX(base+"/env", url.Values{"key": {"GREETING"}, "value": {"bonjour-secret"}, "inject_env": {"on"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "bonjour-secret")
	testkit.MustContain(t, res.Body, "Variables saved")
	vars, _ := app.store.AppVariables(ctx, s.ID, db.VarEnv)
	if len(vars) != 1 || vars[0].Value != "bonjour-secret" {
		t.Errorf("env %v", vars)
	}
	if got, _ := app.store.Compose(ctx, s.ID); !got.InjectEnv {
		t.Errorf("inject_env not saved")
	}
	// A blank value keeps the stored one.
	res = b.postHTMX(base+"/env", url.Values{"key": {"GREETING"}, "value": {""}})
	wantStatus(t, res, http.StatusOK)
	vars, _ = app.store.AppVariables(ctx, s.ID, db.VarEnv)
	if len(vars) != 1 || vars[0].Value != "bonjour-secret" {
		t.Errorf("env after a blank value %v", vars)
	}
	if got, _ := app.store.Compose(ctx, s.ID); got.InjectEnv {
		t.Errorf("inject_env not cleared")
	}
	res = b.postHTMX(base+"/env", url.Values{"key": {"GREETING", "NEW_ONE"}, "value": {"", "typed-value"}, "dotenv": {"not a line"}, "inject_env": {"on"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "Nothing was saved", `value="NEW_ONE"`, `value="typed-value"`, "not a line")
	if doc := res.doc(t); doc.Find(`input[name=inject_env][checked]`).Length() != 1 {
		t.Errorf("the ticked inject box was not kept")
	}
	if vars, _ := app.store.AppVariables(ctx, s.ID, db.VarEnv); len(vars) != 1 || vars[0].Key != "GREETING" {
		t.Errorf("a refused form changed the env: %v", vars)
	}

	// Settings: the Docker socket alone is refused; bind mounts are saved.
	res = b.postHTMX(base+"/settings", url.Values{"display_name": {"Shop"}, "allow_docker_socket": {"on"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "needs bind mounts allowed too")
	if doc := res.doc(t); doc.Find(`input[name=allow_docker_socket][checked]`).Length() != 1 {
		t.Errorf("the ticked box was not kept")
	}
	res = b.postHTMX(base+"/settings", url.Values{"display_name": {"Shop front"}, "allow_bind_mounts": {"on"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Saved", "Shop front")
	got, _ := app.store.Compose(ctx, s.ID)
	if !got.BindMounts || got.DockerSocket || got.DisplayName != "Shop front" {
		t.Errorf("settings stored %+v", got.ComposeAllow)
	}
	// Every box of the Security fieldset warns about root on the host.
	page := b.get(base + "/settings").doc(t)
	boxes := page.Find(`fieldset.security input[type=checkbox]`)
	if boxes.Length() != 5 {
		t.Errorf("%d security checkboxes, want 5", boxes.Length())
	}
	page.Find("fieldset.security label.allow").Each(func(_ int, l *goquery.Selection) {
		if !strings.Contains(l.Text(), "root on the host") {
			t.Errorf("checkbox %q without its warning", strings.TrimSpace(l.Text()))
		}
	})
	// With bind mounts allowed the host root mount loads.
	res = b.postHTMX(base+"/file", url.Values{"compose_file": {"services:\n  web:\n    image: nginx:1.27\n    volumes:\n      - /srv:/srv\n"}})
	wantStatus(t, res, http.StatusOK)
}

func TestComposePages_DomainsAndRollback(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	s := b.createCompose(p, stackName("cui"))
	base := fmt.Sprintf("/compose/%d", s.ID)
	ctx := context.Background()

	// The service select lists the file's services.
	doc := b.get(base + "/domains").doc(t)
	var opts []string
	doc.Find(`select[name=service] option`).Each(func(_ int, o *goquery.Selection) { opts = append(opts, o.AttrOr("value", "")) })
	if strings.Join(opts, ",") != "cache,web" {
		t.Errorf("service options %v", opts)
	}
	res := b.postHTMX(base+"/domains", url.Values{"service": {"nope"}, "host": {"shop.example.com"}, "path": {"/"}, "port": {"80"}, "certificate": {"none"}, "enabled": {"on"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, uiText(t, res), `the stack has no service "nope"`)
	if v, _ := res.doc(t).Find(`#compose-domain-add input[name=host]`).Attr("value"); v != "shop.example.com" {
		t.Errorf("host %q not kept", v)
	}
	res = b.postHTMX(base+"/domains", url.Values{"service": {"web"}, "host": {"shop.example.com"}, "path": {"/"}, "port": {"80"}, "certificate": {"none"}, "enabled": {"on"}})
	wantStatus(t, res, http.StatusOK)
	doc = res.doc(t)
	row := doc.Find(`tr[data-domain="shop.example.com"]`)
	if row.Length() != 1 || !strings.Contains(row.Text(), "web") {
		t.Fatalf("domain row missing:\n%s", testkit.Truncate(res.Body))
	}
	domains, _ := app.store.ComposeDomains(ctx, s.ID)
	if len(domains) != 1 || domains[0].ComposeService != "web" {
		t.Fatalf("domains %v", domains)
	}
	res = b.postHTMX(fmt.Sprintf("%s/domains/%d/delete", base, domains[0].ID), nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "removed", "No domains")
	// Another stack's domain is not found through this one.
	other := b.createCompose(p, stackName("cui"))
	res = b.postHTMX(fmt.Sprintf("/compose/%d/domains", other.ID), url.Values{"service": {"web"}, "host": {"other.example.com"}, "path": {"/"}, "port": {"80"}, "certificate": {"none"}})
	wantStatus(t, res, http.StatusOK)
	od, _ := app.store.ComposeDomains(ctx, other.ID)
	wantStatus(t, b.postHTMX(fmt.Sprintf("%s/domains/%d/delete", base, od[0].ID), nil), http.StatusNotFound)

	// A rollback needs a successful deploy that recorded its file.
	deps, _ := app.store.Deployments(ctx, s.ID, 1)
	first := deps[0]
	if err := app.store.FinishDeployment(ctx, first.ID, db.DeployDone, ""); err != nil {
		t.Fatal(err)
	}
	res = b.postHTMX(fmt.Sprintf("%s/deployments/%d/rollback", base, first.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	testkit.MustContain(t, res.Body, "recorded no compose file")
	if err := app.store.SaveComposeDeployment(ctx, &db.ComposeDeployment{DeploymentID: first.ID, Source: composeFile,
		Rendered: "services:\n  web:\n    image: nginx:1.27\n", Images: map[string]string{"web": "nginx:1.27"}}); err != nil {
		t.Fatal(err)
	}
	second, _ := app.store.CreateDeployment(ctx, s.ID, "user", "test")
	_ = app.store.FinishDeployment(ctx, second.ID, db.DeployDone, "")
	_ = app.store.SaveComposeDeployment(ctx, &db.ComposeDeployment{DeploymentID: second.ID, Source: composeFile,
		Rendered: "services:\n  web:\n    image: nginx:1.28\n", Images: map[string]string{"web": "nginx:1.28"}, Warnings: []string{"container_name is ignored"}})

	doc = b.get(base + "/deployments").doc(t)
	if doc.Find(fmt.Sprintf(`tr[data-op="%d"] button`, first.ID)).Length() != 1 {
		t.Errorf("no Roll back on the earlier deploy")
	}
	if !strings.Contains(doc.Find(fmt.Sprintf(`tr[data-op="%d"]`, second.ID)).Text(), "in service") {
		t.Errorf("the current deploy is not marked in service")
	}
	file := b.get(base + "/file").doc(t)
	testkit.MustContain(t, file.Find("#compose-rendered").Text(), "nginx:1.28")
	testkit.MustContain(t, file.Find("#compose-deployed .flash.warn").Text(), "container_name is ignored")
	if file.Find("#compose-diff .d.add").Text() == "" || !strings.Contains(file.Find("#compose-diff .d.del").Text(), "nginx:1.27") {
		t.Errorf("diff:\n%s", file.Find("#compose-diff").Text())
	}

	res = b.postHTMX(fmt.Sprintf("%s/deployments/%d/rollback", base, first.ID), nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, fmt.Sprintf("A rollback to #%d is queued", first.ID), `hx-swap-oob="outerHTML"`)
	deps, _ = app.store.Deployments(ctx, s.ID, 1)
	if deps[0].RollbackOf == nil || *deps[0].RollbackOf != first.ID {
		t.Errorf("newest deployment %+v, want a rollback of %d", deps[0], first.ID)
	}
}

func TestComposePages_DeleteNeedsAVolumeChoice(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	s := b.createCompose(p, stackName("cui"))
	base := fmt.Sprintf("/compose/%d", s.ID)

	page := b.get(base + "/settings").doc(t)
	radios := page.Find(`#service-delete input[name=volumes]`)
	if radios.Length() != 2 {
		t.Fatalf("%d volume choices", radios.Length())
	}
	radios.Each(func(_ int, r *goquery.Selection) {
		if _, checked := r.Attr("checked"); checked {
			t.Errorf("a volume choice is preselected")
		}
	})
	testkit.MustContain(t, page.Text(), "cannot be undone")

	res := b.postHTMX(base+"/delete", nil)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, uiText(t, res), "choose whether to keep the stack's named volumes")
	res = b.postHTMX(base+"/delete", url.Values{"volumes": {"maybe"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if _, err := app.store.Compose(context.Background(), s.ID); err != nil {
		t.Fatalf("deleted without a choice: %v", err)
	}
	res = b.postHTMX(base+"/delete", url.Values{"volumes": {"keep"}})
	wantStatus(t, res, http.StatusOK)
	if res.location() != fmt.Sprintf("/projects/%d", p.ID) {
		t.Errorf("redirect to %q", res.location())
	}
	if _, err := app.store.Compose(context.Background(), s.ID); err == nil {
		t.Errorf("the stack is still stored")
	}
	wantStatus(t, b.get(base), http.StatusNotFound)
}

// TestParity_ComposeCreate: the project page's form and POST /api/v1/compose
// refuse the same input alike, through the one ops.CreateCompose.
func TestParity_ComposeCreate(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	p := a.createProject("shop")
	a.createImageApp(p, "taken")
	envID := p.Environments[0].ID
	for _, tc := range []struct {
		name, stack, file string
		status            int
		field, contains   string
	}{
		{"YAML syntax error", "cui-a", "services: [\n", 422, "compose_file", "line 1"},
		{"host root bind mount", "cui-b", "services:\n  web:\n    image: nginx:1.27\n    volumes:\n      - /:/host\n", 422, "compose_file", "bind mount"},
		{"empty file", "cui-c", "", 422, "compose_file", "paste a compose file"},
		{"name taken by an app", "taken", composeFile, 409, "name", "is taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/projects/%d/compose", p.ID), composeForm(envID, tc.stack, tc.file))
			api, body := a.apiJSON(http.MethodPost, "/api/v1/compose", token, map[string]any{
				"name": tc.stack, "display_name": "Shop " + tc.stack, "environment_id": envID, "compose_file": tc.file, "deploy": false})
			wantSameRefusal(t, ui, api, body, tc.status, tc.field, tc.contains)
		})
	}
	if n := a.count("compose_stacks"); n != 0 {
		t.Errorf("refused creates stored %d stacks", n)
	}
}
