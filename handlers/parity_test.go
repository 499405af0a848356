package handlers

// Parity tests: every write the UI and the API both offer is one function
// in jobs/ops, so the same input must give the same result through either
// front-end: the same refusal (status, message, field) with nothing
// written, and the same stored state on success. Each test drives one
// resource through a signed-in browser (HTMX form posts) and an API token.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

// parityClients signs the admin in and returns the browser and an API token.
func parityClients(a *testApp) (*browser, string) {
	a.t.Helper()
	b := a.setupAdmin()
	u, err := a.store.UserByEmail(context.Background(), adminEmail)
	if err != nil {
		a.t.Fatal(err)
	}
	_, token, err := a.store.CreateAPIToken(context.Background(), u.ID, "parity", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		a.t.Fatal(err)
	}
	return b, token
}

// uiText is the visible text of a UI response (entities decoded), with
// whitespace collapsed, so a message can be looked for as the user reads it.
func uiText(t *testing.T, res *response) string {
	t.Helper()
	return strings.Join(strings.Fields(res.doc(t).Text()), " ")
}

// wantSameRefusal checks that the UI and the API refused the same input
// alike: both with status, the API naming field and a message containing
// contains, and the UI showing that same message. One difference is the
// dashboard's rule: a form re-rendered in place with its errors answers
// 422 whatever the reason (a taken name included), so a 409 of the API is
// a 422 of the UI when the UI shows the message inside the form.
func wantSameRefusal(t *testing.T, ui, api *response, body map[string]any, status int, field, contains string) {
	t.Helper()
	if api.Code != status {
		t.Errorf("API: want status %d, got %d: %s", status, api.Code, testkit.Truncate(api.Body))
	}
	inForm := ui.Code == http.StatusUnprocessableEntity && status == http.StatusConflict &&
		ui.doc(t).Find(".error-text, .flash.error").Length() > 0
	if ui.Code != status && !inForm {
		t.Errorf("UI/API drift: UI answered %d, API %d (want %d for both, or 422 for a conflict shown in the form)", ui.Code, api.Code, status)
	}
	msg, _ := body["error"].(string)
	if msg == "" {
		t.Fatalf("API: no error message in %s", api.Body)
	}
	if !strings.Contains(msg, contains) {
		t.Errorf("API: message %q does not contain %q", msg, contains)
	}
	if got, _ := body["field"].(string); got != field {
		t.Errorf("API: want field %q, got %q (%s)", field, got, api.Body)
	}
	if text := uiText(t, ui); !strings.Contains(text, strings.Join(strings.Fields(msg), " ")) {
		t.Errorf("UI/API drift: the UI does not show the API's message %q:\n%s", msg, testkit.Truncate(ui.Body))
	}
}

func jsonID(t *testing.T, body map[string]any) int64 {
	t.Helper()
	f, ok := body["id"].(float64)
	if !ok {
		t.Fatalf("no id in %v", body)
	}
	return int64(f)
}

func apiItems(t *testing.T, a *testApp, token, path string) []map[string]any {
	t.Helper()
	res, body := a.apiJSON(http.MethodGet, path, token, nil)
	wantStatus(t, res, http.StatusOK)
	raw, _ := body["items"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		out = append(out, it.(map[string]any))
	}
	return out
}

// pick returns only the named keys of m, for comparing stored state.
func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

func TestParity_Projects(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)

	// Valid input: same stored project, with its production environment.
	wantStatus(t, b.postHTMX("/projects", url.Values{"name": {"UI shop"}}), http.StatusOK)
	res, _ := a.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": "API shop"})
	wantStatus(t, res, http.StatusCreated)
	byName := map[string]map[string]any{}
	for _, p := range apiItems(t, a, token, "/api/v1/projects") {
		byName[p["name"].(string)] = p
	}
	for _, name := range []string{"UI shop", "API shop"} {
		p := byName[name]
		if p == nil {
			t.Fatalf("project %q not stored: %v", name, byName)
		}
		envs, _ := p["environments"].([]any)
		if len(envs) != 1 || envs[0].(map[string]any)["name"] != db.DefaultEnvironment {
			t.Errorf("project %q environments = %v, want [production]", name, p["environments"])
		}
	}

	// Refused input: same status, message and field; nothing written.
	for _, tc := range []struct {
		name, input string
		status      int
		contains    string
	}{
		{"shell characters", "a;rm -rf /", 422, "may contain only"},
		{"blank", "   ", 422, "name is required"},
		{"too long", strings.Repeat("a", 65), 422, "at most 64 characters"},
		{"taken name", "UI shop", 409, "already exists"},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			ui := b.postHTMX("/projects", url.Values{"name": {tc.input}})
			api, body := a.apiJSON(http.MethodPost, "/api/v1/projects", token, map[string]any{"name": tc.input})
			wantSameRefusal(t, ui, api, body, tc.status, "name", tc.contains)
		})
	}
	if n := a.count("projects"); n != 2 {
		t.Errorf("refused creates wrote projects: %d rows, want 2", n)
	}

	uiID, apiID := jsonID(t, byName["UI shop"]), jsonID(t, byName["API shop"])
	a.createProject("taken") // the name both renames collide with
	for _, tc := range []struct {
		name, input string
		status      int
		contains    string
	}{
		{"shell characters", "$(id)", 422, "may contain only"},
		{"taken name", "taken", 409, "a project named taken already exists"},
	} {
		t.Run("rename "+tc.name, func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/projects/%d/rename", uiID), url.Values{"name": {tc.input}})
			api, body := a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/projects/%d", apiID), token, map[string]any{"name": tc.input})
			wantSameRefusal(t, ui, api, body, tc.status, "name", tc.contains)
		})
	}
	// Valid renames store the same name.
	wantStatus(t, b.postHTMX(fmt.Sprintf("/projects/%d/rename", uiID), url.Values{"name": {" UI store "}}), http.StatusOK)
	res, body := a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/projects/%d", apiID), token, map[string]any{"name": " API store "})
	wantStatus(t, res, http.StatusOK)
	if body["name"] != "API store" {
		t.Errorf("API rename stored %q, want the trimmed %q", body["name"], "API store")
	}
	if p, _ := a.store.Project(context.Background(), uiID); p.Name != "UI store" {
		t.Errorf("UI rename stored %q, want the trimmed %q", p.Name, "UI store")
	}

	// A project with apps is refused alike; an empty one is deleted by both.
	p1, _ := a.store.Project(context.Background(), uiID)
	p2, _ := a.store.Project(context.Background(), apiID)
	a.createImageApp(p1, "ui-web")
	a.createImageApp(p2, "api-web")
	ui := b.postHTMX(fmt.Sprintf("/projects/%d/delete", uiID), nil)
	api, body := a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/projects/%d", apiID), token, nil)
	wantSameRefusal(t, ui, api, body, 409, "", "still has applications")
	if n := a.count("projects"); n != 3 {
		t.Errorf("refused deletes removed projects: %d left, want 3", n)
	}
	e1 := a.createProject("empty one")
	e2 := a.createProject("empty two")
	wantStatus(t, b.postHTMX(fmt.Sprintf("/projects/%d/delete", e1.ID), nil), http.StatusOK)
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/projects/%d", e2.ID), token, nil)
	wantStatus(t, res, http.StatusNoContent)
	for _, id := range []int64{e1.ID, e2.ID} {
		res, body := a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/projects/%d", id), token, nil)
		wantAPIError(t, res, body, http.StatusNotFound, "")
	}
}

