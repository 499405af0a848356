package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// Screenshots for the README: viewport-sized PNGs, committed to the repo.
const (
	shotWidth    = 1280
	shotHeight   = 800
	shotMaxBytes = 200 << 10
	shotDir      = "static/docs" // relative to the module root
)

// TestScreenshots refreshes the README images in static/docs from a real
// deployment. It is a helper, not a CI test: it runs only with
// DOKPLOY_SCREENSHOTS=1 (and DOKPLOY_INTEGRATION=1).
//
//	DOKPLOY_INTEGRATION=1 DOKPLOY_SCREENSHOTS=1 go test -count=1 ./e2e/ -run Screenshots -v
func TestScreenshots(t *testing.T) {
	if os.Getenv("DOKPLOY_SCREENSHOTS") != "1" {
		t.Skip("refreshes the README screenshots: set DOKPLOY_SCREENSHOTS=1")
	}
	dbtest.Integration(t)
	root := testkit.RepoRoot(t)
	dir := filepath.Join(root, shotDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := deployRun(t, shotAppName(t), "hello-from-browser")
	b := f.b

	save := func(ctx context.Context, name string) error {
		// Let polling swaps and fonts settle, then start from the top.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`)); err != nil {
			return err
		}
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			return err
		}
		t.Logf("wrote %s (%d KB)", path, len(buf)>>10)
		if len(buf) > shotMaxBytes {
			t.Errorf("%s is %d KB; keep README screenshots under %d KB", name, len(buf)>>10, shotMaxBytes>>10)
		}
		return nil
	}
	scrollTop := chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)

	b.step("dashboard screenshot", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(shotWidth, shotHeight)); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/")); err != nil {
			return err
		}
		card := `#projects .project-card[data-project="demo"]`
		if err := b.waitText(ctx, card+` .applist li a`, "Hello web"); err != nil {
			return err
		}
		if err := b.waitText(ctx, card+` .applist li .badge.running`, "running"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, scrollTop); err != nil {
			return err
		}
		return save(ctx, "dashboard.png")
	})

	b.step("app screenshot", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+f.appPath)); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-state .badge.state-ok", "running"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#app-replicas", "running"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, scrollTop); err != nil {
			return err
		}
		return save(ctx, "app.png")
	})

	b.step("app deployments screenshot", browserStepTimeout, func(ctx context.Context) error {
		if err := b.openTab(ctx, "deployments"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#deployments .badge.state-ok", "current"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, scrollTop); err != nil {
			return err
		}
		return save(ctx, "app-deployments.png")
	})

	b.step("app on a phone screenshot", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile)); err != nil {
			return err
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(shotWidth, shotHeight)) }()
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+f.appPath)); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-state .badge.state-ok", "running"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, scrollTop); err != nil {
			return err
		}
		return save(ctx, "app-phone.png")
	})

	b.step("deployment screenshot", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+f.deployPath)); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#deploy-status .badge.done", "done"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#log", "Service "+f.appName+" is running"); err != nil {
			return err
		}
		// The 540px log box runs past the bottom of a 1280x800 viewport,
		// which would hide the end of the log. For the picture only, end
		// the box 24px above the viewport's bottom and scroll it to the end,
		// so the header, the done status and the log's last lines all show.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
			window.scrollTo(0, 0);
			const l = document.getElementById("log");
			const h = window.innerHeight - l.getBoundingClientRect().top - 24;
			if (h > 200 && h < l.clientHeight) l.style.height = h + "px";
			l.scrollTop = l.scrollHeight;
		})()`)); err != nil {
			return err
		}
		return save(ctx, "deployment.png")
	})

	if msgs := b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", msgs)
	}
}

// shotAppName is "hello-web" for a clean picture, unless a service or an
// image of that name exists on this engine (the test removes both at the
// end); then it gets a random suffix.
func shotAppName(t *testing.T) string {
	t.Helper()
	const name = "hello-web"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// "service inspect" fails when no service has exactly this name.
	svcErr := exec.CommandContext(ctx, "docker", "service", "inspect", name).Run()
	img, imgErr := exec.CommandContext(ctx, "docker", "image", "ls", "-q", name).Output()
	if svcErr == nil || imgErr != nil || strings.TrimSpace(string(img)) != "" {
		return deployNewAppName(t, name+"-")
	}
	return name
}
