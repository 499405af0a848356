package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"dokploy/e2e/testkit"
)

// gitAppForm is a valid "new application" form for a git app.
func gitAppForm(envID int64, appName string) url.Values {
	return url.Values{
		"name": {"Shop web"}, "app_name": {appName}, "environment_id": {strconv.FormatInt(envID, 10)},
		"source_type": {"git"}, "git_url": {"https://github.com/example/shop.git"}, "git_branch": {"main"},
		"git_context": {"."}, "git_dockerfile": {"Dockerfile"}, "port": {"3000"}, "replicas": {"1"},
		"memory_limit_mb": {"0"}, "cpu_limit": {""},
	}
}

func imageAppForm(envID int64, appName string) url.Values {
	return url.Values{
		"name": {"Cache"}, "app_name": {appName}, "environment_id": {strconv.FormatInt(envID, 10)},
		"source_type": {"image"}, "image": {"ghcr.io/example/cache:1.2"}, "port": {"6379"}, "replicas": {"2"},
		"memory_limit_mb": {"256"}, "cpu_limit": {"0.5"},
	}
}

func TestApps_CreateWithInvalidFieldIs422AndWritesNothing(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	other := app.createProject("blog")
	envID := p.Environments[0].ID

	cases := []struct {
		name, field, value, message string
		image                       bool // start from the image form
	}{
		{"app name with underscore", "app_name", "Bad_Name", "lowercase letters", false},
		{"app name with shell", "app_name", "a;rm", "lowercase letters", false},
		{"reserved app name", "app_name", "dokploy-web", "reserved", false},
		{"display name with command substitution", "name", "$(id)", "may contain only", false},
		{"git url option injection", "git_url", "--upload-pack=x", "must not start with '-'", false},
		{"git url ext transport", "git_url", "ext::sh", "transport helpers", false},
		{"git url file scheme", "git_url", "file:///etc/passwd", "not allowed", false},
		{"branch with dots", "git_branch", "a..b", "'..'", false},
		{"branch option", "git_branch", "--force", "must not start with '-'", false},
		{"dockerfile outside checkout", "git_dockerfile", "../x", "no ..", false},
		{"absolute context", "git_context", "/etc", "relative", false},
		{"bad image reference", "image", "UPPER CASE", "invalid image reference", true},
		{"port zero", "port", "0", "between 1 and 65535", false},
		{"port too high", "port", "70000", "between 1 and 65535", false},
		{"port not a number", "port", "80x", "whole number", false},
		{"replicas too many", "replicas", "101", "between 0 and 100", false},
		{"memory below docker minimum", "memory_limit_mb", "4", "at least 6 MB", false},
		{"cpu not a number", "cpu_limit", "lots", "number of CPUs", false},
		{"environment of another project", "environment_id", strconv.FormatInt(other.Environments[0].ID, 10), "environment of this project", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := gitAppForm(envID, "web")
			if tc.image {
				form = imageAppForm(envID, "web")
			}
			form.Set(tc.field, tc.value)
			res := b.postHTMX(fmt.Sprintf("/projects/%d/apps", p.ID), form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			testkit.MustNotContain(t, res.Body, "<html")
			doc := res.doc(t)
			newApp := doc.Find("#new-app")
			if newApp.Length() != 1 {
				t.Fatalf("new-app form not re-rendered:\n%s", res.Body)
			}
			// The user's input is kept and the message sits at the field.
			if tc.field != "environment_id" {
				input := newApp.Find(fmt.Sprintf(`[name=%q]`, tc.field))
				if v, _ := input.Attr("value"); v != tc.value {
					t.Errorf("%s: input value %q, want the submitted %q", tc.field, v, tc.value)
				}
				msg := input.Closest(".field.invalid").Find(".error-text").Text()
				if !strings.Contains(msg, tc.message) {
					t.Errorf("%s: field message %q does not contain %q", tc.field, msg, tc.message)
				}
			} else {
				testkit.MustContain(t, res.Body, tc.message)
			}
			// Other fields keep their values too.
			if v, _ := newApp.Find(`[name=name]`).Attr("value"); v != form.Get("name") {
				t.Errorf("name input lost: %q", v)
			}
			if n := app.count("applications"); n != 0 {
				t.Fatalf("invalid app written: %d rows", n)
			}
		})
	}
	t.Run("unknown source", func(t *testing.T) {
		form := gitAppForm(envID, "web")
		form.Set("source_type", "svn")
		res := b.postHTMX(fmt.Sprintf("/projects/%d/apps", p.ID), form)
		wantStatus(t, res, http.StatusUnprocessableEntity)
		testkit.MustContain(t, res.Body, `source must be &#34;git&#34; or &#34;image&#34;`)
		if v, _ := res.doc(t).Find(`#new-app [name=git_url]`).Attr("value"); v != form.Get("git_url") {
			t.Errorf("git_url lost: %q", v)
		}
	})
	if n := app.count("applications"); n != 0 {
		t.Fatalf("invalid apps written: %d rows", n)
	}
}

