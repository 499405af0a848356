package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// Bounded waits of the compose stack flow.
const (
	stackuiRunningTimeout = 4 * time.Minute // Create pressed → every service n/n
	stackuiDeleteTimeout  = 2 * time.Minute
)

// TestBrowserCompose drives a compose stack through its pages the way a
// user does: a pasted file with a syntax error is refused at its line with
// the text kept, then a two-service file (the test HTTP server twice over,
// with a health check, and the Redis stand-in with a named volume) is
// created and deployed; the Services tab follows both services until they
// run n/n without a reload; every tab opens; every page fits a phone; and
// the stack is deleted with its volumes.
func TestBrowserCompose(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	web := resScratchImage(t)
	cache := testkit.DBImage(t, "redis")
	name := "e2eui-st-" + srvRandomHex(3)
	// Registered before srvStart, so it runs after the server stopped.
	t.Cleanup(func() { stackCleanup(name) })
	srv := srvStart(t, "DOKPLOY_WORKER=true")
	b := browserOpen(t, srv.URL)
	b.setupAdmin(srv)

	var projectPath string
	b.step("create a project", browserStepTimeout, func(ctx context.Context) error {
		form := `#projects form[hx-post="/projects"]`
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(form+` input[name=name]`), "stacks"),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#projects .project-card[data-project="stacks"] h3 a`)),
			chromedp.Click(chromedp.CSS(`#projects .project-card[data-project="stacks"] h3 a`)),
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
		return b.waitText(ctx, `.env[data-env="production"] .env-stacks`, "No compose stacks in production")
	})

	const form = `#new-compose form`
	b.step("a file with a syntax error is refused at its line, the text kept", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		bad := "services:\n  web: [\n"
		// The stack name's placeholder follows the display name (static/pages.js).
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#compose-new-display"), "Shop stack")); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the stack name placeholder", `document.getElementById("compose-new-name").placeholder === "shop-stack"`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#compose-new-name"), name),
			chromedp.SetValue(chromedp.CSS("#compose-new-file"), bad),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#new-compose .field.invalid pre.compose-error`, "line 2"); err != nil {
			return err
		}
		for sel, want := range map[string]string{"#compose-new-file": bad, "#compose-new-name": name, "#compose-new-display": "Shop stack"} {
			if err := b.waitValue(ctx, sel, want); err != nil {
				return err
			}
		}
		if err := b.checkSameDocument(ctx, projectPath); err != nil {
			return err
		}
		return b.screenshot(ctx, "compose-create-bad-file")
	})

	file := fmt.Sprintf(`services:
  web:
    image: %s
    environment:
      MESSAGE: ${GREETING:-hello from the stack}
    deploy:
      replicas: 2
    healthcheck:
      test: ["CMD", "/app", "-probe"]
      interval: 2s
      timeout: 2s
      retries: 10
  cache:
    image: %s
    volumes:
      - cache-data:/data
volumes:
  cache-data:
`, web, cache)

	var stackPath string
	b.step("create the stack", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#compose-new-file"), file),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/compose/\d+$`)); err != nil {
			return err
		}
		var err error
		if stackPath, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); err != nil {
			return err
		}
		return b.waitText(ctx, "#service-header h1", "Shop stack")
	})

	b.step("the Services tab shows both services running without a reload", stackuiRunningTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		for svc, want := range map[string]string{"web": "2/2", "cache": "1/1"} {
			sel := fmt.Sprintf(`#compose-services tr[data-service=%q] .replicas`, svc)
			if err := b.waitText(ctx, sel, want); err != nil {
				msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#compose-services") || {}).innerText || ""`))
				return fmt.Errorf("%w; services panel:\n%s", err, msg)
			}
		}
		if err := b.waitText(ctx, `#compose-services tr[data-service=web]`, "healthy"); err != nil {
			return err
		}
		seen, err := b.watchBadge(ctx, "running")
		t.Logf("header badge: %s", strings.Join(seen, " → "))
		if err != nil {
			return err
		}
		for action, disabled := range map[string]bool{"Start": true, "Stop": false, "Restart": false, "Deploy": false} {
			if err := b.waitJS(ctx, action+" enabled="+fmt.Sprint(!disabled), `document.querySelector('#service-header button[data-action=`+action+`]').disabled === `+fmt.Sprint(disabled)); err != nil {
				return err
			}
		}
		if err := b.checkSameDocument(ctx, stackPath); err != nil {
			return err
		}
		return b.screenshot(ctx, "compose-services")
	})

	b.step("the stack page at phone width", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile)); err != nil {
			return err
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+stackPath)); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#compose-services tr[data-service=web] .replicas`, "2/2"); err != nil {
			return err
		}
		return b.screenshot(ctx, "compose-services-phone")
	})

	tabs := []struct{ id, label, path, check, want string }{
		{"file", "Compose file", "/file", "#compose-rendered", "cache-data"},
		{"environment", "Environment", "/environment", "#compose-env .env-rule", "Values are used for ${VAR} in the compose file."},
		{"domains", "Domains", "/domains", "#compose-domains", "Applies at once, no redeploy needed."},
		{"logs", "Logs", "/logs", "#runtime-logs-filter select[name=service]", "web"},
		{"monitoring", "Monitoring", "/monitoring", `#service-metrics button[data-range="7d"]`, "7d"},
		{"deployments", "Deployments", "/deployments", "#compose-deployments .badge.state-ok", "in service"},
		{"settings", "Settings", "/settings", "#compose-danger", "Delete this stack"},
		{"services", "Services", "", "#compose-services tr[data-service=cache] .replicas", "1/1"},
	}
	for _, tab := range tabs {
		b.step("open the "+tab.id+" tab", browserStepTimeout, func(ctx context.Context) error {
			if err := b.markDocument(ctx); err != nil {
				return err
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.service-tabs a[data-tab="`+tab.id+`"]`))); err != nil {
				return err
			}
			if err := b.waitJS(ctx, "the address bar to follow", `location.pathname === `+browserJS(stackPath+tab.path)); err != nil {
				return err
			}
			if err := b.waitText(ctx, `.service-tabs a.active`, tab.label); err != nil {
				return err
			}
			if err := b.waitText(ctx, tab.check, tab.want); err != nil {
				return err
			}
			if err := b.checkSameDocument(ctx, stackPath+tab.path); err != nil {
				return err
			}
			return b.screenshot(ctx, "compose-"+tab.id)
		})
	}

	b.step("the Logs tab follows one service's output", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+stackPath+"/logs")); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#runtime-logs-filter select[name=service]`), "web"),
			chromedp.SetValue(chromedp.CSS(`#runtime-logs-filter input[name=q]`), "listening"),
			chromedp.Click(chromedp.CSS("#runtime-logs-follow")),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#runtime-logs-state[data-state="connected"]`, "following"); err != nil {
			return err
		}
		return b.waitText(ctx, "#runtime-logs", "listening on")
	})

	b.step("every stack page fits a phone", 3*browserStepTimeout, func(ctx context.Context) error {
		paths := []string{projectPath}
		for _, tab := range tabs {
			paths = append(paths, stackPath+tab.path)
		}
		return b.checkPhoneFit(ctx, paths...)
	})

	b.step("delete it with its volumes", stackuiDeleteTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+stackPath+"/settings")); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(`#compose-danger button.danger`)),
			chromedp.Click(chromedp.CSS(`#compose-danger button.danger`)),
			chromedp.WaitVisible(chromedp.CSS(`#service-delete`)),
		); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#service-delete input[name=volumes]:checked`); err != nil || n != 0 {
			return fmt.Errorf("a volume choice is preselected (%d, %v)", n, err)
		}
		if err := b.screenshot(ctx, "compose-delete"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#service-delete input[name=volumes][value=remove]`)),
			chromedp.Click(chromedp.CSS(`#service-delete button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPath(ctx, projectPath); err != nil {
			return err
		}
		if err := b.waitText(ctx, `.env[data-env="production"] .env-stacks`, "No compose stacks in production"); err != nil {
			return err
		}
		if out, _ := exec.Command("docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+name).Output(); strings.TrimSpace(string(out)) != "" {
			return fmt.Errorf("services of %s are left after the delete: %s", name, out)
		}
		return nil
	})

	if msgs := b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", strings.Join(msgs, "\n"))
	}
}

// stackCleanup removes what a failed run of the test left of stack name:
// its services, then (once their tasks are gone) its networks and volumes.
func stackCleanup(name string) {
	filter := "label=com.docker.stack.namespace=" + name
	ids := func(args ...string) []string {
		out, _ := exec.Command("docker", append(args, "-q", "--filter", filter)...).Output()
		return strings.Fields(string(out))
	}
	if svcs := ids("service", "ls"); len(svcs) > 0 {
		_ = exec.Command("docker", append([]string{"service", "rm"}, svcs...)...).Run()
	}
	for range 40 {
		nets, vols := ids("network", "ls"), ids("volume", "ls")
		if len(nets) == 0 && len(vols) == 0 {
			return
		}
		for _, n := range nets {
			_ = exec.Command("docker", "network", "rm", n).Run()
		}
		for _, v := range vols {
			_ = exec.Command("docker", "volume", "rm", v).Run()
		}
		time.Sleep(500 * time.Millisecond)
	}
}
