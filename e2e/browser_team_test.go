package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
)

// TestBrowserInvitation invites a member with deploy access to one of two
// projects from the Users page, accepts the invitation in a second
// browser (its own profile: no shared cookies) and checks what the new
// user sees: that project only, and no server settings.
func TestBrowserInvitation(t *testing.T) {
	dbtest.Integration(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)
	for _, name := range []string{"alpha", "bravo"} {
		if code, body, err := c.api(http.MethodPost, "/api/v1/projects", map[string]any{"name": name}); err != nil || code != http.StatusCreated {
			t.Fatalf("create project %s: %d %s %v", name, code, body, err)
		}
	}

	owner := browserOpen(t, c.URL)
	owner.step("sign in as the owner", browserStepTimeout, func(ctx context.Context) error {
		return owner.signIn(ctx, resAdminEmail, resAdminPassword)
	})
	var link string
	owner.step("invite a member to alpha from the Users page", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/users")); err != nil {
			return err
		}
		if err := owner.waitText(ctx, "#users-list", resAdminEmail); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#users-invite input[name=email]`), "dev@example.com"),
			chromedp.SetValue(chromedp.CSS(`#users-invite select[name=role]`), "member"),
			chromedp.SetValue(chromedp.CSS(`#users-invite select[name=project_id]`), c.projectID(t, "alpha")),
			chromedp.SetValue(chromedp.CSS(`#users-invite select[name=level]`), "deploy"),
		); err != nil {
			return err
		}
		if err := owner.clickReady(ctx, `#users-invite form button[type=submit]`); err != nil {
			return err
		}
		if err := owner.waitText(ctx, "#users-invite [data-invitation-link]", "shown only once"); err != nil {
			return err
		}
		var err error
		if link, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#invite-link"))); err != nil {
			return err
		}
		if link = strings.TrimSpace(link); !strings.HasPrefix(link, c.URL+"/invite/") {
			return fmt.Errorf("the invitation link %q is not on %s", link, c.URL)
		}
		if err := owner.waitText(ctx, `[data-invitation="dev@example.com"]`, "alpha (deploy)"); err != nil {
			return err
		}
		return owner.screenshot(ctx, "users-invite")
	})

	invitee := browserOpen(t, c.URL)
	invitee.step("accept the invitation in a second browser", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
			return err
		}
		if err := invitee.waitText(ctx, ".panel", "You are invited as member with access to alpha"); err != nil {
			return err
		}
		if err := invitee.screenshot(ctx, "invitation"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#password"), "a long member password"),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), "a long member password"),
			chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		); err != nil {
			return err
		}
		return invitee.waitPath(ctx, "/")
	})
	invitee.step("the member sees alpha only and no server settings", browserStepTimeout, func(ctx context.Context) error {
		if err := invitee.waitText(ctx, `[data-project="alpha"]`, "alpha"); err != nil {
			return err
		}
		if n, err := invitee.count(ctx, `[data-project="bravo"]`); err != nil || n != 0 {
			return errors.Join(err, errors.New("the member sees project bravo"))
		}
		for _, sel := range []string{`header a[href="/settings"]`, `header a[href="/users"]`, `form[action="/projects"]`} {
			if n, err := invitee.count(ctx, sel); err != nil || n != 0 {
				return errors.Join(err, fmt.Errorf("the member is offered %s", sel))
			}
		}
		return invitee.screenshot(ctx, "member-dashboard")
	})
	invitee.step("the used link no longer works", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
			return err
		}
		return invitee.waitText(ctx, ".panel", "used already, revoked, or it expired")
	})
	owner.step("the Users page lists the member with alpha", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/users")); err != nil {
			return err
		}
		if err := owner.waitText(ctx, `[data-user="dev@example.com"]`, "alpha"); err != nil {
			return err
		}
		if err := owner.screenshot(ctx, "users"); err != nil {
			return err
		}
		return owner.checkPhoneFit(ctx, "/users")
	})
	for _, b := range []*browserSession{owner, invitee} {
		if ex := b.exceptions(); len(ex) > 0 {
			t.Errorf("JavaScript errors: %v", ex)
		}
	}
}

// signIn signs in on the login page and waits for the dashboard.
func (b *browserSession) signIn(ctx context.Context, email, password string) error {
	if err := chromedp.Do(ctx,
		chromedp.Navigate(b.base+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	); err != nil {
		return err
	}
	return b.waitPath(ctx, "/")
}

// projectID finds a project's id by name through the API.
func (c *resCluster) projectID(t *testing.T, name string) string {
	t.Helper()
	code, body, err := c.api(http.MethodGet, "/api/v1/projects", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("list projects: %d %v", code, err)
	}
	var page struct {
		Items []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	for _, p := range page.Items {
		if p.Name == name {
			return fmt.Sprint(p.ID)
		}
	}
	t.Fatalf("no project %s in %s", name, body)
	return ""
}