func TestApps_CreateValidGitAndImageApps(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	envID := p.Environments[0].ID

	gitForm := gitAppForm(envID, "shop-web")
	gitForm.Set("git_token", "ghp_supersecretgittoken123")
	res := b.postHTMX(fmt.Sprintf("/projects/%d/apps", p.ID), gitForm)
	wantStatus(t, res, http.StatusOK)
	gitApp, err := app.store.AppByName(context.Background(), "shop-web")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("/apps/%d", gitApp.ID); res.location() != want {
		t.Fatalf("want HX-Redirect %s, got %q", want, res.location())
	}
	if gitApp.Status != "idle" || gitApp.GitURL != "https://github.com/example/shop.git" || gitApp.Port != 3000 {
		t.Errorf("stored git app wrong: %+v", gitApp)
	}

	imgForm := imageAppForm(envID, "cache")
	imgForm.Set("registry_server", "ghcr.io")
	imgForm.Set("registry_username", "bot")
	imgForm.Set("registry_password", "registry-pa55word-xyz")
	res = b.postForm(fmt.Sprintf("/projects/%d/apps", p.ID), imgForm)
	wantStatus(t, res, http.StatusSeeOther)
	imgApp, err := app.store.AppByName(context.Background(), "cache")
	if err != nil {
		t.Fatal(err)
	}
	if imgApp.Replicas != 2 || imgApp.MemoryLimitMB != 256 || imgApp.CPULimit != 0.5 || imgApp.Image != "ghcr.io/example/cache:1.2" {
		t.Errorf("stored image app wrong: %+v", imgApp)
	}

	// Credentials are sealed at rest and never rendered.
	var tokenEnc, passEnc []byte
	if err := app.store.DB().QueryRow(`SELECT git_token_enc FROM applications WHERE id = $1`, gitApp.ID).Scan(&tokenEnc); err != nil {
		t.Fatal(err)
	}
	if err := app.store.DB().QueryRow(`SELECT registry_password_enc FROM applications WHERE id = $1`, imgApp.ID).Scan(&passEnc); err != nil {
		t.Fatal(err)
	}
	if len(tokenEnc) == 0 || bytes.Contains(tokenEnc, []byte("supersecretgittoken")) {
		t.Errorf("git token not encrypted at rest: %q", tokenEnc)
	}
	if len(passEnc) == 0 || bytes.Contains(passEnc, []byte("registry-pa55word")) {
		t.Errorf("registry password not encrypted at rest: %q", passEnc)
	}
	gs, err := app.store.AppSecrets(gitApp)
	if err != nil || gs.GitToken != "ghp_supersecretgittoken123" {
		t.Errorf("git token does not decrypt back: %q %v", gs.GitToken, err)
	}

	page := b.get(fmt.Sprintf("/apps/%d", gitApp.ID))
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, "<h1>Shop web <span class=\"service-kind\">Application</span></h1>", "shop-web", "https://github.com/example/shop.git", "set — leave blank to keep")
	testkit.MustNotContain(t, page.Body, "supersecretgittoken")

	page = b.get(fmt.Sprintf("/apps/%d", imgApp.ID))
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, "ghcr.io/example/cache:1.2", "bot")
	testkit.MustNotContain(t, page.Body, "registry-pa55word")

	// The project page lists both.
	proj := b.get(fmt.Sprintf("/projects/%d", p.ID))
	testkit.MustContain(t, proj.Body, "shop-web", "cache", fmt.Sprintf(`href="/apps/%d"`, imgApp.ID))
	testkit.MustNotContain(t, proj.Body, "supersecretgittoken", "registry-pa55word")

	// The same app name again is refused with a message, nothing written.
	res = b.postHTMX(fmt.Sprintf("/projects/%d/apps", p.ID), gitAppForm(envID, "shop-web"))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "is taken")
	if app.count("applications") != 2 {
		t.Fatalf("want 2 apps, got %d", app.count("applications"))
	}
	wantStatus(t, b.get("/apps/999999"), http.StatusNotFound)
}