func TestParity_Environments(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	pu := a.createProject("ui project")
	pa := a.createProject("api project")
	uiPath := fmt.Sprintf("/projects/%d/environments", pu.ID)
	apiPath := fmt.Sprintf("/api/v1/projects/%d/environments", pa.ID)

	wantStatus(t, b.postHTMX(uiPath, url.Values{"name": {" staging "}}), http.StatusOK)
	res, _ := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"name": " staging "})
	wantStatus(t, res, http.StatusCreated)
	names := func(p *db.Project) []string {
		var out []string
		for _, e := range apiItems(t, a, token, fmt.Sprintf("/api/v1/projects/%d/environments", p.ID)) {
			out = append(out, e["name"].(string))
		}
		return out
	}
	if u, p := names(pu), names(pa); !reflect.DeepEqual(u, p) || len(u) != 2 {
		t.Errorf("environments differ: UI project %v, API project %v", u, p)
	}

	for _, tc := range []struct {
		name, input string
		status      int
		contains    string
	}{
		{"shell characters", "a;rm -rf /", 422, "may contain only"},
		{"taken name", "staging", 409, "already has an environment named staging"},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			ui := b.postHTMX(uiPath, url.Values{"name": {tc.input}})
			api, body := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"name": tc.input})
			wantSameRefusal(t, ui, api, body, tc.status, "name", tc.contains)
		})
	}
	if n := a.count("environments"); n != 4 {
		t.Errorf("refused creates wrote environments: %d rows, want 4", n)
	}

	uiEnv, err := a.store.EnvironmentByName(context.Background(), pu.ID, "staging")
	if err != nil {
		t.Fatal(err)
	}
	apiEnv, err := a.store.EnvironmentByName(context.Background(), pa.ID, "staging")
	if err != nil {
		t.Fatal(err)
	}
	apiEnvPath := fmt.Sprintf("/api/v1/projects/%d/environments/%d", pa.ID, apiEnv.ID)
	for _, tc := range []struct {
		name, input string
		status      int
		contains    string
	}{
		{"shell characters", "$(id)", 422, "may contain only"},
		{"taken name", "production", 409, "already has an environment named production"},
	} {
		t.Run("rename "+tc.name, func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/environments/%d/rename", uiEnv.ID), url.Values{"name": {tc.input}})
			api, body := a.apiJSON(http.MethodPatch, apiEnvPath, token, map[string]any{"name": tc.input})
			wantSameRefusal(t, ui, api, body, tc.status, "name", tc.contains)
		})
	}
	wantStatus(t, b.postHTMX(fmt.Sprintf("/environments/%d/rename", uiEnv.ID), url.Values{"name": {"qa"}}), http.StatusOK)
	res, _ = a.apiJSON(http.MethodPatch, apiEnvPath, token, map[string]any{"name": "qa"})
	wantStatus(t, res, http.StatusOK)
	if u, p := names(pu), names(pa); !reflect.DeepEqual(u, p) || !strings.Contains(strings.Join(u, ","), "qa") {
		t.Errorf("after rename: UI project %v, API project %v", u, p)
	}

	// Deleting an environment with apps is refused alike; an empty one goes.
	a.createImageApp(pu, "ui-web")
	a.createImageApp(pa, "api-web")
	ui := b.postHTMX(fmt.Sprintf("/environments/%d/delete", pu.Environments[0].ID), nil)
	api, body := a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/projects/%d/environments/%d", pa.ID, pa.Environments[0].ID), token, nil)
	wantSameRefusal(t, ui, api, body, 409, "", "still has applications")
	wantStatus(t, b.postHTMX(fmt.Sprintf("/environments/%d/delete", uiEnv.ID), nil), http.StatusOK)
	res, _ = a.apiJSON(http.MethodDelete, apiEnvPath, token, nil)
	wantStatus(t, res, http.StatusNoContent)
	if u, p := names(pu), names(pa); !reflect.DeepEqual(u, p) || len(u) != 1 {
		t.Errorf("after delete: UI project %v, API project %v", u, p)
	}
}

// appState is what a user checks of a stored app.
func appState(t *testing.T, a *testApp, id int64) map[string]any {
	t.Helper()
	got, err := a.store.App(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"name": got.Name, "source": got.SourceType, "git_url": got.GitURL, "branch": got.GitBranch,
		"context": got.GitContext, "dockerfile": got.GitDockerfile, "port": got.Port, "replicas": got.Replicas,
		"memory": got.MemoryLimitMB, "cpu": got.CPULimit, "status": got.Status, "env": got.EnvironmentID,
	}
}

