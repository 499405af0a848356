package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
)

const (
	browserExecPath    = "/usr/bin/chromium"
	browserStartup     = 60 * time.Second // first action: starts Chromium
	browserStepTimeout = 20 * time.Second // every other step
	browserOutDir      = "out"            // e2e/out, gitignored
)

// TestBrowserFirstRun walks a new install the way its first user does: the
// setup link, the empty dashboard, sign out and in again, a project created
// in place with HTMX, a duplicate name, an app with a validation error and
// then a valid one, the dashboard listing it, and an API token. It saves a
// full-page screenshot of every page into e2e/out.
func TestBrowserFirstRun(t *testing.T) {
	dbtest.Integration(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	srv := srvStart(t)
	b := browserOpen(t, srv.URL)

	const (
		email    = "admin@example.com"
		password = "correct horse battery"
	)

	b.step("open the setup link", browserStartup, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.SetupURL)); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/setup"); err != nil {
			return err
		}
		if err := b.waitText(ctx, ".panel h2", "Create the first admin"); err != nil {
			return err
		}
		return b.screenshot(ctx, "setup")
	})

	b.step("create the first admin", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), password),
			chromedp.Click(chromedp.CSS(`form[action="/setup"] button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#projects .empty", "No projects yet"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "header.top .user", email); err != nil {
			return err
		}
		return b.screenshot(ctx, "dashboard-empty")
	})

	b.step("sign out", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top form[action="/logout"] button`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/login"); err != nil {
			return err
		}
		return b.waitText(ctx, ".panel h2", "Sign in")
	})

	b.step("sign in with a wrong password", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, ".flash.error", "Wrong email or password."); err != nil {
			return err
		}
		if err := b.waitValue(ctx, "#email", email); err != nil {
			return err
		}
		return b.screenshot(ctx, "login-error")
	})

	b.step("sign in via /login", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/login")); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/"); err != nil {
			return err
		}
		return b.waitText(ctx, "#projects .empty", "No projects yet")
	})

	const projectForm = `#projects form[hx-post="/projects"]`
	b.step("create project shop in place", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(projectForm+` input[name=name]`), "shop"),
			chromedp.Click(chromedp.CSS(projectForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#projects .project-card[data-project="shop"] h3`, "shop"); err != nil {
			return err
		}
		if err := b.waitTextNotPresent(ctx, "#projects", "No projects yet"); err != nil {
			return err
		}
		if err := b.checkSameDocument(ctx, "/"); err != nil {
			return err
		}
		return b.screenshot(ctx, "dashboard-project")
	})

	b.step("create project shop again", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(projectForm+` input[name=name]`), "shop"),
			chromedp.Click(chromedp.CSS(projectForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, projectForm+` .field.invalid .error-text`, "already exists"); err != nil {
			return err
		}
		if err := b.waitValue(ctx, projectForm+` input[name=name]`, "shop"); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#projects .project-card[data-project="shop"]`); err != nil || n != 1 {
			return fmt.Errorf("want exactly 1 card for shop after the duplicate, got %d (%v)", n, err)
		}
		if err := b.checkSameDocument(ctx, "/"); err != nil {
			return err
		}
		return b.screenshot(ctx, "dashboard-duplicate")
	})

	projectPath := regexp.MustCompile(`^/projects/\d+$`)
	var projectURLPath string
	b.step("open the project", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#projects .project-card[data-project="shop"] h3 a`))); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, projectPath); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#project .page-head h1", "shop"); err != nil {
			return err
		}
		var err error
		if projectURLPath, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#project .env[data-env="production"] .empty`, "No apps in production"); err != nil {
			return err
		}
		return b.screenshot(ctx, "project")
	})

	const appForm = `#new-app form`
	b.step("create an app with an invalid app name", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop web"),
			chromedp.SendKeys(chromedp.CSS("#app-slug"), "Bad Name"),
			chromedp.SendKeys(chromedp.CSS("#git_url"), "https://example.com/shop.git"),
			chromedp.Click(chromedp.CSS(appForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#new-app .field.invalid:has(#app-slug) .error-text`, "lowercase"); err != nil {
			return err
		}
		// Only the bad field is flagged, and the input is kept.
		if n, err := b.count(ctx, `#new-app .field.invalid`); err != nil || n != 1 {
			return fmt.Errorf("want exactly 1 invalid field, got %d (%v)", n, err)
		}
		for sel, want := range map[string]string{"#app-name": "Shop web", "#app-slug": "Bad Name", "#git_url": "https://example.com/shop.git"} {
			if err := b.waitValue(ctx, sel, want); err != nil {
				return err
			}
		}
		if err := b.checkSameDocument(ctx, projectURLPath); err != nil {
			return err
		}
		return b.screenshot(ctx, "project-app-error")
	})

	appPath := regexp.MustCompile(`^/apps/\d+$`)
	b.step("fix the app and create it", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.CSS("#git_url")),
			chromedp.SendKeys(chromedp.CSS("#git_url"), "https://example.com/shop.git"),
			chromedp.Clear(chromedp.CSS("#app-slug")),
			chromedp.SendKeys(chromedp.CSS("#app-slug"), "shop-web"),
			chromedp.Clear(chromedp.CSS("#app-name")),
			chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop web"),
			chromedp.Click(chromedp.CSS(appForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, appPath); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header h1", "Shop web"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-state .badge.state-off", "not deployed"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#app-overview", "shop-web"); err != nil {
			return err
		}
		return b.screenshot(ctx, "app")
	})

	// The app page's code lives in static/*.js (the CSP refuses inline
	// code): the webhook URL selects on a click and copies, Follow streams
	// the runtime logs with the filter, Download carries the same filter.
	b.step("the app page's buttons work under the CSP", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := b.openTab(ctx, "deployments"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#app-deployments .empty", "Not deployed yet"); err != nil {
			return err
		}
		const copyURL = `#app-webhooks button[data-copy="#webhook-url"]`
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(copyURL)),
			chromedp.Click(chromedp.CSS("#webhook-url")),
		); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the webhook URL to be selected", `(() => { const i = document.getElementById("webhook-url");
			return i.value.includes("/api/deploy/") && i.selectionStart === 0 && i.selectionEnd === i.value.length; })()`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(copyURL))); err != nil {
			return err
		}
		if err := b.waitText(ctx, copyURL, "Copied"); err != nil {
			return err
		}
		if err := b.waitText(ctx, copyURL, "Copy"); err != nil { // the label comes back
			return err
		}
		if err := b.openTab(ctx, "logs"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#runtime-logs-filter input[name=tail]`), "50"),
			chromedp.Click(chromedp.CSS("#runtime-logs-follow")),
		); err != nil {
			return err
		}
		// Never deployed: the stream says so and ends.
		if err := b.waitText(ctx, "#runtime-logs", "No runtime logs"); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#runtime-logs-state[data-state="disconnected"]`, "disconnected — retry"); err != nil {
			return err
		}
		// Download adds the filter to its link; the test keeps the page.
		href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const a = document.getElementById("runtime-logs-download");
			a.addEventListener("click", e => e.preventDefault(), {once: true});
			a.click();
			return a.getAttribute("href"); })()`))
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`^/api/v1/services/app/\d+/logs\?download=1&tail=50&timestamps=1$`).MatchString(href) {
			return fmt.Errorf("Download links to %q, want the filter tail=50&timestamps=1", href)
		}
		// The tabs swapped in place and the address bar followed them.
		if err := b.checkSameDocument(ctx, ""); err != nil {
			return err
		}
		return b.waitPathMatch(ctx, regexp.MustCompile(`^/apps/\d+/logs$`))
	})

	b.step("dashboard lists the app", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top nav a[href="/"]`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/"); err != nil {
			return err
		}
		card := `#projects .project-card[data-project="shop"]`
		if err := b.waitText(ctx, card+` .applist li a`, "Shop web"); err != nil {
			return err
		}
		if err := b.waitText(ctx, card+` .applist li .badge.idle`, "idle"); err != nil {
			return err
		}
		return b.screenshot(ctx, "dashboard-app")
	})

	var token string
	b.step("create an API token", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top nav a[href="/settings"]`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/settings"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-tokens .empty", "No API tokens"); err != nil {
			return err
		}
		// The routing and disk panels above load after the page and push
		// the tokens panel down: a click aimed before they arrive lands
		// elsewhere (Docker's disk usage is slow on a busy machine).
		if err := b.waitJS(ctx, "the settings panels to load",
			`![...document.querySelectorAll('#settings-routing, #settings-maintenance, #settings-destinations, #settings-control-plane-backup')].some(e => e.textContent.includes('Loading…'))`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#settings-tokens input[name=name]`), "ci"),
			chromedp.Click(chromedp.CSS(`#settings-tokens button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-tokens .flash", "shown only once"); err != nil {
			return err
		}
		var err error
		if token, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#new-token"))); err != nil {
			return err
		}
		if token = strings.TrimSpace(token); len(token) < 20 {
			return fmt.Errorf("token %q looks too short", token)
		}
		if err := b.waitText(ctx, "#settings-tokens table", "ci"); err != nil {
			return err
		}
		// Copy works on plain http too (the fallback path of service.js).
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#settings-tokens button[data-copy="#new-token"]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#settings-tokens button[data-copy="#new-token"]`, "Copied"); err != nil {
			return err
		}
		// Sessions are named, not shown as raw user-agent strings.
		if err := b.waitText(ctx, "#settings-sessions table", "Chrome"); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#settings-sessions td[title*="Mozilla/5.0"]`); err != nil || n == 0 {
			return fmt.Errorf("the session row does not keep the raw user agent as its title (%d, %v)", n, err)
		}
		return b.screenshot(ctx, "settings")
	})

	b.step("the token works and is shown only once", browserStepTimeout, func(ctx context.Context) error {
		if err := browserCheckToken(ctx, srv.URL, token); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/settings")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-tokens table", "ci"); err != nil {
			return err
		}
		if n, err := b.count(ctx, "#new-token"); err != nil || n != 0 {
			return fmt.Errorf("the token is shown again after a reload (%d, %v)", n, err)
		}
		html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			return err
		}
		if strings.Contains(html, token) {
			return fmt.Errorf("the settings page still contains the token after a reload")
		}
		return nil
	})

	const newPassword = "a brand new passphrase"
	b.step("change the password on the account page", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top .user a[href="/account"]`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/account"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-sessions table", "this session"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-tokens table", "ci"); err != nil {
			return err
		}
		if err := b.screenshot(ctx, "account"); err != nil {
			return err
		}
		const form = `#account-password form`
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(form+` input[name=current_password]`), "not the password"),
			chromedp.SendKeys(chromedp.CSS(form+` input[name=new_password]`), newPassword),
			chromedp.SendKeys(chromedp.CSS(form+` input[name=new_password_confirm]`), newPassword),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#account-password .field.invalid .error-text", "The current password is wrong."); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(form+` input[name=current_password]`), password),
			chromedp.SendKeys(chromedp.CSS(form+` input[name=new_password]`), newPassword),
			chromedp.SendKeys(chromedp.CSS(form+` input[name=new_password_confirm]`), newPassword),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#account-password .flash.ok", "Password changed"); err != nil {
			return err
		}
		// Still signed in: the session that changed it stays.
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/account")); err != nil {
			return err
		}
		return b.waitText(ctx, "#settings-sessions table", "this session")
	})

	b.step("sign in again with the new password", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top form[action="/logout"] button`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/login"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), newPassword),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/"); err != nil {
			return err
		}
		return b.waitText(ctx, "header.top .user", email)
	})

	b.step("every page fits a phone", 2*browserStepTimeout, func(ctx context.Context) error {
		var apps struct {
			Items []struct {
				ID        int64 `json:"id"`
				ProjectID int64 `json:"project_id"`
			} `json:"items"`
		}
		if err := apiJSON(ctx, http.MethodGet, srv.URL+"/api/v1/applications", token, &apps); err != nil {
			return err
		}
		if len(apps.Items) != 1 {
			return fmt.Errorf("want the one app, got %d", len(apps.Items))
		}
		a := apps.Items[0]
		// A deployment of the unreachable example repository fails at the
		// clone: its page still has a header, a status and a log.
		var dep struct {
			ID int64 `json:"id"`
		}
		if err := apiJSON(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/applications/%d/deploy", srv.URL, a.ID), token, &dep); err != nil {
			return err
		}
		// The project has an app, so its Delete is disabled and says why.
		if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/projects/%d", srv.URL, a.ProjectID))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#project-delete-hint", "Delete its 1 app first."); err != nil {
			return err
		}
		if n, err := b.count(ctx, `button[disabled][aria-describedby=project-delete-hint]`); err != nil || n != 1 {
			return fmt.Errorf("Delete project is not disabled (%d, %v)", n, err)
		}
		if err := b.screenshot(ctx, "project-delete-blocked"); err != nil {
			return err
		}
		return b.checkPhoneFit(ctx, "/", fmt.Sprintf("/projects/%d", a.ProjectID), fmt.Sprintf("/apps/%d", a.ID),
			fmt.Sprintf("/apps/%d/environment", a.ID), fmt.Sprintf("/apps/%d/domains", a.ID),
			fmt.Sprintf("/apps/%d/deployments", a.ID), fmt.Sprintf("/apps/%d/logs", a.ID),
			fmt.Sprintf("/apps/%d/advanced", a.ID),
			fmt.Sprintf("/deployments/%d", dep.ID), "/settings", "/account", "/api-docs")
	})

	if msgs := b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", strings.Join(msgs, "\n"))
	}
}

// browserCheckToken calls the API with the token shown in the browser.
func browserCheckToken(ctx context.Context, base, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/projects", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"shop"`)) {
		return fmt.Errorf("GET /api/v1/projects with the new token: %s %s", resp.Status, body)
	}
	return nil
}