func TestApps_UpdateSettingsValidatesAndKeepsSecrets(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	form := gitAppForm(p.Environments[0].ID, "web")
	form.Set("git_token", "tok-keep-me-123")
	wantStatus(t, b.postHTMX(fmt.Sprintf("/projects/%d/apps", p.ID), form), http.StatusOK)
	a, err := app.store.AppByName(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}

	bad := gitAppForm(0, "")
	bad.Set("git_url", "ext::sh")
	res := b.postHTMX(fmt.Sprintf("/apps/%d", a.ID), bad)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "Nothing was saved", "transport helpers")
	if v, _ := res.doc(t).Find(`[name=git_url]`).Attr("value"); v != "ext::sh" {
		t.Errorf("input not kept: %q", v)
	}
	if got, _ := app.store.App(context.Background(), a.ID); got.GitURL != "https://github.com/example/shop.git" {
		t.Fatalf("invalid update stored: %q", got.GitURL)
	}

	good := gitAppForm(0, "")
	good.Set("git_branch", "release/v2")
	good.Set("port", "8080")
	res = b.postHTMX(fmt.Sprintf("/apps/%d", a.ID), good) // blank git_token keeps the stored one
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Saved.")
	got, _ := app.store.App(context.Background(), a.ID)
	if got.GitBranch != "release/v2" || got.Port != 8080 || got.AppName != "web" {
		t.Errorf("update not stored: %+v", got)
	}
	if s, _ := app.store.AppSecrets(got); s.GitToken != "tok-keep-me-123" {
		t.Errorf("blank token field cleared the stored token: %q", s.GitToken)
	}
}

func TestAppEnv_EncryptedAtRestNeverRenderedRevealable(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	a := app.createImageApp(p, "web")
	path := fmt.Sprintf("/apps/%d/env", a.ID)

	form := url.Values{
		"key":    {"DATABASE_URL", "API_KEY", ""},
		"value":  {"postgres://app:db-s3cret-pw@db/app", "key-abc-123-secret", ""},
		"dotenv": {"# pasted\nexport SESSION_SECRET=\"sess ion\\nsecret-9\"\nAPI_KEY=overridden-key-secret\nEMPTY=\n"},
	}
	res := b.postHTMX(path, form)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "<html", "db-s3cret-pw", "overridden-key-secret", "secret-9")
	testkit.MustContain(t, res.Body, "Variables saved")

	vars, err := app.store.AppVariables(context.Background(), a.ID, "env")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DATABASE_URL": "postgres://app:db-s3cret-pw@db/app", "API_KEY": "overridden-key-secret",
		"SESSION_SECRET": "sess ion\nsecret-9", "EMPTY": "",
	}
	if len(vars) != len(want) {
		t.Fatalf("want %d variables, got %+v", len(want), vars)
	}
	for i, k := range []string{"DATABASE_URL", "API_KEY", "SESSION_SECRET", "EMPTY"} {
		if vars[i].Key != k || vars[i].Value != want[k] {
			t.Errorf("variable %d: got %s=%q, want %s=%q", i, vars[i].Key, vars[i].Value, k, want[k])
		}
	}

	rows, err := app.store.DB().Query(`SELECT key, value_enc FROM service_variables WHERE service_id = $1`, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var enc []byte
		if err := rows.Scan(&key, &enc); err != nil {
			t.Fatal(err)
		}
		if len(enc) == 0 {
			t.Errorf("%s: empty ciphertext", key)
		}
		for _, plain := range []string{"db-s3cret-pw", "overridden-key-secret", "secret-9"} {
			if bytes.Contains(enc, []byte(plain)) {
				t.Errorf("%s stored in clear: contains %q", key, plain)
			}
		}
	}

	page := b.get(fmt.Sprintf("/apps/%d/environment", a.ID))
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, `value="DATABASE_URL"`, `value="SESSION_SECRET"`)
	testkit.MustNotContain(t, page.Body, "db-s3cret-pw", "overridden-key-secret", "secret-9")

	res = b.postHTMX(path+"/reveal", url.Values{"key": {"DATABASE_URL"}})
	wantStatus(t, res, http.StatusOK)
	if v, _ := res.doc(t).Find("input").Attr("value"); v != want["DATABASE_URL"] {
		t.Errorf("reveal: got %q", v)
	}
	wantStatus(t, b.postHTMX(path+"/reveal", url.Values{"key": {"NOPE"}}), http.StatusNotFound)
	// Reveal is a POST: it needs the CSRF token like every write.
	wantStatus(t, b.postFormRaw(path+"/reveal", url.Values{"key": {"DATABASE_URL"}}), http.StatusForbidden)

	// Saving the masked rows unchanged (blank values) keeps the stored values;
	// "delete" removes a row.
	res = b.postHTMX(path, url.Values{
		"key": {"DATABASE_URL", "API_KEY", "SESSION_SECRET", "EMPTY"}, "value": {"", "", "", ""}, "delete": {"EMPTY"},
	})
	wantStatus(t, res, http.StatusOK)
	vars, _ = app.store.AppVariables(context.Background(), a.ID, "env")
	if len(vars) != 3 || vars[0].Value != want["DATABASE_URL"] || vars[1].Value != want["API_KEY"] {
		t.Errorf("masked save lost values: %+v", vars)
	}
}

