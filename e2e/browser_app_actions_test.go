package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
)

// actionSettleTimeout bounds one header action until Swarm reaches the
// state it asked for (a stop waits for the task's grace period).
const actionSettleTimeout = 90 * time.Second

// TestBrowserAppActions presses Stop, Start and Restart in a deployed app's
// header the way a user does, with unsaved input in the Environment tab:
// the page is never reloaded and the typed input survives; each action
// confirms what was asked at once; "stopped" shows only once Docker has no
// running task and the port refuses; Start serves again; Restart replaces
// the container. A refused .env block keeps everything typed.
func TestBrowserAppActions(t *testing.T) {
	dbtest.Integration(t)
	f := deployRun(t, deployNewAppName(t, "e2e-actions-"), "hello-actions")
	b, dk := f.b, deployDocker(t)
	envPath := f.appPath + "/environment"
	addr := fmt.Sprintf("127.0.0.1:%d", f.port)

	b.step("type a variable without saving it", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+envPath)); err != nil {
			return err
		}
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		return chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
			chromedp.SendKeys(chromedp.CSS(`#app-env .envrow.new input[name=key]`), "UNSAVED_KEY"),
			chromedp.SendKeys(chromedp.CSS(`#app-env .envrow.new input[name=value]`), "typed-but-not-saved"))
	})

	b.step("Stop confirms at once and reads stopped only when the task is gone", actionSettleTimeout, func(ctx context.Context) error {
		if err := b.clickReady(ctx, `#service-header button[data-action=Stop]`); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header .service-message", "Stop requested"); err != nil {
			return err
		}
		var seen []string
		for {
			badge, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#service-state").innerText.trim()`))
			if err != nil {
				return err
			}
			if len(seen) == 0 || seen[len(seen)-1] != badge {
				seen = append(seen, badge)
			}
			if badge == "stopped" {
				info, err := dk.ServiceInfo(ctx, f.appName)
				if err != nil {
					return err
				}
				if info.Running != 0 {
					return fmt.Errorf("the header reads stopped while Docker runs %d task(s); states seen: %s", info.Running, strings.Join(seen, " → "))
				}
				if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					conn.Close()
					return fmt.Errorf("the header reads stopped while %s still accepts connections", addr)
				}
				t.Logf("Stop: header states %s", strings.Join(seen, " → "))
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("never stopped; states seen: %s", strings.Join(seen, " → "))
			case <-time.After(200 * time.Millisecond):
			}
		}
		if err := b.waitJS(ctx, "Start to be enabled and Stop disabled",
			`!document.querySelector("#service-header button[data-action=Start]").disabled && document.querySelector("#service-header button[data-action=Stop]").disabled`); err != nil {
			return err
		}
		return b.checkSameDocument(ctx, envPath)
	})

	b.step("Start serves again, the typed input still there", deployServeTimeout+actionSettleTimeout, func(ctx context.Context) error {
		if err := b.clickReady(ctx, `#service-header button[data-action=Start]`); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header .service-message", "Start requested"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-state .badge.state-ok", "running"); err != nil {
			return err
		}
		if err := deployWaitBody(ctx, "http://"+addr+"/", "hello-actions"); err != nil {
			return err
		}
		if err := b.waitValue(ctx, `#app-env .envrow.new input[name=key]`, "UNSAVED_KEY"); err != nil {
			return err
		}
		return b.checkSameDocument(ctx, envPath)
	})

	b.step("Restart replaces the container and says so meanwhile", deployServeTimeout+actionSettleTimeout, func(ctx context.Context) error {
		before, err := dk.ServiceContainer(ctx, f.appName)
		if err != nil {
			return err
		}
		if err := b.clickReady(ctx, `#service-header button[data-action=Restart]`); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#service-header .service-message", "Restart requested"); err != nil {
			return err
		}
		for {
			after, err := dk.ServiceContainer(ctx, f.appName)
			if err == nil && after != "" && after != before {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the container %s was never replaced", before)
			case <-time.After(300 * time.Millisecond):
			}
		}
		if err := b.waitText(ctx, "#service-state .badge.state-ok", "running"); err != nil {
			return err
		}
		if err := deployWaitBody(ctx, "http://"+addr+"/", "hello-actions"); err != nil {
			return err
		}
		if err := b.waitValue(ctx, `#app-env .envrow.new input[name=value]`, "typed-but-not-saved"); err != nil {
			return err
		}
		return b.checkSameDocument(ctx, envPath)
	})

	b.step("a refused .env block keeps everything typed", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#app-env details summary`)),
			chromedp.SendKeys(chromedp.CSS(`#app-env textarea[name=dotenv]`), "GOOD=1\nthis is not a line"),
			chromedp.Click(chromedp.CSS(`#app-env button[type=submit]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#app-env .flash.error", "Nothing was saved"); err != nil {
			return err
		}
		if err := b.waitValue(ctx, `#app-env .envrow.new input[name=key]`, "UNSAVED_KEY"); err != nil {
			return err
		}
		if err := b.waitValue(ctx, `#app-env textarea[name=dotenv]`, "GOOD=1\nthis is not a line"); err != nil {
			return err
		}
		return b.checkSameDocument(ctx, envPath)
	})

	b.step("the uploaded-certificate picker shows only when that kind is chosen", browserStepTimeout, func(ctx context.Context) error {
		if err := b.openTab(ctx, "domains"); err != nil {
			return err
		}
		visible := func() (bool, error) {
			return chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#domain-new-certificate-id").getClientRects().length > 0`))
		}
		choose := func(v string) error {
			return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#domain-new-certificate");
				s.value = `+browserJS(v)+`; s.dispatchEvent(new Event("change", {bubbles: true})); })()`))
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#app-domains details summary`))); err != nil {
			return err
		}
		for _, c := range []struct {
			kind string
			want bool
		}{{"letsencrypt", false}, {"custom", true}, {"none", false}} {
			if err := choose(c.kind); err != nil {
				return err
			}
			if got, err := visible(); err != nil || got != c.want {
				return fmt.Errorf("certificate %q: picker visible %v (%v), want %v", c.kind, got, err, c.want)
			}
		}
		return b.checkSameDocument(ctx, f.appPath+"/domains")
	})

	if msgs := b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", strings.Join(msgs, "\n"))
	}
}