func TestParity_Applications(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	p := a.createProject("shop")
	envID := p.Environments[0].ID
	create := fmt.Sprintf("/projects/%d/apps", p.ID)
	apiBody := func(appName string) map[string]any {
		body := gitAppBody(p.ID, appName)
		delete(body, "env")
		delete(body["source"].(map[string]any), "token")
		return body
	}

	// The same valid app through both front-ends is stored alike.
	wantStatus(t, b.postHTMX(create, gitAppForm(envID, "ui-web")), http.StatusOK)
	res, body := a.apiJSON(http.MethodPost, "/api/v1/applications", token, apiBody("api-web"))
	wantStatus(t, res, http.StatusCreated)
	apiApp := jsonID(t, body)
	uiA, err := a.store.AppByName(context.Background(), "ui-web")
	if err != nil {
		t.Fatal(err)
	}
	if u, p := appState(t, a, uiA.ID), appState(t, a, apiApp); !reflect.DeepEqual(u, p) {
		t.Errorf("created apps differ:\nUI  %v\nAPI %v", u, p)
	}

	// Refused creates: same status, message and field; nothing written.
	a.createImageApp(p, "taken-web") // the app name both creates collide with
	for _, tc := range []struct {
		name, field, uiValue string
		apiMutate            func(map[string]any)
		status               int
		contains             string
	}{
		{"taken app name", "app_name", "taken-web", func(m map[string]any) { m["app_name"] = "taken-web" }, 409, `app name "taken-web" is taken`},
		{"invalid app name", "app_name", "Bad_Name", func(m map[string]any) { m["app_name"] = "Bad_Name" }, 422, "lowercase letters"},
		{"git url transport", "git_url", "ext::sh", func(m map[string]any) { m["source"].(map[string]any)["url"] = "ext::sh" }, 422, "transport helpers"},
		{"port out of range", "port", "70000", func(m map[string]any) { m["port"] = 70000 }, 422, "between 1 and 65535"},
		{"replicas", "replicas", "101", func(m map[string]any) { m["replicas"] = 101 }, 422, "between 0 and 100"},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			form := gitAppForm(envID, "new-ui")
			form.Set(tc.field, tc.uiValue)
			ui := b.postHTMX(create, form)
			body := apiBody("new-api")
			tc.apiMutate(body)
			api, out := a.apiJSON(http.MethodPost, "/api/v1/applications", token, body)
			wantSameRefusal(t, ui, api, out, tc.status, tc.field, tc.contains)
		})
	}
	if n := a.count("applications"); n != 3 {
		t.Errorf("refused creates wrote apps: %d rows, want 3", n)
	}

	// Updates: the same change is stored alike, the same bad field refused alike.
	uiUpdate := gitAppForm(0, "")
	uiUpdate.Set("port", "8080")
	uiUpdate.Set("git_branch", "develop")
	res = b.postHTMX(fmt.Sprintf("/apps/%d", uiA.ID), uiUpdate)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Saved.")
	res, _ = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", apiApp), token,
		map[string]any{"port": 8080, "source": map[string]any{"branch": "develop"}})
	wantStatus(t, res, http.StatusOK)
	uState, aState := appState(t, a, uiA.ID), appState(t, a, apiApp)
	if !reflect.DeepEqual(uState, aState) || uState["port"] != 8080 || uState["branch"] != "develop" {
		t.Errorf("updated apps differ:\nUI  %v\nAPI %v", uState, aState)
	}
	for _, tc := range []struct {
		name, field, uiValue string
		apiBody              map[string]any
		contains             string
	}{
		{"port zero", "port", "0", map[string]any{"port": 0}, "between 1 and 65535"},
		{"branch with dots", "git_branch", "a..b", map[string]any{"source": map[string]any{"branch": "a..b"}}, "'..'"},
		{"display name", "name", "$(id)", map[string]any{"name": "$(id)"}, "may contain only"},
	} {
		t.Run("update "+tc.name, func(t *testing.T) {
			form := gitAppForm(0, "")
			form.Set("port", "8080")
			form.Set("git_branch", "develop")
			form.Set(tc.field, tc.uiValue)
			ui := b.postHTMX(fmt.Sprintf("/apps/%d", uiA.ID), form)
			api, out := a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", apiApp), token, tc.apiBody)
			wantSameRefusal(t, ui, api, out, 422, tc.field, tc.contains)
			if u := appState(t, a, uiA.ID); !reflect.DeepEqual(u, uState) {
				t.Errorf("refused UI update changed the app: %v", u)
			}
			if p := appState(t, a, apiApp); !reflect.DeepEqual(p, aState) {
				t.Errorf("refused API update changed the app: %v", p)
			}
		})
	}
}

func TestParity_AppEnv(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	p := a.createProject("shop")
	uiA := a.createImageApp(p, "ui-web")
	apiA := a.createImageApp(p, "api-web")
	readEnv := func(id int64) map[string]any {
		res, body := a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d/env?reveal=true", id), token, nil)
		wantStatus(t, res, http.StatusOK)
		env, _ := body["env"].(map[string]any)
		return env
	}

	want := map[string]any{"DATABASE_URL": "postgres://app:pw@db/app", "GREETING": "two words", "EMPTY": ""}
	res := b.postHTMX(fmt.Sprintf("/apps/%d/env", uiA.ID), url.Values{
		"key": {"DATABASE_URL", "GREETING", "EMPTY"}, "value": {"postgres://app:pw@db/app", "two words", ""}})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodPut, fmt.Sprintf("/api/v1/applications/%d/env", apiA.ID), token,
		map[string]any{"env": map[string]string{"DATABASE_URL": "postgres://app:pw@db/app", "GREETING": "two words", "EMPTY": ""}})
	wantStatus(t, res, http.StatusOK)
	if u, p := readEnv(uiA.ID), readEnv(apiA.ID); !reflect.DeepEqual(u, p) || !reflect.DeepEqual(u, want) {
		t.Errorf("stored env differs:\nUI  %v\nAPI %v\nwant %v", u, p, want)
	}

	for _, tc := range []struct{ name, key string }{
		{"key with dash", "BAD-KEY"},
		{"key starting with a digit", "1ABC"},
		{"key with shell", "A;rm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/apps/%d/env", uiA.ID), url.Values{"key": {"GREETING", tc.key}, "value": {"changed", "v"}})
			api, body := a.apiJSON(http.MethodPut, fmt.Sprintf("/api/v1/applications/%d/env", apiA.ID), token,
				map[string]any{"env": map[string]string{"GREETING": "changed", tc.key: "v"}})
			wantSameRefusal(t, ui, api, body, 422, "env", "")
			if u, p := readEnv(uiA.ID), readEnv(apiA.ID); !reflect.DeepEqual(u, want) || !reflect.DeepEqual(p, want) {
				t.Errorf("a refused save changed the env:\nUI  %v\nAPI %v", u, p)
			}
		})
	}
}

