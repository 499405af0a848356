package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"dokploy/db"
	"dokploy/e2e/testkit"
)

// TestVolumes_PanelSavesAndTheBackupsSectionOffersThem: the Volumes panel
// refuses a bad path with the rule and saves good rows; the app's Backups
// section then offers the volume in its plan form (no drill), and a plan
// added there shows on its card.
func TestVolumes_PanelSavesAndTheBackupsSectionOffersThem(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.setupAdmin()
	p := app.createProject("shop")
	a := &db.App{EnvironmentID: p.Environments[0].ID, Name: "web", AppName: "vol-web", SourceType: db.SourceImage,
		Image: "nginx:1", Port: 80, Replicas: 1}
	if err := app.store.CreateApp(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("/apps/%d", a.ID)

	res := b.postHTMX(base+"/volumes", url.Values{"volume_name": {"uploads"}, "volume_path": {"relative/x"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "must be absolute", "Nothing was saved")

	res = b.postHTMX(base+"/volumes", url.Values{"volume_name": {"uploads", ""}, "volume_path": {"/srv/uploads", ""}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Volumes saved", `value="uploads"`, "lives on one node")
	if vols, _ := app.store.AppVolumes(context.Background(), a.ID); len(vols) != 1 || vols[0].Path != "/srv/uploads" {
		t.Fatalf("stored volumes %+v", vols)
	}

	dest := app.createDestination("offsite")
	res = b.get(base + "/backups")
	wantStatus(t, res, http.StatusOK)
	doc := res.doc(t)
	if doc.Find(`#plan-volume option[value="uploads"]`).Length() != 1 || doc.Find("#plan-drill").Length() != 0 || doc.Find("#backup-drill").Length() != 0 {
		t.Fatalf("the app's plan form: volume options %d, drill fields %d", doc.Find("#plan-volume option").Length(), doc.Find("#plan-drill").Length())
	}
	res = b.postHTMX(base+"/backups", url.Values{
		"volume": {"uploads"}, "destination_id": {fmt.Sprint(dest.ID)}, "schedule_preset": {""}, "timezone": {"UTC"},
		"keep_last": {"3"}, "enabled": {"on"}, "stop_during_backup": {"on"},
	})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.doc(t).Find("#backup-plan-list").Text(), "uploads", "the app is stopped, then started again")
}
