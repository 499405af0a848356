package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

// testSecretKey is a destination secret no page may ever contain.
const testSecretKey = "s3cr3t-Never-Shown-9f8e7d"

// createDestination stores a destination through the store (no network).
func (a *testApp) createDestination(name string) *db.Destination {
	a.t.Helper()
	d := &db.Destination{Name: name, Endpoint: "http://127.0.0.1:9", Bucket: "backups", AccessKey: "AKIATEST", PathStyle: true}
	if err := a.store.CreateDestination(context.Background(), d, testSecretKey); err != nil {
		a.t.Fatal(err)
	}
	return d
}

func destinationForm(name, endpoint, secret string) url.Values {
	return url.Values{
		"name": {name}, "endpoint": {endpoint}, "region": {"us-east-1"}, "bucket": {"backups"}, "prefix": {"prod"},
		"access_key": {"AKIATEST"}, "secret_key": {secret}, "path_style": {"on"},
	}
}

func TestBackups_TabWithoutDestinationPointsToSettings(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	d := b.createDatabase(app.createProject("shop"), "pg")
	base := fmt.Sprintf("/databases/%d", d.ID)

	res := b.get(base + "/backups")
	wantStatus(t, res, http.StatusOK)
	doc := res.doc(t)
	if href, _ := doc.Find(".service-tabs a.active").Attr("href"); href != base+"/backups" {
		t.Errorf("active tab links to %q", href)
	}
	empty := doc.Find("#backup-empty")
	if !strings.Contains(empty.Text(), "Add a destination in Settings → Backup destinations") {
		t.Errorf("empty state %q", empty.Text())
	}
	if href, _ := empty.Find("a").Attr("href"); href != "/settings#settings-destinations" {
		t.Errorf("empty state links to %q", href)
	}
	testkit.MustContain(t, doc.Find("#backup-drill").Text(), "Never verified")
	if _, ok := doc.Find("#backup-drill-now").Attr("disabled"); !ok {
		t.Error("Run restore drill is enabled with no backup to drill")
	}
	// Nothing is pending on the tab: the runs do not poll.
	if _, ok := doc.Find("#backup-runs").Attr("hx-trigger"); ok {
		t.Error("the runs poll with nothing pending")
	}

	part := b.do(withHeader(b.newRequest(http.MethodGet, base+"/backups", nil), "HX-Request", "true"))
	wantStatus(t, part, http.StatusOK)
	testkit.MustNotContain(t, part.Body, "<html")
	testkit.MustContain(t, part.Body, `id="db-backups"`, `class="service-tabs"`)
}