// parityRoutingApps returns a routing test app with two apps, one driven
// through the UI and one through the API, each with a domain so that its
// Traefik file exists.
func parityRoutingApps(t *testing.T) (*routingApp, *browser, string, *db.App, *db.App) {
	t.Helper()
	a := newRoutingApp(t)
	b, token := parityClients(a.testApp)
	uiA := a.CreateApp("par-ui")
	apiA := a.CreateApp("par-api")
	a.AddDomain(uiA, db.Domain{Host: "ui.parity.example"})
	a.AddDomain(apiA, db.Domain{Host: "api.parity.example"})
	return a, b, token, uiA, apiA
}

func TestParity_Domains(t *testing.T) {
	t.Parallel()
	a := newRoutingApp(t)
	b, token := parityClients(a.testApp)
	app := a.CreateApp("shop")
	uiPath := fmt.Sprintf("/apps/%d/domains", app.ID)
	apiPath := fmt.Sprintf("/api/v1/applications/%d/domains", app.ID)
	fields := []string{"host", "path", "strip_path", "internal_path", "port", "https", "certificate", "enabled"}

	// The same input created through the UI, then (after removing it)
	// through the API, is stored the same and routed the same.
	res := b.postHTMX(uiPath, url.Values{"host": {"Bücher.Example"}, "path": {"/shop"}, "strip_path": {"on"},
		"internal_path": {"/"}, "port": {"9090"}, "https": {"on"}, "certificate": {"letsencrypt"}, "enabled": {"on"}})
	wantStatus(t, res, http.StatusOK)
	items := apiItems(t, a.testApp, token, apiPath)
	if len(items) != 1 {
		t.Fatalf("after UI create: %v", items)
	}
	viaUI := pick(items[0], fields...)
	uiFile := a.File("shop")
	testkit.MustContain(t, uiFile, "Host(`xn--bcher-kva.example`)", "PathPrefix(`/shop`)", "http://shop:9090", "certResolver: letsencrypt")
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/domains/%d", jsonID(t, items[0])), token, nil)
	wantStatus(t, res, http.StatusNoContent)
	if f := a.File("shop"); f != "" {
		t.Fatalf("API delete of the UI's domain left the file:\n%s", f)
	}

	res, out := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"host": "Bücher.Example", "path": "/shop", "strip_path": true,
		"internal_path": "/", "port": 9090, "https": true, "certificate": "letsencrypt", "enabled": true})
	wantStatus(t, res, http.StatusCreated)
	items = apiItems(t, a.testApp, token, apiPath)
	if len(items) != 1 {
		t.Fatalf("after API create: %v", items)
	}
	viaAPI := pick(items[0], fields...)
	if !reflect.DeepEqual(viaUI, viaAPI) || viaUI["host"] != "xn--bcher-kva.example" {
		t.Errorf("stored domains differ:\nUI  %v\nAPI %v", viaUI, viaAPI)
	}
	testkit.MustContain(t, a.File("shop"), "Host(`xn--bcher-kva.example`)", "PathPrefix(`/shop`)", "http://shop:9090", "certResolver: letsencrypt")
	domainID := jsonID(t, out)

	// The same edit through both is stored alike.
	res = b.postHTMX(fmt.Sprintf("/domains/%d", domainID), url.Values{"host": {"Bücher.Example"}, "path": {"/store"},
		"internal_path": {"/"}, "port": {"3000"}, "https": {"on"}, "certificate": {"letsencrypt"}, "enabled": {"on"}})
	wantStatus(t, res, http.StatusOK)
	afterUI := pick(apiItems(t, a.testApp, token, apiPath)[0], fields...)
	testkit.MustContain(t, a.File("shop"), "PathPrefix(`/store`)", "http://shop:3000")
	res, _ = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/domains/%d", domainID), token, map[string]any{"path": "/shop", "port": 9090, "strip_path": true})
	wantStatus(t, res, http.StatusOK)
	if got := pick(apiItems(t, a.testApp, token, apiPath)[0], fields...); !reflect.DeepEqual(got, viaAPI) {
		t.Errorf("API edit back: %v, want %v", got, viaAPI)
	}
	if afterUI["path"] != "/store" || afterUI["port"] != float64(3000) || afterUI["strip_path"] != false {
		t.Errorf("UI edit stored %v", afterUI)
	}

	// Refused input: the same through both, nothing saved or routed.
	before := a.File("shop")
	for _, tc := range []struct {
		name     string
		form     url.Values
		body     map[string]any
		field    string
		contains string
	}{
		{"path without slash", url.Values{"host": {"x.example.com"}, "path": {"api"}, "port": {"80"}, "certificate": {"none"}},
			map[string]any{"host": "x.example.com", "path": "api", "port": 80, "certificate": "none"}, "path", "start with /"},
		{"wildcard host", url.Values{"host": {"*.example.com"}, "path": {"/"}, "port": {"80"}, "certificate": {"none"}},
			map[string]any{"host": "*.example.com", "path": "/", "port": 80, "certificate": "none"}, "host", "wildcard"},
		{"port too big", url.Values{"host": {"x.example.com"}, "path": {"/"}, "port": {"70000"}, "certificate": {"none"}},
			map[string]any{"host": "x.example.com", "path": "/", "port": 70000, "certificate": "none"}, "port", "1 and 65535"},
		{"custom without certificate", url.Values{"host": {"x.example.com"}, "path": {"/"}, "port": {"80"}, "https": {"on"}, "certificate": {"custom"}},
			map[string]any{"host": "x.example.com", "path": "/", "port": 80, "https": true, "certificate": "custom"}, "certificate_id", "choose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX(uiPath, tc.form)
			api, body := a.apiJSON(http.MethodPost, apiPath, token, tc.body)
			wantSameRefusal(t, ui, api, body, 422, tc.field, tc.contains)
		})
	}
	if n := a.count("domains"); n != 1 {
		t.Errorf("refused domains were saved: %d rows, want 1", n)
	}
	if f := a.File("shop"); f != before {
		t.Errorf("refused input changed the Traefik file:\n%s", f)
	}

	// Removing through the UI takes it out of the file, as the API did.
	wantStatus(t, b.postHTMX(fmt.Sprintf("/domains/%d/delete", domainID), nil), http.StatusOK)
	if f := a.File("shop"); f != "" {
		t.Errorf("UI delete left the file:\n%s", f)
	}
}

