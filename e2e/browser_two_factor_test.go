package e2e

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dokploy/db/dbtest"
	"dokploy/jobs/ops/totp"
)

// TestBrowserTwoFactor sets two-factor sign-in up in Chromium as a user
// would: scan (here: read) the key on the Account page, type the app's
// code, see the ten recovery codes once; then sign out and in again with
// the password and the next code. The page fits a phone.
func TestBrowserTwoFactor(t *testing.T) {
	dbtest.Integration(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.serve(t, "serve")
	c.login(t)

	b := browserOpen(t, c.URL)
	signIn := func(ctx context.Context, then string) error {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(c.URL+"/login"),
			chromedp.SendKeys(chromedp.CSS("#email"), resAdminEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), resAdminPassword),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		); err != nil {
			return err
		}
		return b.waitPath(ctx, then)
	}
	b.step("sign in", browserStepTimeout, func(ctx context.Context) error { return signIn(ctx, "/") })

	var secret string
	var step int64
	b.step("start the set-up on the Account page", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/account")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#account-two-factor h2", "off"); err != nil {
			return err
		}
		if err := b.clickReady(ctx, `#account-two-factor form[action="/account/two-factor"] button`); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the QR code", `document.querySelector('#account-two-factor img[src^="data:image/png"]')?.naturalWidth > 0`); err != nil {
			return err
		}
		var err error
		if secret, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#totp-secret"))); err != nil {
			return err
		}
		if secret = strings.TrimSpace(secret); len(secret) != 32 {
			return errors.New("the key shown is not a 160-bit base32 secret: " + secret)
		}
		return b.screenshot(ctx, "two-factor-setup")
	})
	b.step("turn it on with the app's code", browserStepTimeout, func(ctx context.Context) error {
		step = totp.Step(time.Now())
		code, _ := totp.Code(secret, step, totp.Digits)
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#totp_code"), code),
			chromedp.Click(chromedp.CSS(`#account-two-factor form[action="/account/two-factor/confirm"] button`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#account-two-factor .flash.ok", "Two-factor sign-in is on"); err != nil {
			return err
		}
		if n, err := b.count(ctx, "#account-two-factor [data-recovery-codes]"); err != nil || n != 1 {
			return errors.Join(err, errors.New("no recovery codes shown"))
		}
		shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#recovery-codes")))
		if err != nil {
			return err
		}
		if n := len(strings.Fields(shown)); n != 10 {
			return errors.New("want 10 recovery codes, see: " + shown)
		}
		if err := b.waitText(ctx, "#account-two-factor h2", "on"); err != nil {
			return err
		}
		return b.screenshot(ctx, "two-factor-on")
	})
	b.step("the recovery codes are not shown again", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/account")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#account-two-factor", "10 of 10 recovery codes left"); err != nil {
			return err
		}
		if n, err := b.count(ctx, "#recovery-codes"); err != nil || n != 0 {
			return errors.Join(err, errors.New("the recovery codes are shown again on a reload"))
		}
		return nil
	})
	b.step("sign out, then in with the password and a code", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`))); err != nil {
			return err
		}
		if err := b.waitPath(ctx, "/login"); err != nil {
			return err
		}
		if err := signIn(ctx, "/login/two-factor"); err != nil {
			return err
		}
		if err := b.screenshot(ctx, "two-factor-login"); err != nil {
			return err
		}
		code, _ := totp.Code(secret, step+1, totp.Digits) // the code just used would be refused
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#code"), code),
			chromedp.Click(chromedp.CSS(`form[action="/login/two-factor"] button`)),
		); err != nil {
			return err
		}
		return b.waitPath(ctx, "/")
	})
	b.step("Settings can require it of every user", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(c.URL+"/settings#settings-security")); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#settings-security input[name=require_two_factor]`)),
			chromedp.Click(chromedp.CSS(`#settings-security button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-security .flash.ok", "every user must use two-factor sign-in"); err != nil {
			return err
		}
		return b.screenshot(ctx, "settings-security")
	})
	b.step("the account and settings pages fit a phone", browserStepTimeout, func(ctx context.Context) error {
		return b.checkPhoneFit(ctx, "/account", "/settings")
	})
	if ex := b.exceptions(); len(ex) > 0 {
		t.Errorf("JavaScript errors: %v", ex)
	}
}
