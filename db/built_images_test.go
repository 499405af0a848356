package db_test

import (
	"context"
	"reflect"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// TestBuiltImages: which apps built an image, by ID; an image two apps
// built; a deleted app's images stay its (marked deleted); the filter of
// dangling IDs down to built ones, for all apps and for one.
func TestBuiltImages(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	web, api := newApp(t, s, "web"), newApp(t, s, "api")
	dw, err := s.CreateDeployment(ctx, web.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	da, err := s.CreateDeployment(ctx, api.ID, "user", "x")
	if err != nil {
		t.Fatal(err)
	}
	const shared, webOnly, apiOnly, registry = "sha256:aaa", "sha256:bbb", "sha256:ccc", "sha256:ddd"
	for _, r := range []struct {
		d   *db.Deployment
		app *db.App
		id  string
	}{{dw, web, webOnly}, {dw, web, shared}, {da, api, shared}, {da, api, apiOnly}, {da, api, apiOnly}} {
		if err := s.RecordBuiltImage(ctx, r.d.ID, r.app.ID, r.app.AppName, r.id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordBuiltImage(ctx, dw.ID, web.ID, web.AppName, "not-an-id"); err == nil {
		t.Error("an ID without sha256: was recorded")
	}
	check := func(id string, want ...db.ImageBuilder) {
		t.Helper()
		got, err := s.ImageBuilders(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = []db.ImageBuilder{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("builders of %s: %+v, want %+v", id, got, want)
		}
	}
	check(webOnly, db.ImageBuilder{ServiceID: web.ID, AppName: "web"})
	check(shared, db.ImageBuilder{ServiceID: web.ID, AppName: "web"}, db.ImageBuilder{ServiceID: api.ID, AppName: "api"})
	check(apiOnly, db.ImageBuilder{ServiceID: api.ID, AppName: "api"})
	check(registry)

	among := func(serviceID int64, want ...string) {
		t.Helper()
		got, err := s.BuiltImagesAmong(ctx, []string{registry, apiOnly, webOnly, shared}, serviceID)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("built among (service %d): %v, want %v", serviceID, got, want)
		}
	}
	among(0, shared, webOnly, apiOnly)
	among(web.ID, shared, webOnly)

	// The app goes (its deployments with it); its images stay its.
	if err := s.DeleteApp(ctx, web.ID); err != nil {
		t.Fatal(err)
	}
	check(webOnly, db.ImageBuilder{ServiceID: web.ID, AppName: "web", Deleted: true})
	among(web.ID, shared, webOnly)
}