func TestParity_BasicAuth(t *testing.T) {
	t.Parallel()
	a, b, token, uiA, apiA := parityRoutingApps(t)
	uiPath := fmt.Sprintf("/apps/%d/basic-auth", uiA.ID)
	apiPath := fmt.Sprintf("/api/v1/applications/%d/basic-auth", apiA.ID)
	users := func(app *db.App) []string {
		var out []string
		for _, u := range apiItems(t, a.testApp, token, fmt.Sprintf("/api/v1/applications/%d/basic-auth", app.ID)) {
			out = append(out, u["username"].(string))
		}
		return out
	}

	wantStatus(t, b.postHTMX(uiPath, url.Values{"username": {" alice "}, "password": {"correct horse"}}), http.StatusOK)
	res, _ := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"username": " alice ", "password": "correct horse"})
	wantStatus(t, res, http.StatusCreated)
	if u, p := users(uiA), users(apiA); !reflect.DeepEqual(u, p) || !reflect.DeepEqual(u, []string{"alice"}) {
		t.Errorf("stored users differ: UI %v, API %v", u, p)
	}
	for _, name := range []string{"par-ui", "par-api"} {
		f := a.File(name)
		testkit.MustContain(t, f, "basicAuth", "alice:$2")
		testkit.MustNotContain(t, f, "correct horse")
	}

	for _, tc := range []struct {
		name, user, password string
		status               int
		field, contains      string
	}{
		{"short password", "bob", "short", 422, "password", "8 to 72 characters"},
		{"password too long", "bob", strings.Repeat("p", 73), 422, "password", "8 to 72 characters"},
		{"username with colon", "bo:b", "long enough", 422, "username", "Username"},
		{"taken username", "alice", "another one", 409, "username", "User alice already exists."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX(uiPath, url.Values{"username": {tc.user}, "password": {tc.password}})
			api, body := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"username": tc.user, "password": tc.password})
			wantSameRefusal(t, ui, api, body, tc.status, tc.field, tc.contains)
		})
	}
	if n := a.count("service_basic_auth"); n != 2 {
		t.Errorf("refused users were saved: %d rows, want 2", n)
	}

	uiUsers, _ := a.store.AppBasicAuth(context.Background(), uiA.ID)
	apiUsers, _ := a.store.AppBasicAuth(context.Background(), apiA.ID)
	wantStatus(t, b.postHTMX(fmt.Sprintf("%s/%d/delete", uiPath, uiUsers[0].ID), nil), http.StatusOK)
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("%s/%d", apiPath, apiUsers[0].ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	for _, app := range []*db.App{uiA, apiA} {
		if u := users(app); len(u) != 0 {
			t.Errorf("%s: users left after delete: %v", app.AppName, u)
		}
		if f := a.File(app.AppName); strings.Contains(f, "basicAuth") {
			t.Errorf("%s: basicAuth left in the file after delete:\n%s", app.AppName, f)
		}
	}
}

func TestParity_Redirects(t *testing.T) {
	t.Parallel()
	a, b, token, uiA, apiA := parityRoutingApps(t)
	uiPath := fmt.Sprintf("/apps/%d/redirects", uiA.ID)
	apiPath := fmt.Sprintf("/api/v1/applications/%d/redirects", apiA.ID)
	fields := []string{"regex", "replacement", "permanent"}
	redirects := func(app *db.App) []map[string]any {
		var out []map[string]any
		for _, r := range apiItems(t, a.testApp, token, fmt.Sprintf("/api/v1/applications/%d/redirects", app.ID)) {
			out = append(out, pick(r, fields...))
		}
		return out
	}

	regex, repl := ` ^https?://www\.parity\.example/(.*) `, " https://parity.example/${1} "
	wantStatus(t, b.postHTMX(uiPath, url.Values{"regex": {regex}, "replacement": {repl}, "permanent": {"on"}}), http.StatusOK)
	res, _ := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"regex": regex, "replacement": repl, "permanent": true})
	wantStatus(t, res, http.StatusCreated)
	u, p := redirects(uiA), redirects(apiA)
	if !reflect.DeepEqual(u, p) || len(u) != 1 || u[0]["regex"] != strings.TrimSpace(regex) || u[0]["permanent"] != true {
		t.Errorf("stored redirects differ:\nUI  %v\nAPI %v", u, p)
	}
	for _, name := range []string{"par-ui", "par-api"} {
		testkit.MustContain(t, a.File(name), "redirectRegex", name+"-redirect-", "permanent: true")
	}

	for _, tc := range []struct{ name, regex, replacement, field string }{
		{"unbalanced regex", "(", "x", "regex"},
		{"bad bracket", "([", "https://x.example/", "regex"},
		{"empty regex", "", "https://x.example/", "regex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX(uiPath, url.Values{"regex": {tc.regex}, "replacement": {tc.replacement}})
			api, body := a.apiJSON(http.MethodPost, apiPath, token, map[string]any{"regex": tc.regex, "replacement": tc.replacement})
			wantSameRefusal(t, ui, api, body, 422, tc.field, "Redirect not saved")
		})
	}
	if n := a.count("service_redirects"); n != 2 {
		t.Errorf("refused redirects were saved: %d rows, want 2", n)
	}

	uiRd, _ := a.store.AppRedirects(context.Background(), uiA.ID)
	apiRd, _ := a.store.AppRedirects(context.Background(), apiA.ID)
	wantStatus(t, b.postHTMX(fmt.Sprintf("%s/%d/delete", uiPath, uiRd[0].ID), nil), http.StatusOK)
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("%s/%d", apiPath, apiRd[0].ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	for _, app := range []*db.App{uiA, apiA} {
		if r := redirects(app); len(r) != 0 {
			t.Errorf("%s: redirects left after delete: %v", app.AppName, r)
		}
		if f := a.File(app.AppName); strings.Contains(f, "redirectRegex") {
			t.Errorf("%s: redirect left in the file after delete:\n%s", app.AppName, f)
		}
	}
}