func TestAppEnv_InvalidKeysAre422AndSaveNothing(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	a := app.createImageApp(p, "web")
	path := fmt.Sprintf("/apps/%d/env", a.ID)
	wantStatus(t, b.postHTMX(path, url.Values{"key": {"KEEP"}, "value": {"kept-value"}}), http.StatusOK)

	for name, form := range map[string]url.Values{
		"key with dash":        {"key": {"BAD-KEY"}, "value": {"v"}},
		"key starting digit":   {"key": {"1ABC"}, "value": {"v"}},
		"key with shell":       {"key": {"A;rm"}, "value": {"v"}},
		"dotenv bad key":       {"dotenv": {"GOOD=1\nBAD KEY=2"}},
		"dotenv missing =":     {"dotenv": {"JUSTAKEY"}},
		"duplicate in rows":    {"key": {"A", "A"}, "value": {"1", "2"}},
		"valid row, bad paste": {"key": {"NEW"}, "value": {"new-value"}, "dotenv": {"$(id)=x"}},
	} {
		t.Run(name, func(t *testing.T) {
			res := b.postHTMX(path, form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			testkit.MustContain(t, res.Body, "Nothing was saved")
			vars, err := app.store.AppVariables(context.Background(), a.ID, "env")
			if err != nil {
				t.Fatal(err)
			}
			if len(vars) != 1 || vars[0].Key != "KEEP" || vars[0].Value != "kept-value" {
				t.Fatalf("a refused save changed the variables: %+v", vars)
			}
		})
	}
}

// Left empty, the service name is made from the display name; the webhook
// URL says when it carries another address than the one being browsed.
func TestApps_SuggestedNameAndWebhookAddress(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	form := imageAppForm(p.Environments[0].ID, "")
	form.Set("name", "Shop Web 2")
	wantStatus(t, b.postHTMX(fmt.Sprintf("/projects/%d/apps", p.ID), form), http.StatusOK)
	a, err := app.store.AppByName(context.Background(), "shop-web-2")
	if err != nil {
		t.Fatalf("no app named from %q: %v", "Shop Web 2", err)
	}

	// Browsing at 127.0.0.1 while DOKPLOY_PUBLIC_URL is http://dokploy.test.
	path := fmt.Sprintf("/apps/%d/deployments", a.ID)
	doc := b.get(path).doc(t)
	if !strings.HasPrefix(doc.Find("#webhook-url").AttrOr("value", ""), "http://dokploy.test/api/deploy/") {
		t.Errorf("webhook URL %q", doc.Find("#webhook-url").AttrOr("value", ""))
	}
	note := strings.Join(strings.Fields(doc.Find(".address-mismatch").Text()), " ")
	testkit.MustContain(t, note, "http://dokploy.test", "browsing at 127.0.0.1:", "set DOKPLOY_PUBLIC_URL")

}