// browserSession is one Chromium tab against one server.
type browserSession struct {
	t      *testing.T
	ctx    context.Context // the tab; has no deadline
	base   string
	out    string
	output *browserBuffer // Chromium's stdout and stderr

	mu  sync.Mutex
	exc []string // uncaught exceptions, console errors and CSP violations, in order
}

// browserBuffer is a goroutine-safe buffer for Chromium's output.
type browserBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *browserBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *browserBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// browserOpen starts headless Chromium with a throwaway profile; t.Cleanup
// closes it before the server stops (cleanups run in reverse order).
func browserOpen(t *testing.T, base string) *browserSession {
	t.Helper()
	out, err := filepath.Abs(browserOutDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// Failure screenshots of an earlier run would mislead.
	if old, err := filepath.Glob(filepath.Join(out, "fail-*.png")); err == nil {
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	profile := t.TempDir() // removed after the browser has exited
	b := &browserSession{t: t, base: base, out: out, output: &browserBuffer{}}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browserExecPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(b.output),
	)
	t.Cleanup(allocCancel) // waits for Chromium to exit
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	b.ctx = ctx

	// Start the browser with a context that has no deadline, so that the
	// step timeouts below limit single steps, not the browser's life.
	startCtx, startCancel := context.WithTimeout(ctx, browserStartup)
	defer startCancel()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-startCtx.Done():
		err = fmt.Errorf("Chromium did not start within %s", browserStartup)
	}
	if err != nil {
		t.Fatalf("start %s: %v\nChromium output:\n%s", browserExecPath, err, b.output.String())
	}
	// Every document reports what its Content-Security-Policy refused as a
	// console error, which the loop below records.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: browserReportCSP}); err != nil {
		t.Fatalf("add the CSP violation listener: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Network errors are the 4xx answers forms re-render with.
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" {
				b.mu.Lock()
				b.exc = append(b.exc, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// browserReportCSP runs first in every document: a securitypolicyviolation
// event (an inline script, handler or style, an eval, a foreign URL) becomes
// a console error.
const browserReportCSP = `document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline code") +
    " in " + e.sourceFile + ":" + e.lineNumber + (e.sample ? " (" + e.sample + ")" : ""));
}, true);`

// exceptions returns the uncaught exceptions, console errors and CSP
// violations of every page so far, in order.
func (b *browserSession) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.exc...)
}

// step runs one bounded step; on failure it saves a screenshot and the
// page's URL and text, then stops the test.
func (b *browserSession) step(name string, timeout time.Duration, fn func(ctx context.Context) error) {
	b.t.Helper()
	if b.t.Failed() {
		b.t.FailNow()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	// Every wait inside fn fails on the step's deadline; a step that
	// returned nil did what it checks in time (a screenshot at its end has
	// its own budget, see screenshot).
	err := fn(ctx)
	if err == nil {
		b.t.Logf("step %q: ok in %s", name, time.Since(start).Round(time.Millisecond))
		return
	}
	// Diagnose with a fresh deadline: the step's may be spent.
	dctx, dcancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer dcancel()
	file := "fail-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	shotErr := b.screenshot(dctx, file)
	loc, _ := chromedp.Run(dctx, chromedp.Location())
	text, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.t.Fatalf("step %q failed after %s: %v\nURL: %s\nscreenshot: %s.png (%v)\npage text:\n%s",
		name, time.Since(start).Round(time.Millisecond), err, loc, file, shotErr, text)
}

// screenshot saves a full-page PNG as e2e/out/<name>.png.
func (b *browserSession) screenshot(_ context.Context, name string) error {
	// A full-page capture of a long page is slow on a loaded machine, and it
	// is a record, not a check: it gets its own budget, not the step's.
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot %s: %w", name, err)
	}
	return os.WriteFile(filepath.Join(b.out, name+".png"), buf, 0o644)
}

// browserJS quotes s as a JavaScript string literal.
func browserJS(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// waitJS evaluates cond until it is true. It survives navigations: an
// evaluation that fails while a page loads is retried.
func (b *browserSession) waitJS(ctx context.Context, what, cond string) error {
	expr := "(() => { try { return !!(" + cond + "); } catch (e) { return false; } })()"
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last evaluation error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitPath waits until the page's path is path and the document is loaded.
func (b *browserSession) waitPath(ctx context.Context, path string) error {
	return b.waitJS(ctx, "path "+path,
		"location.pathname === "+browserJS(path)+" && document.readyState === 'complete'")
}

// waitPathMatch waits for a path matching re, then checks the origin.
func (b *browserSession) waitPathMatch(ctx context.Context, re *regexp.Regexp) error {
	var last string
	for {
		if err := b.waitJS(ctx, "a loaded page", "document.readyState === 'complete'"); err != nil {
			return fmt.Errorf("%w (want a path matching %s, last %q)", err, re, last)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil {
			u, perr := url.Parse(loc)
			if perr == nil && re.MatchString(u.Path) {
				if !strings.HasPrefix(loc, b.base+"/") {
					return fmt.Errorf("landed on %s, not on %s", loc, b.base)
				}
				return nil
			}
			last = loc
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a path matching %s: %w (last %q)", re, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitText waits until an element matching sel is visible and its text
// contains want.
func (b *browserSession) waitText(ctx context.Context, sel, want string) error {
	return b.waitJS(ctx, fmt.Sprintf("%q to show %q", sel, want), `Array.from(document.querySelectorAll(`+browserJS(sel)+`)).some(e =>
		e.getClientRects().length > 0 && e.innerText.includes(`+browserJS(want)+`))`)
}

// waitTextNotPresent waits until no element matching sel contains text.
func (b *browserSession) waitTextNotPresent(ctx context.Context, sel, text string) error {
	return b.waitJS(ctx, fmt.Sprintf("%q to no longer show %q", sel, text), `document.querySelector(`+browserJS(sel)+`) !== null &&
		!Array.from(document.querySelectorAll(`+browserJS(sel)+`)).some(e => e.innerText.includes(`+browserJS(text)+`))`)
}

// waitValue waits until the input matching sel holds want.
func (b *browserSession) waitValue(ctx context.Context, sel, want string) error {
	return b.waitJS(ctx, fmt.Sprintf("%q to hold %q", sel, want),
		`document.querySelector(`+browserJS(sel)+`).value === `+browserJS(want))
}

// count returns how many elements match sel.
func (b *browserSession) count(ctx context.Context, sel string) (int, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+browserJS(sel)+`).length`))
}

// markDocument tags the current document; checkSameDocument proves that an
// HTMX request swapped part of it instead of loading a new page.
func (b *browserSession) markDocument(ctx context.Context) error {
	if err := b.waitJS(ctx, "htmx to load", "window.htmx && document.readyState === 'complete'"); err != nil {
		return err
	}
	return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__browserMark = "kept"`))
}

func (b *browserSession) checkSameDocument(ctx context.Context, path string) error {
	type state struct {
		Mark string `json:"mark"`
		Path string `json:"path"`
	}
	s, err := chromedp.Run(ctx, chromedp.Evaluate[state](`({mark: window.__browserMark || "", path: location.pathname})`))
	if err != nil {
		return err
	}
	if s.Mark != "kept" {
		return fmt.Errorf("the page was reloaded (now on %s); want an in-place HTMX swap", s.Path)
	}
	if path != "" && s.Path != path {
		return fmt.Errorf("the URL changed to %s; want it to stay %s", s.Path, path)
	}
	return nil
}

// The browser tests' check fails on what a Content-Security-Policy refuses:
// an inline script, an inline handler and a style attribute on a page with
// the dashboard's policy are each reported, and so is a console error.
func TestBrowserReportsCSPViolations(t *testing.T) {
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		if r.URL.Path == "/ok.js" {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, `console.error("an error from ok.js");`)
			return
		}
		_, _ = io.WriteString(w, `<!doctype html><p style="color:red">styled</p>
<script>document.title = "inline ran";</script>
<button id="b" onclick="document.title = 'handler ran'">b</button>
<script src="/ok.js"></script>`)
	}))
	t.Cleanup(srv.Close)
	b := browserOpen(t, srv.URL)
	b.step("open a page that breaks the policy", browserStartup, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#b"))); err != nil {
			return err
		}
		return b.waitJS(ctx, "the reports", `true`)
	})
	want := map[string]string{
		"the inline script":  "CSP violation: script-src-elem blocked inline",
		"the inline handler": "CSP violation: script-src-attr blocked inline",
		"the style":          "CSP violation: style-src-attr blocked inline",
		"the console error":  "an error from ok.js",
	}
	deadline := time.Now().Add(10 * time.Second)
	for what, text := range want {
		for !slicesContainsSubstring(b.exceptions(), text) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !slicesContainsSubstring(b.exceptions(), text) {
			t.Errorf("%s is not reported (want %q); reported:\n%s", what, text, strings.Join(b.exceptions(), "\n"))
		}
	}
	if title, err := chromedp.Run(b.ctx, chromedp.Title()); err != nil || strings.Contains(title, "ran") {
		t.Errorf("inline code ran under the policy: title %q (%v)", title, err)
	}
}

func slicesContainsSubstring(list []string, s string) bool {
	for _, v := range list {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// openTab clicks a service page's tab and waits until its body has been
// swapped in and settled by htmx (so its buttons are bound).
func (b *browserSession) openTab(ctx context.Context, tab string) error {
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.service-tabs a[data-tab="`+tab+`"]`))); err != nil {
		return err
	}
	return b.waitJS(ctx, "the "+tab+" tab", `document.querySelector('.service-tab[data-tab="`+tab+`"]') !== null &&
		!document.querySelector('#service-body').classList.contains('htmx-settling') &&
		document.querySelector('.service-tabs a.active[data-tab="`+tab+`"]') !== null`)
}

// clickReady clicks sel once htmx has processed it. An element swapped in
// a moment ago gets its hx-* behaviour when the swap settles (~20 ms); a
// click before that does nothing, which no person is fast enough to hit.
func (b *browserSession) clickReady(ctx context.Context, sel string) error {
	if err := b.waitJS(ctx, fmt.Sprintf("htmx to process %q", sel), `(() => {
		const e = document.querySelector(`+browserJS(sel)+`);
		return e !== null && !e.disabled && !!(e["htmx-internal-data"] || {}).initHash && !e.closest(".htmx-settling, .htmx-swapping");
	})()`); err != nil {
		return err
	}
	return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
}