func TestParity_Headers(t *testing.T) {
	t.Parallel()
	a, b, token, uiA, apiA := parityRoutingApps(t)
	headers := func(app *db.App) map[string]any {
		res, body := a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d/headers", app.ID), token, nil)
		wantStatus(t, res, http.StatusOK)
		return body
	}

	res := b.postHTMX(fmt.Sprintf("/apps/%d/headers", uiA.ID), url.Values{
		"headers": {"X-Frame-Options: DENY\nX-Robots-Tag:  noindex "}, "request_headers": {"X-Env: prod"}})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodPut, fmt.Sprintf("/api/v1/applications/%d/headers", apiA.ID), token, map[string]any{
		"response": map[string]string{"X-Frame-Options": "DENY", "X-Robots-Tag": " noindex "}, "request": map[string]string{"X-Env": "prod"}})
	wantStatus(t, res, http.StatusOK)
	want := map[string]any{"response": map[string]any{"X-Frame-Options": "DENY", "X-Robots-Tag": "noindex"}, "request": map[string]any{"X-Env": "prod"}}
	if u, p := headers(uiA), headers(apiA); !reflect.DeepEqual(u, p) || !reflect.DeepEqual(u, want) {
		t.Errorf("stored headers differ:\nUI   %v\nAPI  %v\nwant %v", u, p, want)
	}
	for _, name := range []string{"par-ui", "par-api"} {
		testkit.MustContain(t, a.File(name), "X-Frame-Options: DENY", "X-Robots-Tag: noindex", "X-Env: prod")
	}

	for _, tc := range []struct{ name, line, hname, value, contains string }{
		{"template in value", "X-Bad: {{env}}", "X-Bad", "{{env}}", "'{{'"},
		{"name with space", "Bad Name: x", "Bad Name", "x", "not a valid token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/apps/%d/headers", uiA.ID), url.Values{"headers": {tc.line}})
			api, body := a.apiJSON(http.MethodPut, fmt.Sprintf("/api/v1/applications/%d/headers", apiA.ID), token,
				map[string]any{"response": map[string]string{tc.hname: tc.value}})
			wantSameRefusal(t, ui, api, body, 422, "response", tc.contains)
			if u, p := headers(uiA), headers(apiA); !reflect.DeepEqual(u, want) || !reflect.DeepEqual(p, want) {
				t.Errorf("a refused save changed the headers:\nUI  %v\nAPI %v", u, p)
			}
		})
	}

	// Clearing works through both and leaves the files without them.
	wantStatus(t, b.postHTMX(fmt.Sprintf("/apps/%d/headers", uiA.ID), url.Values{"headers": {""}, "request_headers": {""}}), http.StatusOK)
	res, _ = a.apiJSON(http.MethodPut, fmt.Sprintf("/api/v1/applications/%d/headers", apiA.ID), token, map[string]any{"response": map[string]string{}, "request": map[string]string{}})
	wantStatus(t, res, http.StatusOK)
	for _, app := range []*db.App{uiA, apiA} {
		if f := a.File(app.AppName); strings.Contains(f, "X-Frame-Options") || strings.Contains(f, "X-Env") {
			t.Errorf("%s: headers left in the file after clearing:\n%s", app.AppName, f)
		}
	}
}

func TestParity_Certificates(t *testing.T) {
	t.Parallel()
	a := newRoutingApp(t)
	b, token := parityClients(a.testApp)
	cert, key := testkit.SelfSigned(t, "secure.parity.example", time.Now().Add(30*24*time.Hour))
	_, otherKey := testkit.SelfSigned(t, "secure.parity.example", time.Now().Add(30*24*time.Hour))
	oldCert, oldKey := testkit.SelfSigned(t, "secure.parity.example", time.Now().Add(-time.Hour))

	wantStatus(t, b.postHTMX("/settings/certificates", url.Values{"name": {"ui-cert"}, "cert": {string(cert)}, "key": {string(key)}}), http.StatusOK)
	res, _ := a.apiJSON(http.MethodPost, "/api/v1/certificates", token, map[string]any{"name": "api-cert", "cert": string(cert), "key": string(key)})
	wantStatus(t, res, http.StatusCreated)
	byName := map[string]map[string]any{}
	for _, c := range apiItems(t, a.testApp, token, "/api/v1/certificates") {
		byName[c["name"].(string)] = c
	}
	uiC, apiC := byName["ui-cert"], byName["api-cert"]
	if uiC == nil || apiC == nil {
		t.Fatalf("certificates not stored: %v", byName)
	}
	if !reflect.DeepEqual(pick(uiC, "hosts", "not_after"), pick(apiC, "hosts", "not_after")) {
		t.Errorf("stored certificates differ:\nUI  %v\nAPI %v", uiC, apiC)
	}

	for _, tc := range []struct {
		name, certName, cert, key string
		field, contains           string
	}{
		{"mismatched key", "bad", string(cert), string(otherKey), "cert", "do not form a pair"},
		{"expired", "old", string(oldCert), string(oldKey), "cert", "expired"},
		{"not PEM", "junk", "not pem", "nope", "cert", ""},
		{"taken name", "ui-cert", string(cert), string(key), "name", "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX("/settings/certificates", url.Values{"name": {tc.certName}, "cert": {tc.cert}, "key": {tc.key}})
			api, body := a.apiJSON(http.MethodPost, "/api/v1/certificates", token, map[string]any{"name": tc.certName, "cert": tc.cert, "key": tc.key})
			wantSameRefusal(t, ui, api, body, 422, tc.field, tc.contains)
		})
	}
	if n := a.count("certificates"); n != 2 {
		t.Errorf("refused certificates were saved: %d rows, want 2", n)
	}

	// Both delete an unused certificate.
	wantStatus(t, b.postHTMX(fmt.Sprintf("/settings/certificates/%d/delete", jsonID(t, uiC)), nil), http.StatusOK)
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/certificates/%d", jsonID(t, apiC)), token, nil)
	wantStatus(t, res, http.StatusNoContent)
	if n := a.count("certificates"); n != 0 {
		t.Errorf("%d certificates left after deleting both", n)
	}
}

