package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/jobs/notify"
)

// TestBrowserNotificationChannel walks a channel's own page in Chromium:
// from Settings to the channel, limit it to one project and save, Send
// test and see the delivery listed as sent (the signed request reached
// the receiver); the page fits a phone and raises no JavaScript error.
func TestBrowserNotificationChannel(t *testing.T) {
	dbtest.Integration(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	const secret = "whsec-browser-0123456789abcdef"
	var signed, bad atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if notify.Verify(secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute) != nil {
			bad.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		signed.Add(1)
	}))
	defer sink.Close()

	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	project := c.newProject(t)
	var ch struct {
		ID int64 `json:"id"`
	}
	c.mustAPI(t, "POST", "/api/v1/notifications", map[string]any{"name": "team hook", "kind": "webhook", "events": []string{"deploy.failed"},
		"config": map[string]any{"url": sink.URL, "secret": secret}}, http.StatusCreated, &ch)
	page := fmt.Sprintf("/settings/notifications/%d", ch.ID)

	b := browserOpen(t, c.URL)
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
	b.step("open the channel from Settings", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/settings")); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the channel row", `document.querySelector('tr[data-channel="team hook"] a')`); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-channel="team hook"] a`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, page); err != nil {
			return err
		}
		return b.waitText(ctx, "#channel-deliveries", "No deliveries yet")
	})
	b.step("limit it to one project and save", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#channel-edit [name=projects][value="%d"]`, project))),
			chromedp.Click(chromedp.CSS(`#channel-edit [name=events][value="alert.firing"]`)),
			chromedp.Click(chromedp.CSS(`#channel-edit button[type=submit]`)),
		); err != nil {
			return err
		}
		return b.waitText(ctx, "#notification-channel .flash.ok", "Saved team hook")
	})
	b.step("send a test and see it delivered", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#notification-channel .panel-head button`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#notification-test-result", "Test message sent to team hook"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#channel-deliveries .badge.state-ok", "sent"); err != nil {
			return err
		}
		return b.screenshot(ctx, "notification-channel")
	})
	b.step("the channel page fits a phone", browserStepTimeout, func(ctx context.Context) error {
		return b.checkPhoneFit(ctx, page)
	})
	if n := signed.Load(); n != 1 || bad.Load() != 0 {
		t.Errorf("the receiver got %d signed requests and %d badly signed; want 1 and 0", n, bad.Load())
	}
	var got struct {
		Projects []int64  `json:"projects"`
		Events   []string `json:"events"`
	}
	c.mustAPI(t, "GET", fmt.Sprintf("/api/v1/notifications/%d", ch.ID), nil, http.StatusOK, &got)
	if !slices.Equal(got.Projects, []int64{project}) || !slices.Contains(got.Events, "alert.firing") || !slices.Contains(got.Events, "deploy.failed") {
		t.Errorf("the API shows projects %v and events %v; want [%d] and deploy.failed + alert.firing", got.Projects, got.Events, project)
	}
	if ex := b.exceptions(); len(ex) > 0 {
		t.Errorf("JavaScript errors: %v", ex)
	}
}