func TestBackups_BadCronNamesItsFieldAndKeepsTheInput(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	d := b.createDatabase(app.createProject("shop"), "pg")
	dest := app.createDestination("offsite")
	form := url.Values{
		"destination_id": {fmt.Sprint(dest.ID)}, "schedule_preset": {"custom"}, "schedule_cron": {"0 3 * *"},
		"timezone": {"Europe/Berlin"}, "prefix": {"nightly"}, "keep_last": {"14"}, "keep_daily": {"7"},
		"keep_weekly": {"4"}, "keep_monthly": {"0"}, "drill_preset": {"weekly"}, "enabled": {"on"},
	}

	res := b.postHTMX(fmt.Sprintf("/databases/%d/backups", d.ID), form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustNotContain(t, res.Body, "<html")
	doc := res.doc(t)
	if doc.Find("#db-backups").Length() != 1 {
		t.Fatalf("the tab is not re-rendered:\n%s", testkit.Truncate(res.Body))
	}
	msg := doc.Find(`[name=schedule_cron]`).Closest(".field.invalid").Find(".error-text").Text()
	if !strings.Contains(msg, "cron needs 5") {
		t.Errorf("schedule message %q", msg)
	}
	testkit.MustContain(t, doc.Find("#backup-plan-form .flash.error").Text(), "Nothing was saved")
	for field, want := range map[string]string{"schedule_cron": "0 3 * *", "timezone": "Europe/Berlin", "prefix": "nightly", "keep_last": "14", "keep_daily": "7", "keep_weekly": "4"} {
		if v, _ := doc.Find(fmt.Sprintf(`#backup-plan-form [name=%q]`, field)).Attr("value"); v != want {
			t.Errorf("%s: input %q, want the submitted %q", field, v, want)
		}
	}
	for sel, want := range map[string]string{"[name=schedule_preset]": "custom", "[name=drill_preset]": "weekly", "[name=destination_id]": fmt.Sprint(dest.ID)} {
		if v, _ := doc.Find("#backup-plan-form " + sel + " option[selected]").Attr("value"); v != want {
			t.Errorf("%s: selected %q, want %q", sel, v, want)
		}
	}
	if _, ok := doc.Find(`#backup-plan-form [name=enabled]`).Attr("checked"); !ok {
		t.Error("enabled is no longer ticked")
	}
	if n := app.count("backups"); n != 0 {
		t.Errorf("%d plans stored after a refused form", n)
	}

	// Fixed, the same form adds the plan and the card reads it in words.
	form.Set("schedule_cron", "30 2 * * *")
	res = b.postHTMX(fmt.Sprintf("/databases/%d/backups", d.ID), form)
	wantStatus(t, res, http.StatusOK)
	card := res.doc(t).Find("#backup-plan-list .backup-plan")
	if card.Length() != 1 {
		t.Fatalf("%d plan cards", card.Length())
	}
	for _, want := range []string{"cron 30 2 * * * (Europe/Berlin)", "offsite", "Keeps the last 14, 7 daily, 4 weekly", "Every Sunday at 03:00 (Europe/Berlin)", "Back up now"} {
		testkit.MustContain(t, card.Text(), want)
	}

	// Edit shows the stored plan with its custom cron.
	plans, err := app.store.BackupsOf(context.Background(), d.ID)
	if err != nil || len(plans) != 1 {
		t.Fatalf("plans %v %v", plans, err)
	}
	edit := b.do(withHeader(b.newRequest(http.MethodGet, fmt.Sprintf("/backups/%d/edit", plans[0].ID), nil), "HX-Request", "true"))
	wantStatus(t, edit, http.StatusOK)
	if v, _ := edit.doc(t).Find(`[name=schedule_cron]`).Attr("value"); v != "30 2 * * *" {
		t.Errorf("edit form cron %q", v)
	}
}

func TestBackups_BackUpNowBeforeTheFirstDeploySaysWhatToDo(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	d := b.createDatabase(app.createProject("shop"), "pg")
	dest := app.createDestination("offsite")
	plan := &db.Backup{ServiceID: d.ID, DestinationID: dest.ID, Timezone: "UTC", Enabled: true, KeepLast: 7}
	if err := app.store.CreateBackup(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	res := b.postHTMX(fmt.Sprintf("/backups/%d/run", plan.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	testkit.MustContain(t, res.doc(t).Find("#backup-notice .flash.error").Text(), "has not run yet: deploy it first")
	testkit.MustContain(t, res.doc(t).Find("#backup-plan-list").Text(), "On demand only")
}

func TestDestinations_PanelNeverShowsTheSecretKey(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()

	page := b.get("/settings")
	wantStatus(t, page, http.StatusOK)
	testkit.MustContain(t, page.Body, `id="settings-destinations"`, `hx-get="/settings/destinations"`)

	// Refused: the typed values come back, the secret does not.
	res := b.postHTMX("/settings/destinations", destinationForm("offsite", "ftp://nope", testSecretKey))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustNotContain(t, res.Body, testSecretKey)
	doc := res.doc(t)
	if doc.Find(`[name=endpoint]`).Closest(".field.invalid").Length() != 1 {
		t.Errorf("the endpoint is not marked invalid:\n%s", testkit.Truncate(res.Body))
	}
	if v, _ := doc.Find(`[name=name]`).Attr("value"); v != "offsite" {
		t.Errorf("name input %q, want it kept", v)
	}
	if _, ok := doc.Find(`[name=secret_key]`).Attr("hx-preserve"); !ok {
		t.Error("the secret field is not preserved in the browser after a refused submit")
	}

	res = b.postHTMX("/settings/destinations", destinationForm("offsite", "http://127.0.0.1:9", testSecretKey))
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, testSecretKey)
	row := res.doc(t).Find(`tr[data-destination="offsite"]`)
	for _, want := range []string{"offsite", "http://127.0.0.1:9", "backups/prod", "unused"} {
		testkit.MustContain(t, row.Text(), want)
	}
	dests, err := app.store.Destinations(context.Background())
	if err != nil || len(dests) != 1 {
		t.Fatalf("destinations %v %v", dests, err)
	}
	id := dests[0].ID

	for _, path := range []string{"/settings/destinations", fmt.Sprintf("/settings/destinations/%d/edit", id)} {
		res := b.get(path)
		wantStatus(t, res, http.StatusOK)
		testkit.MustNotContain(t, res.Body, testSecretKey)
	}
	edit := b.get(fmt.Sprintf("/settings/destinations/%d/edit", id)).doc(t)
	if v, _ := edit.Find(`[name=secret_key]`).Attr("value"); v != "" {
		t.Errorf("the edit form holds a secret %q", v)
	}

	// Saved with the secret left empty: the stored one is kept.
	form := destinationForm("offsite-2", "http://127.0.0.1:9", "")
	res = b.postHTMX(fmt.Sprintf("/settings/destinations/%d", id), form)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, testSecretKey)
	d, err := app.store.Destination(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := app.store.DestinationSecret(d); err != nil || sec != testSecretKey || d.Name != "offsite-2" {
		t.Errorf("after an edit with no secret: name %q secret kept %v (%v)", d.Name, sec == testSecretKey, err)
	}

	// A destination a plan uses is not deleted, and the panel says why.
	db1 := b.createDatabase(app.createProject("shop"), "pg")
	if err := app.store.CreateBackup(context.Background(), &db.Backup{ServiceID: db1.ID, DestinationID: id, Timezone: "UTC", KeepLast: 7}); err != nil {
		t.Fatal(err)
	}
	res = b.postHTMX(fmt.Sprintf("/settings/destinations/%d/delete", id), nil)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.doc(t).Find("#settings-destinations .flash.error, .flash.error").First().Text(), "backup plans still use this destination")
	testkit.MustContain(t, res.doc(t).Find(`tr[data-destination="offsite-2"]`).Text(), "1 plan")
}

func TestDestinations_TestButtonShowsTheOutcome(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	m := testkit.StartMinIO(t)
	bucket := m.Bucket(t)

	form := destinationForm("", m.Endpoint, m.SecretKey)
	form.Set("access_key", m.AccessKey)
	form.Set("bucket", bucket)
	res := b.postHTMX("/settings/destinations/test", form)
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.doc(t).Find(".flash.ok").Text(), "Connected: wrote, read back and deleted a test object")
	testkit.MustNotContain(t, res.Body, m.SecretKey)
	if n := app.count("destinations"); n != 0 {
		t.Errorf("testing saved %d destinations", n)
	}

	// A wrong secret fails at a named step, in red, without the secret.
	form.Set("secret_key", "wrong-"+testSecretKey)
	res = b.postHTMX("/settings/destinations/test", form)
	wantStatus(t, res, http.StatusOK)
	failed := res.doc(t).Find(".flash.error").Text()
	testkit.MustContain(t, failed, "Failed at the ")
	testkit.MustNotContain(t, res.Body, testSecretKey)

	// Missing input is said before anything is tried.
	form.Set("secret_key", "")
	res = b.postHTMX("/settings/destinations/test", form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.doc(t).Find(".flash.error").Text(), "Cannot test yet:")
	t.Logf("wrong secret: %s", strings.TrimSpace(failed))
}

func TestBackups_QueuedRunPollsUntilCancelledAndMissedPlanWarns(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	ctx := context.Background()
	d := b.createDatabase(app.createProject("shop"), "pg")
	dest := app.createDestination("offsite")
	plan := &db.Backup{ServiceID: d.ID, DestinationID: dest.ID, Cron: "0 3 * * *", Timezone: "UTC", Enabled: true, KeepLast: 7}
	if err := app.store.CreateBackup(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if err := app.store.SetBackupMissed(ctx, plan.ID, &plan.CreatedAt); err != nil {
		t.Fatal(err)
	}
	run, err := app.store.QueueBackup(ctx, plan, db.BackupManual, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("/databases/%d/backups", d.ID)

	doc := b.get(base).doc(t)
	testkit.MustContain(t, doc.Find("#backup-plan-list .missed").Text(), "Missed: no successful backup since the plan was created")
	testkit.MustContain(t, doc.Find("#backup-plan-list").Text(), "Every day at 03:00 (UTC)")
	row := doc.Find(fmt.Sprintf(`#backup-runs tr[data-run="%d"]`, run.ID))
	if s, _ := row.Attr("data-status"); s != "queued" {
		t.Fatalf("run status %q, want queued", s)
	}
	if href, _ := row.Find(`a[href^="/deployments/"]`).Attr("href"); href != fmt.Sprintf("/deployments/%d", run.DeploymentID) {
		t.Errorf("log link %q", href)
	}
	if row.Find(`button[hx-post$="/cancel"]`).Length() != 1 || row.Find(`button[hx-get$="/restore"]`).Length() != 0 {
		t.Error("a queued run offers Restore… or lacks Cancel")
	}
	runs := doc.Find("#backup-runs")
	if trig, _ := runs.Attr("hx-trigger"); trig != "every 2s" {
		t.Errorf("the runs do not poll while a run is queued (hx-trigger %q)", trig)
	}
	if oob, _ := runs.Attr("hx-select-oob"); !strings.Contains(oob, "#backup-drill") || !strings.Contains(oob, "#backup-plan-list") {
		t.Errorf("the poll does not refresh the banner and plans (hx-select-oob %q)", oob)
	}

	res := b.postHTMX(fmt.Sprintf("/backup-runs/%d/cancel", run.ID), nil)
	wantStatus(t, res, http.StatusOK)
	doc = res.doc(t)
	testkit.MustContain(t, doc.Find("#backup-notice").Text(), fmt.Sprintf("Backup #%d is cancelled", run.ID))
	if s, _ := doc.Find(fmt.Sprintf(`tr[data-run="%d"]`, run.ID)).Attr("data-status"); s != "cancelled" {
		t.Errorf("after cancel the run is %q", s)
	}
	if _, ok := doc.Find("#backup-runs").Attr("hx-trigger"); ok {
		t.Error("the runs still poll with nothing pending")
	}
	// Twice: the run already finished, and the tab says so.
	res = b.postHTMX(fmt.Sprintf("/backup-runs/%d/cancel", run.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	testkit.MustContain(t, res.doc(t).Find("#backup-notice .flash.error").Text(), "already finished")
}