func TestParity_DeploySettings(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	read := func() map[string]any {
		res, body := a.apiJSON(http.MethodGet, "/api/v1/settings/deploy", token, nil)
		wantStatus(t, res, http.StatusOK)
		return body
	}

	// Concurrency: the value saved through the UI reads back as the API's.
	wantStatus(t, b.postHTMX("/settings/concurrency", url.Values{"deploy_concurrency": {" 3 "}}), http.StatusOK)
	viaUI := read()
	res, _ := a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{"deploy_concurrency": 5})
	wantStatus(t, res, http.StatusOK)
	if read()["deploy_concurrency"] != float64(5) {
		t.Fatalf("API concurrency not stored: %v", read())
	}
	res, _ = a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{"deploy_concurrency": 3})
	wantStatus(t, res, http.StatusOK)
	if viaAPI := read(); !reflect.DeepEqual(viaUI, viaAPI) || viaUI["deploy_concurrency"] != float64(3) {
		t.Errorf("concurrency differs: UI %v, API %v", viaUI, viaAPI)
	}
	for _, n := range []int{0, 17} {
		t.Run("concurrency "+strconv.Itoa(n), func(t *testing.T) {
			ui := b.postHTMX("/settings/concurrency", url.Values{"deploy_concurrency": {strconv.Itoa(n)}})
			api, body := a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{"deploy_concurrency": n})
			wantSameRefusal(t, ui, api, body, 422, "deploy_concurrency", "from 1 to 16")
			if got := read()["deploy_concurrency"]; got != float64(3) {
				t.Errorf("refused concurrency stored: %v", got)
			}
		})
	}

	// Limits: the same values through both read back the same.
	limits := map[string]string{"image_retention": "7", "timeout_clone": "2m", "timeout_build": "45m", "timeout_pull": "90s", "timeout_converge": "1h"}
	form := url.Values{}
	for k, v := range limits {
		form.Set(k, v)
	}
	wantStatus(t, b.postHTMX("/settings/maintenance", form), http.StatusOK)
	viaUI = read()
	res, _ = a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{"image_retention": 3, "timeout_build": "10m"})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{"image_retention": 7,
		"timeout_clone": "2m", "timeout_build": "45m", "timeout_pull": "90s", "timeout_converge": "1h"})
	wantStatus(t, res, http.StatusOK)
	viaAPI := read()
	if !reflect.DeepEqual(viaUI, viaAPI) || viaUI["image_retention"] != float64(7) || viaUI["timeout_build"] != "45m" || viaUI["timeout_pull"] != "1m30s" {
		t.Errorf("limits differ:\nUI  %v\nAPI %v", viaUI, viaAPI)
	}
	for _, tc := range []struct{ field, value, contains string }{
		{"timeout_build", "2s", "between 5s and 24h"},
		{"timeout_pull", "soon", "between 5s and 24h"},
		{"timeout_converge", "25h", "between 5s and 24h"},
		{"image_retention", "1000", "between 1 and 100"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			f := url.Values{}
			for k, v := range limits {
				f.Set(k, v)
			}
			f.Set(tc.field, tc.value)
			ui := b.postHTMX("/settings/maintenance", f)
			var apiValue any = tc.value
			if tc.field == "image_retention" {
				n, _ := strconv.Atoi(tc.value)
				apiValue = n
			}
			api, body := a.apiJSON(http.MethodPatch, "/api/v1/settings/deploy", token, map[string]any{tc.field: apiValue})
			wantSameRefusal(t, ui, api, body, 422, tc.field, tc.contains)
			if got := read(); !reflect.DeepEqual(got, viaAPI) {
				t.Errorf("refused limits stored: %v", got)
			}
		})
	}
}

func TestParity_APITokens(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	tokens := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, tk := range apiItems(t, a, token, "/api/v1/tokens") {
			out[tk["name"].(string)] = tk
		}
		return out
	}

	res := b.postHTMX("/settings/tokens", url.Values{"name": {" ci deploy "}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, db.APITokenPrefix)
	res, body := a.apiJSON(http.MethodPost, "/api/v1/tokens", token, map[string]any{"name": " cd deploy "})
	wantStatus(t, res, http.StatusCreated)
	if tk, _ := body["token"].(string); !strings.HasPrefix(tk, db.APITokenPrefix) {
		t.Errorf("API token in clear = %q", tk)
	}
	got := tokens()
	uiT, apiT := got["ci deploy"], got["cd deploy"]
	if uiT == nil || apiT == nil {
		t.Fatalf("tokens not stored under their trimmed names: %v", got)
	}
	for _, tk := range []map[string]any{uiT, apiT} {
		if p, _ := tk["prefix"].(string); !strings.HasPrefix(p, db.APITokenPrefix) {
			t.Errorf("token %v: prefix %q", tk["name"], p)
		}
	}

	for _, tc := range []struct{ name, input, contains string }{
		{"shell characters", "$(id)", "may contain only"},
		{"blank", "  ", "name is required"},
		{"too long", strings.Repeat("t", 65), "at most 64 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX("/settings/tokens", url.Values{"name": {tc.input}})
			api, body := a.apiJSON(http.MethodPost, "/api/v1/tokens", token, map[string]any{"name": tc.input})
			wantSameRefusal(t, ui, api, body, 422, "name", tc.contains)
		})
	}
	if n := len(tokens()); n != 3 {
		t.Errorf("refused tokens were created: %d tokens, want 3", n)
	}

	// Revoking through either removes the token and stops it working.
	wantStatus(t, b.postHTMX(fmt.Sprintf("/settings/tokens/%d/revoke", jsonID(t, uiT)), nil), http.StatusOK)
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", jsonID(t, apiT)), token, nil)
	wantStatus(t, res, http.StatusNoContent)
	got = tokens()
	if _, ok := got["ci deploy"]; ok {
		t.Error("token revoked through the UI is still listed")
	}
	if _, ok := got["cd deploy"]; ok {
		t.Error("token revoked through the API is still listed")
	}
	if clear, _ := body["token"].(string); clear != "" {
		res, _ := a.apiJSON(http.MethodGet, "/api/v1/projects", clear, nil)
		wantStatus(t, res, http.StatusUnauthorized)
	}
}

