package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
)

// TestBrowserNodes walks the Nodes page in Chromium on the machine's
// swarm: the local manager's card, a label added and removed in place
// (with a key of this run, so other tests sharing the node are not
// touched), the worker join command shown only on request, and the page
// fitting a phone. Screenshots land in e2e/out (nodes, nodes-join,
// nodes-phone).
func TestBrowserNodes(t *testing.T) {
	dbtest.Integration(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	out, err := exec.Command("docker", "info", "--format", "{{.Swarm.NodeID}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	self := strings.TrimSpace(string(out))
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	key := "test.browser." + hex.EncodeToString(buf)
	// docker node update re-reads the node, so a version race with
	// another package's test is retried by running it again.
	t.Cleanup(func() {
		for try := 0; try < 5; try++ {
			labels, _ := exec.Command("docker", "node", "inspect", "--format", "{{json .Spec.Labels}}", self).Output()
			if !strings.Contains(string(labels), `"`+key+`"`) {
				return
			}
			_ = exec.Command("docker", "node", "update", "--label-rm", key, self).Run()
			time.Sleep(100 * time.Millisecond)
		}
	})

	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	b := browserOpen(t, c.URL)
	card := "#node-" + self
	b.step("sign in", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(c.URL+"/login"),
			chromedp.SendKeys(chromedp.CSS("#email"), resAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), resAdminPassword),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		); err != nil {
			return err
		}
		return b.waitPath(ctx, "/")
	})
	b.step("open Nodes from the navigation", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top nav a[href="/nodes"]`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/nodes"); err != nil {
			return err
		}
		return b.waitText(ctx, card+" .node-role", "manager · leader")
	})
	b.step("add a label", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(card+` .node-label-form [name=key]`), key),
			chromedp.SendKeys(chromedp.CSS(card+` .node-label-form [name=value]`), "eu"),
			chromedp.Click(chromedp.CSS(card+` .node-label-form button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, card+" .node-label-list", key+"=eu"); err != nil {
			return err
		}
		return b.screenshot(ctx, "nodes")
	})
	b.step("a bad label is refused at its form", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(card+` .node-label-form [name=key]`), "Bad Key"),
			chromedp.SendKeys(chromedp.CSS(card+` .node-label-form [name=value]`), "x"),
			chromedp.Click(chromedp.CSS(card+` .node-label-form button[type=submit]`)),
		); err != nil {
			return err
		}
		return b.waitText(ctx, card+" .node-label-form .error-text", "use lowercase letters")
	})
	b.step("show the worker join command", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#node-join button`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#node-join-command", "docker swarm join --token SWMTKN-"); err != nil {
			return err
		}
		return b.screenshot(ctx, "nodes-join")
	})
	b.step("the page fits a phone", browserStepTimeout, func(ctx context.Context) error {
		if err := b.checkPhoneFit(ctx, "/nodes"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile)); err != nil {
			return err
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/nodes")); err != nil {
			return err
		}
		if err := b.waitText(ctx, card+" .node-label-list", key+"=eu"); err != nil {
			return err
		}
		return b.screenshot(ctx, "nodes-phone")
	})
	b.step("remove the label", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(card+` .node-label-list button[aria-label="Remove label `+key+`"]`))); err != nil {
			return err
		}
		return b.waitText(ctx, card+" .flash.ok", "Label "+key+" removed.")
	})
	if ex := b.exceptions(); len(ex) > 0 {
		t.Errorf("JavaScript errors or CSP violations: %v", ex)
	}
}
