package e2e

import (
	"context"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// Bounded waits of the backup flow.
const (
	backupRunTimeout   = 2 * time.Minute // Back up now pressed → done
	backupDrillTimeout = 3 * time.Minute // Run restore drill pressed → verified
)

// TestBrowserBackup backs a PostgreSQL database up to a real S3 server
// (MinIO) the way a user does: add a destination in Settings and test it
// before saving, create the database, add a daily plan on its Backups tab,
// press Back up now and watch the run go queued → running → done with its
// size and sha256 without a reload, find the object in the bucket, then
// prove it restores with a restore drill. The tab is captured at desktop
// and phone width.
func TestBrowserBackup(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	if _, err := os.Stat(browserExecPath); err != nil {
		t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", err)
	}
	image := testkit.DBImage(t, "postgres")
	m := testkit.StartMinIO(t)
	bucket := m.Bucket(t)
	name := "e2ebk-pg-" + srvRandomHex(3)
	t.Cleanup(func() { dbCleanup(name) })
	srv := srvStart(t, "DOKPLOY_WORKER=true")
	b := browserOpen(t, srv.URL)
	b.setupAdmin(srv)

	const destForm = `#settings-destinations form.destination-form`
	b.step("add a destination in Settings after testing it", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/settings")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#settings-destinations", "No destinations yet"); err != nil {
			return err
		}
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#dest-name"), "minio"),
			chromedp.SendKeys(chromedp.CSS("#dest-endpoint"), m.Endpoint),
			chromedp.SendKeys(chromedp.CSS("#dest-bucket"), bucket),
			chromedp.SendKeys(chromedp.CSS("#dest-prefix"), "e2e"),
			chromedp.SendKeys(chromedp.CSS("#dest-access-key"), m.AccessKey),
			chromedp.SendKeys(chromedp.CSS("#dest-secret-key"), m.SecretKey),
			chromedp.Click(chromedp.CSS("#dest-test")),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#dest-test-result .flash.ok", "Connected: wrote, read back and deleted a test object"); err != nil {
			return err
		}
		if n, err := b.count(ctx, `#settings-destinations tr[data-destination]`); err != nil || n != 0 {
			return fmt.Errorf("Test saved the destination (%d rows, %v)", n, err)
		}
		if err := b.screenshot(ctx, "backup-destination-tested"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(destForm+` button[type=submit]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, `#settings-destinations tr[data-destination="minio"]`, bucket+"/e2e"); err != nil {
			return err
		}
		html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			return err
		}
		if strings.Contains(html, m.SecretKey) {
			return fmt.Errorf("the settings page holds the secret key")
		}
		if err := b.checkSameDocument(ctx, "/settings"); err != nil {
			return err
		}
		return b.screenshot(ctx, "backup-destination-added")
	})

	var dbPath string
	b.step("create a PostgreSQL database", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
			return err
		}
		form := `#projects form[hx-post="/projects"]`
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(form+` input[name=name]`), "data"),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#projects .project-card[data-project="data"] h3 a`)),
			chromedp.Click(chromedp.CSS(`#projects .project-card[data-project="data"] h3 a`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#new-database h2", "New database"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#db-engine"), "postgres"),
			chromedp.SendKeys(chromedp.CSS("#db-name"), name),
			chromedp.SendKeys(chromedp.CSS(`#new-database form #db-image`), image),
			chromedp.Click(chromedp.CSS(`#new-database form button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitPathMatch(ctx, regexp.MustCompile(`^/databases/\d+$`)); err != nil {
			return err
		}
		var err error
		dbPath, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
		return err
	})

	b.step("the database turns healthy", dbuiHealthyTimeout, func(ctx context.Context) error {
		seen, err := b.watchBadge(ctx, "healthy")
		t.Logf("header badge: %s", strings.Join(seen, " → "))
		return err
	})

	b.step("add a daily plan on the Backups tab", browserStepTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.service-tabs a[data-tab="backups"]`))); err != nil {
			return err
		}
		if err := b.waitJS(ctx, "the address bar to follow", `location.pathname === `+browserJS(dbPath+"/backups")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-drill", "Never verified"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-runs", "No backups yet"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#plan-schedule"), "daily"),
			chromedp.Click(chromedp.CSS(`#backup-plan-form button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-plan-list .backup-plan", "Every day at 03:00 (UTC)"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-plan-list .backup-plan", "minio"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-notice .flash.ok", "Plan added"); err != nil {
			return err
		}
		return b.checkSameDocument(ctx, dbPath+"/backups")
	})

	var objectKey string
	b.step("Back up now: queued → running → done without a reload", backupRunTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#backup-plan-list .backup-plan button[hx-post$="/run"]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-notice .flash.ok", "queued to minio"); err != nil {
			return err
		}
		seen, err := b.watchRun(ctx, "done")
		t.Logf("run status: %s", strings.Join(seen, " → "))
		if err != nil {
			return err
		}
		if seen[0] == "done" {
			return fmt.Errorf("the run was never shown pending: %v", seen)
		}
		if err := b.checkSameDocument(ctx, dbPath+"/backups"); err != nil {
			return err
		}
		row := `#backup-runs tr[data-run]`
		size, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+` td.run-size`)))
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`^\d+(\.\d)? (B|KiB|MiB)$`).MatchString(strings.TrimSpace(size)) {
			return fmt.Errorf("size %q", size)
		}
		sha, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("`+row+` code.run-sha").title`))
		if err != nil {
			return err
		}
		short, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+` code.run-sha`)))
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sha) || strings.TrimSpace(short) != sha[:12] {
			return fmt.Errorf("sha256 %q shown as %q", sha, short)
		}
		if objectKey, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+` td.run-key`))); err != nil {
			return err
		}
		objectKey = strings.TrimSpace(objectKey)
		// Nothing is pending any more: the polling stopped.
		if err := b.waitJS(ctx, "the runs to stop polling", `!document.querySelector("#backup-runs").hasAttribute("hx-trigger")`); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-plan-list .backup-plan", "just now"); err != nil {
			return err
		}
		return b.screenshot(ctx, "backup-tab")
	})

	b.step("the object is in the bucket", browserStepTimeout, func(ctx context.Context) error {
		full := path.Join("e2e", objectKey)
		info, err := m.Client(t).StatObject(ctx, bucket, full, minio.StatObjectOptions{})
		if err != nil {
			return fmt.Errorf("stat s3://%s/%s: %w", bucket, full, err)
		}
		if info.Size == 0 {
			return fmt.Errorf("s3://%s/%s is empty", bucket, full)
		}
		t.Logf("s3://%s/%s: %d bytes", bucket, full, info.Size)
		return nil
	})

	b.step("a restore drill verifies the backup", backupDrillTimeout, func(ctx context.Context) error {
		if err := b.markDocument(ctx); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#backup-drill-now`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-notice .flash.ok", "restore drill is queued"); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-drill .flash.ok", "restores ("); err != nil {
			return err
		}
		if err := b.checkSameDocument(ctx, dbPath+"/backups"); err != nil {
			return err
		}
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#backup-drill .flash.ok")))
		t.Logf("drill banner: %s", strings.TrimSpace(text))
		return b.screenshot(ctx, "backup-tab-verified")
	})

	b.step("the restore dialog asks which target", browserStepTimeout, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#backup-runs tr[data-run] button[hx-get$="/restore"]`))); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-restore", "Type "+name+" to confirm"); err != nil {
			return err
		}
		// A wrong name is refused in the dialog; nothing is queued.
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#restore-confirm"), "not-"+name),
			chromedp.Click(chromedp.CSS(`#backup-restore button[type=submit]`)),
		); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-restore .field.invalid .error-text", "type its name"); err != nil {
			return err
		}
		if err := b.screenshot(ctx, "backup-restore-dialog"); err != nil {
			return err
		}
		return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("backup-restore").close()`))
	})

	b.step("the Backups tab fits a phone", 2*browserStepTimeout, func(ctx context.Context) error {
		if err := b.checkPhoneFit(ctx, dbPath+"/backups", "/settings"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile)); err != nil {
			return err
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+dbPath+"/backups")); err != nil {
			return err
		}
		if err := b.waitText(ctx, "#backup-runs", "done"); err != nil {
			return err
		}
		return b.screenshot(ctx, "backup-tab-phone")
	})

	if msgs := b.exceptions(); len(msgs) > 0 {
		t.Errorf("JavaScript errors or CSP violations in the pages:\n%s", strings.Join(msgs, "\n"))
	}
}

// watchRun follows the newest run's status until it reads want, and
// returns the distinct statuses it showed on the way. An error status
// ends the wait with the run's message.
func (b *browserSession) watchRun(ctx context.Context, want string) ([]string, error) {
	const row = `#backup-runs tr[data-run]`
	var seen []string
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("`+row+`") || {dataset: {}}).dataset.status || ""`))
		if err == nil && got != "" && (len(seen) == 0 || seen[len(seen)-1] != got) {
			seen = append(seen, got)
		}
		if err == nil && got == want {
			return seen, nil
		}
		if err == nil && (got == "error" || got == "cancelled") {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#backup-runs tr.op-error") || {}).textContent || ""`))
			return seen, fmt.Errorf("the run ended %s: %s", got, strings.TrimSpace(msg))
		}
		select {
		case <-ctx.Done():
			return seen, fmt.Errorf("the run never read %q (seen %v): %w", want, seen, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