func TestParity_Deployments(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	p := a.createProject("shop")
	app := a.createImageApp(p, "web")
	ctx := context.Background()
	finished := func(status, errMsg string) *db.Deployment {
		d, err := a.store.CreateDeployment(ctx, app.ID, "user", "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.store.FinishDeployment(ctx, d.ID, status, errMsg); err != nil {
			t.Fatal(err)
		}
		return d
	}
	failed := finished(db.DeployError, "build failed")
	cancelled := finished(db.DeployCancelled, "")
	before := a.count("deployments")

	for _, d := range []*db.Deployment{failed, cancelled} {
		t.Run("cancel "+strconv.FormatInt(d.ID, 10), func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/deployments/%d/cancel", d.ID), nil)
			api, body := a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/deployments/%d/cancel", d.ID), token, nil)
			wantSameRefusal(t, ui, api, body, 409, "", "already finished")
		})
		t.Run("rollback "+strconv.FormatInt(d.ID, 10), func(t *testing.T) {
			ui := b.postHTMX(fmt.Sprintf("/deployments/%d/rollback", d.ID), nil)
			api, body := a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/deployments/%d/rollback", d.ID), token, nil)
			wantSameRefusal(t, ui, api, body, 409, "", "only a successful deployment")
		})
	}
	if n := a.count("deployments"); n != before {
		t.Errorf("refused rollbacks queued deployments: %d rows, want %d", n, before)
	}
	for _, d := range []*db.Deployment{failed, cancelled} {
		got, err := a.store.Deployment(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]string{failed.ID: db.DeployError, cancelled.ID: db.DeployCancelled}[d.ID]; got.Status != want {
			t.Errorf("deployment %d status %q after refused actions, want %q", d.ID, got.Status, want)
		}
	}
	// An unknown deployment is 404 through both.
	ui := b.postHTMX("/deployments/999999/cancel", nil)
	api, body := a.apiJSON(http.MethodPost, "/api/v1/deployments/999999/cancel", token, nil)
	wantSameRefusal(t, ui, api, body, 404, "", "")
}

func TestParity_Databases(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	p := a.createProject("shop")
	a.createImageApp(p, "taken")
	envID := p.Environments[0].ID

	// Refused input: same status, message and field; nothing written.
	for _, tc := range []struct {
		name, field, value string
		api                any
		status             int
		wantField          string
		contains           string
	}{
		{"unknown engine", "engine", "oracle", "oracle", 422, "engine", "engine must be one of"},
		{"name taken by an app", "name", "taken", "taken", 409, "name", "is taken"},
		{"name not a DNS label", "name", "Bad_Name", "Bad_Name", 422, "name", "lowercase letters"},
		{"image with a space", "image", "postgres 17", "postgres 17", 422, "image", "invalid image reference"},
		{"database name with a dash", "database", "my-db", "my-db", 422, "database", "database name must start"},
		{"reserved external port", "external_port", "22", 22, 422, "external_port", "SSH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"engine": {"postgres"}, "name": {"pg"}, "environment_id": {strconv.FormatInt(envID, 10)}}
			form.Set(tc.field, tc.value)
			ui := b.postHTMX(fmt.Sprintf("/projects/%d/databases", p.ID), form)
			in := map[string]any{"engine": "postgres", "name": "pg", "environment_id": envID}
			in[tc.field] = tc.api
			api, body := a.apiJSON(http.MethodPost, "/api/v1/databases", token, in)
			wantSameRefusal(t, ui, api, body, tc.status, tc.wantField, tc.contains)
		})
	}
	if n := a.count("databases"); n != 0 {
		t.Fatalf("refused creates stored %d databases", n)
	}

	// Valid input: the same stored database, with the same defaults.
	form := url.Values{"engine": {"postgres"}, "name": {"ui-db"}, "environment_id": {strconv.FormatInt(envID, 10)}}
	wantStatus(t, b.postHTMX(fmt.Sprintf("/projects/%d/databases", p.ID), form), http.StatusOK)
	res, _ := a.apiJSON(http.MethodPost, "/api/v1/databases", token, map[string]any{"engine": "postgres", "name": "api-db", "environment_id": envID})
	wantStatus(t, res, http.StatusCreated)
	byName := map[string]map[string]any{}
	for _, d := range apiItems(t, a, token, "/api/v1/databases") {
		byName[d["name"].(string)] = d
	}
	ui, api := byName["ui-db"], byName["api-db"]
	if ui == nil || api == nil {
		t.Fatalf("stored databases: %v", byName)
	}
	keys := []string{"engine", "image", "environment_id", "memory_limit_mb", "redis_persistence"}
	if !reflect.DeepEqual(pick(ui, keys...), pick(api, keys...)) {
		t.Errorf("UI and API stored different databases:\nUI  %v\nAPI %v", pick(ui, keys...), pick(api, keys...))
	}
	if ui["database"] != "ui_db" || api["database"] != "api_db" || ui["user"] != "ui_db" {
		t.Errorf("name defaults differ: UI %v/%v API %v", ui["database"], ui["user"], api["database"])
	}
}

func TestParity_ChangePassword(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, token := parityClients(a)
	for _, tc := range []struct {
		name, current, next string
		field, contains     string
	}{
		{"wrong current password", "not it at all", "a long new password", "current_password", "The current password is wrong."},
		{"missing current password", "", "a long new password", "current_password", "Enter your current password."},
		{"short new password", adminPassword, "short", "new_password", "at least 10 characters"},
		{"new password too long", adminPassword, strings.Repeat("p", 257), "new_password", "at most 256 characters"},
		{"same password", adminPassword, adminPassword, "new_password", "the same as the current one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := b.postHTMX("/account/password", url.Values{"current_password": {tc.current},
				"new_password": {tc.next}, "new_password_confirm": {tc.next}})
			api, body := a.apiJSON(http.MethodPost, "/api/v1/account/password", token,
				map[string]any{"current_password": tc.current, "new_password": tc.next})
			wantSameRefusal(t, ui, api, body, http.StatusUnprocessableEntity, tc.field, tc.contains)
		})
	}
	if !a.signInWorks(adminEmail, adminPassword) {
		t.Error("a refused change changed the password")
	}
}
