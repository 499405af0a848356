package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// Bounded waits of the database flow.
const (
	dbuiHealthyTimeout = 3 * time.Minute // Create pressed → header badge healthy
	dbuiStopTimeout    = 2 * time.Minute // Stop pressed → stopped
)

// TestBrowserDatabase drives a PostgreSQL database through its pages the
// way a user does: create it from the project page (after two refused
// attempts that keep the typed values), watch the header turn healthy
// without a reload, open every tab, reveal the connection URL, see the
// major-version guard, stop it, check every page at phone width, and
// delete it keeping its data volume.
func TestBrowserDatabase(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	image := testkit.DBImage(t, "postgres")
	name := "e2eui-pg-" + srvRandomHex(3)
	ident := strings.ReplaceAll(name, "-", "_") // the default database and user
	// Registered before srvStart, so it runs after the server stopped.
	t.Cleanup(func() { dbCleanup(name) })
	srv := srvStart(t, "DOKPLOY_WORKER=true")
	b := browserOpen(t, srv.URL)
	b.setupAdmin(srv)

	var projectPath string
	b.step("create a project with an app", browserStepTimeout, func(ctx context.Context) error {
		form := `#projects form[hx-post="/projects"]`
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(form+` input[name=name]`), "data"),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#projects .project-card[data-project="data"] h3 a`)),
			chromedp.Click(chromedp.CSS(`#projects .project-card[data-project="data"] h3 a`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/projects/\d+$`)); err != nil {
			return err
		}
		var err error
		if projectPath, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); err != nil {
			return err
		}
		if err := b.waitText(ctx, `.env[data-env="production"] .env-databases`, "No databases in production"); err != nil {
			return err
		}
		// An app holds the name the database will first ask for.
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop"),
			chromedp.SendKeys(chromedp.CSS("#app-slug"), name+"-app"),
			chromedp.Click(chromedp.CSS(`#new-app input[name=source_type][value=image]`)),
			chromedp.SendKeys(chromedp.CSS("#image"), "nginx:1.27"),
			chromedp.Click(chromedp.CSS(`#new-app button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/apps/\d+$`)); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+projectPath)); err != nil {
			return err
		}
		return b.waitText(ctx, "#new-database h2", "New database")
	})

	const dbForm = `#new-database form`
	b.step("an image with a space is refused at its field", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		// Choosing an engine shows its default name and image as the
		// placeholders (static/pages.js).
		pick := func(engine string) error {
			return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(s => { s.value = `+browserJS(engine)+`;
				s.dispatchEvent(new Event("change", {bubbles: true})); })(document.getElementById("db-engine"))`))
		}
		if err := pick("mysql"); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the MySQL placeholders", `document.getElementById("db-name").placeholder === "mysql" &&
			document.querySelector(`+browserJS(dbForm+" #db-image")+`).placeholder === "mysql:8"`); err != nil {
			return err
		}
		if err := pick("postgres"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#db-name"), name+"-app"),
			chromedp.SendKeys(chromedp.CSS(dbForm+" #db-image"), "postgres 17"),
			chromedp.Click(chromedp.CSS(dbForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#new-database .field.invalid:has(#db-image) .error-text`, "invalid image reference"); err != nil {
			return err
		}
		for sel, want := range map[string]string{"#db-name": name + "-app", dbForm + " #db-image": "postgres 17", "#db-engine": "postgres"} {
			if err := b.waitValue(ctx, sel, want); err != nil {
				return err
			}
		}
		if err := b.checkSameDocument(ctx, projectPath); err != nil {
			return err
		}
		return b.screenshot(ctx, "database-create-bad-image")
	})

	b.step("a name taken by an app is refused at its field", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.CSS(dbForm+" #db-image")),
			chromedp.SendKeys(chromedp.CSS(dbForm+" #db-image"), image),
			chromedp.Click(chromedp.CSS(dbForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#new-database .field.invalid:has(#db-name) .error-text`, "is taken"); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#new-database .field.invalid`); err != nil || n != 1 {
			return fmt.Errorf("want exactly 1 invalid field, got %d (%v)", n, err)
		}
		for sel, want := range map[string]string{"#db-name": name + "-app", dbForm + " #db-image": image} {
			if err := b.waitValue(ctx, sel, want); err != nil {
				return err
			}
		}
		if err := b.checkSameDocument(ctx, projectPath); err != nil {
			return err
		}
		return b.screenshot(ctx, "database-create-taken")
	})

	var dbPath string
	b.step("create the database", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.CSS("#db-name")),
			chromedp.SendKeys(chromedp.CSS("#db-name"), name),
			chromedp.Click(chromedp.CSS(dbForm+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/databases/\d+$`)); err != nil {
			return err
		}
		var err error
		if dbPath, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); err != nil {
			return err
		}
		return b.waitText(ctx, "#service-header h1", name)
	})

	b.step("the header turns healthy without a reload", dbuiHealthyTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		seen, err := b.watchBadge(ctx, "healthy")
		t.Logf("header badge: %s", strings.Join(seen, " → "))
		if err != nil {
			return err
		}
		if err := b.checkSameDocument(ctx, dbPath); err != nil {
			return err
		}
		// Healthy and idle: Stop and Restart are offered, Start is not.
		for action, disabled := range map[string]bool{"Start": true, "Stop": false, "Restart": false, "Deploy": false} {
			if err := b.waitJS(ctx, action+" enabled="+fmt.Sprint(!disabled), `document.querySelector('#service-header button[data-action=`+action+`]').disabled === `+fmt.Sprint(disabled)); err != nil {
				return err
			}
		}
		return b.screenshot(ctx, "database-general")
	})

	b.step("reveal the connection URL", browserStepTimeout, func(ctx context.Context) error {
		url := `#db-internal-url`
		masked := fmt.Sprintf("postgresql://%s:********@%s:5432/%s", ident, name, ident)
		if err := b.waitText(ctx, url, masked); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#db-reveal"))); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the password in the URL", `(t => t.startsWith("postgresql://`+ident+`:") && !t.includes("*"))(document.querySelector("`+url+`").textContent)`); err != nil {
			return err
		}
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(url)))
		if err != nil {
			return err
		}
		re := regexp.MustCompile(`^postgresql://` + ident + `:([A-Za-z0-9]{16,})@` + regexp.QuoteMeta(name) + `:5432/` + ident + `$`)
		if !re.MatchString(strings.TrimSpace(got)) {
			return fmt.Errorf("revealed URL %q does not match %s", got, re)
		}
		copyURL := `button[data-copy="#db-internal-url"]`
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(copyURL))); err != nil {
			return err
		}
		if err := b.waitText(ctx, copyURL, "Copied"); err != nil {
			return err
		}
		return b.screenshot(ctx, "database-revealed")
	})

	tabs := []struct{ id, path, check, want string }{
		{"environment", "/environment", "#db-env", "No extra variables"},
		{"operations", "/operations", "#db-operations table", "deploy"},
		{"logs", "/logs", "#runtime-logs-state", ""},
		{"monitoring", "/monitoring", `#service-metrics button[data-range="7d"]`, "7d"},
		{"advanced", "/advanced", "#db-advanced h2", "Advanced settings"},
		{"general", "", "#db-connection h2", "Connection"},
	}
	var opPath string // the first deploy's log
	for _, tab := range tabs {
		b.step("open the "+tab.id+" tab", browserStepTimeout, func(ctx context.Context) error {
			if err := b.markDocument(ctx); err != nil {
				return err
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.service-tabs a[data-tab="`+tab.id+`"]`))); err != nil {
				return err
			}
			if err := b.waitJS(ctx, "the address bar to follow", `location.pathname === `+browserJS(dbPath+tab.path)); err != nil {
				return err
			}
			if err := b.waitText(ctx, `.service-tabs a.active`, strings.ToUpper(tab.id[:1])+tab.id[1:]); err != nil {
				return err
			}
			switch tab.id {
			case "logs":
				// The same filters as an app's: search the engine's output.
				if err := chromedp.Do(ctx,
					chromedp.SetValue(chromedp.CSS(`#runtime-logs-filter input[name=q]`), "ready"),
					chromedp.Click(chromedp.CSS("#runtime-logs-follow")),
				); err != nil {
					return err
				}
				if err := b.waitText(ctx, `#runtime-logs-state[data-state="connected"]`, "following"); err != nil {
					return err
				}
				if err := b.waitJS(ctx, "matching log lines", `document.querySelectorAll("#runtime-logs .line").length > 0 &&
					[...document.querySelectorAll("#runtime-logs .line")].every(l => l.textContent.toLowerCase().includes("ready"))`); err != nil {
					return err
				}
			case "operations":
				if err := b.waitText(ctx, "#db-operations .badge.done", "done"); err != nil {
					return err
				}
				var err error
				if opPath, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#db-operations td a").getAttribute("href")`)); err != nil {
					return err
				}
			default:
				if err := b.waitText(ctx, tab.check, tab.want); err != nil {
					return err
				}
			}
			if err := b.checkSameDocument(ctx, dbPath+tab.path); err != nil {
				return err
			}
			return b.screenshot(ctx, "database-"+tab.id)
		})
	}

	b.step("an env change redeploys from the Environment tab", dbuiHealthyTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.service-tabs a[data-tab="environment"]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#db-env", "No extra variables"); err != nil {
			return err
		}
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#db-env .envrow.new input[name=key]`), "TZ"),
			chromedp.SendKeys(chromedp.CSS(`#db-env .envrow.new input[name=value]`), "UTC"),
			chromedp.Click(chromedp.CSS(`#db-env button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#db-env .flash.ok", "A deploy is queued"); err != nil {
			return err
		}
		if err := b.waitValue(ctx, `#db-env .envrow:not(.new) input[name=key]`, "TZ"); err != nil {
			return err
		}
		// The header came along and follows the deploy.
		seen, err := b.watchBadge(ctx, "healthy")
		t.Logf("header badge: %s", strings.Join(seen, " → "))
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(seen, " "), "deploying") {
			return fmt.Errorf("the header never showed the redeploy: %v", seen)
		}
		return b.checkSameDocument(ctx, dbPath+"/environment")
	})

	b.step("a direct load of a tab is the whole page", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+dbPath+"/advanced")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header h1", name); err != nil {
			return err
		}
		return b.waitValue(ctx, "#db-advanced #db-image", image)
	})

	b.step("a major version change needs a confirmation", browserStepTimeout, func(ctx context.Context) error {
		next := strings.Replace(image, ":17", ":18", 1)
		if next == image {
			return fmt.Errorf("the stand-in image %q has no :17 tag to change", image)
		}
		if err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.CSS("#db-advanced #db-image")),
			chromedp.SendKeys(chromedp.CSS("#db-advanced #db-image"), next),
			chromedp.Click(chromedp.CSS(`#db-advanced button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#db-advanced .major-warning", "PostgreSQL 17 → 18"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#db-advanced .flash.error", "Nothing was saved"); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#db-advanced input[name=confirm_major]`); err != nil || n != 1 {
			return fmt.Errorf("no confirm_major checkbox (%d, %v)", n, err)
		}
		if err := b.waitValue(ctx, "#db-advanced #db-image", next); err != nil {
			return err
		}
		return b.screenshot(ctx, "database-advanced-major")
	})

	b.step("the operation's log page belongs to the database", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+opPath)); err != nil {
			return err
		}
		if err := b.waitText(ctx, ".page-head h1", "Deploy #"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#deployment-status .flash.ok", "Back to the database"); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the log", `document.querySelectorAll("#log .line").length > 0`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.page-head a.muted`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, dbPath); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+opPath)); err != nil {
			return err
		}
		return b.screenshot(ctx, "database-operation-log")
	})

	b.step("stop it", dbuiStopTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+dbPath)); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header .badge", "healthy"); err != nil {
			return err
		}
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
			chromedp.Click(chromedp.CSS(`#service-header button[data-action=Stop]`)),
		); err != nil {
			return err
		}
		seen, err := b.watchBadge(ctx, "stopped")
		t.Logf("header badge: %s", strings.Join(seen, " → "))
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(seen, " "), "stopping") {
			return fmt.Errorf("the header never showed the stop in progress: %v", seen)
		}
		if err := b.waitJS(ctx, "Start enabled, Stop disabled", `!document.querySelector('#service-header button[data-action=Start]').disabled &&
			document.querySelector('#service-header button[data-action=Stop]').disabled`); err != nil {
			return err
		}
		if err := b.checkSameDocument(ctx, dbPath); err != nil {
			return err
		}
		return b.screenshot(ctx, "database-stopped")
	})

	b.step("every database page fits a phone", 3*browserStepTimeout, func(ctx context.Context) error {
		paths := []string{projectPath, opPath}
		for _, tab := range tabs {
			paths = append(paths, dbPath+tab.path)
		}
		return b.checkPhoneFit(ctx, paths...)
	})

	b.step("delete it keeping the data volume", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+dbPath)); err != nil {
			return err
		}
		// Cancel closes the dialog (static/pages.js, no inline handler).
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(`#service-header button:not([disabled])[data-dialog-open=service-delete]`)),
			chromedp.Click(chromedp.CSS(`#service-header button[data-dialog-open=service-delete]`)),
			chromedp.WaitVisible(chromedp.CSS(`#service-delete`)),
			chromedp.Click(chromedp.CSS(`#service-delete button[data-dialog-close]`)),
		); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "Cancel to close the dialog", `!document.getElementById("service-delete").open`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#service-header button[data-dialog-open=service-delete]`)),
			chromedp.WaitVisible(chromedp.CSS(`#service-delete`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-delete", name+"-data"); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#service-delete input[name=remove_volume]:checked`); err != nil || n != 0 {
			return fmt.Errorf("a volume choice is preselected (%d, %v)", n, err)
		}
		if err := b.screenshot(ctx, "database-delete"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#service-delete input[name=remove_volume][value=keep]`)),
			chromedp.Click(chromedp.CSS(`#service-delete button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, projectPath); err != nil {
			return err
		}
		if err := b.waitText(ctx, `.env[data-env="production"] .env-databases`, "No databases in production"); err != nil {
			return err
		}
		if !dbVolumeExists(name + "-data") {
			return fmt.Errorf("volume %s-data is gone after deleting with “keep”", name)
		}
		return nil
	})

	if msgs := b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", strings.Join(msgs, "\n"))
	}
}

// setupAdmin completes the one-time setup and lands on the empty dashboard.
func (b *browserSession) setupAdmin(srv *srvServer) {
	b.t.Helper()
	b.step("complete setup", browserStartup, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.SetupURL)); err != nil {
			return err
		}
		if err := b.waitText(ctx, ".panel h2", "Create the first admin"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#email"), deployAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), deployAdminPassword),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), deployAdminPassword),
			chromedp.Click(chromedp.CSS(`form[action="/setup"] button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/"); err != nil {
			return err
		}
		return b.waitText(ctx, "#projects .empty", "No projects yet")
	})
}

// watchBadge follows the header's state badge until it reads want, and
// returns the distinct states it showed on the way.
func (b *browserSession) watchBadge(ctx context.Context, want string) ([]string, error) {
	var seen []string
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#service-header .badge") || {}).textContent || ""`))
		if err == nil && (len(seen) == 0 || seen[len(seen)-1] != got) {
			seen = append(seen, got)
		}
		if err == nil && strings.TrimSpace(got) == want {
			return seen, nil
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			defer cancel()
			msg, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`(document.querySelector("#service-header .service-message") || {}).textContent || ""`))
			return seen, fmt.Errorf("the header badge never read %q (last %v; message %q): %w", want, seen, msg, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
