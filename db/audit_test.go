package db_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// Env changes name the keys and never a value.
func TestVariableChanges_KeysOnly(t *testing.T) {
	before := []db.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "secret-b"}, {Key: "C", Value: "3"}}
	after := []db.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "secret-b2"}, {Key: "D", Value: "new"}}
	got := db.VariableChanges("env.", before, after)
	want := db.AuditChanges{"env.B": "changed", "env.C": "removed", "env.D": "added"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Plain fields give old and new values; sealed secrets only "changed";
// skipped and untagged fields nothing.
func TestFieldChanges(t *testing.T) {
	before := db.App{ID: 1, Name: "web", Replicas: 1, Port: 80, GitTokenEnc: []byte{1}, Status: "running"}
	after := before
	after.Replicas, after.GitTokenEnc, after.Status = 3, []byte{2}, "deploying"
	got := db.FieldChanges(&before, &after, "status")
	want := db.AuditChanges{"replicas": db.AuditChange{Old: 1, New: 3}, "git_token": "changed"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	if got := db.FieldChanges(&before, &before); len(got) != 0 {
		t.Errorf("equal values: %v", got)
	}
}

// Events are listed newest first, filtered, paged by id, limited to a
// member's projects plus their own events outside projects, and pruned
// after the retention's days.
func TestAuditEvents_FilterPageAndPrune(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	pa, err := store.CreateProject(ctx, "alpha", "")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := store.CreateProject(ctx, "bravo", "")
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(v int64) *int64 { return &v }
	record := func(e db.AuditEvent) int64 {
		t.Helper()
		if err := store.RecordAuditEvent(ctx, &e); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	deployA := record(db.AuditEvent{ActorType: db.ActorUser, ActorUserID: ptr(2), ActorEmail: "m@example.com", Action: "app.deploy",
		Resource: "service", ResourceID: ptr(7), ProjectID: &pa.ID, Status: 202,
		Changes: db.AuditChanges{"replicas": db.AuditChange{Old: 1, New: 2}}})
	updateB := record(db.AuditEvent{ActorType: db.ActorToken, ActorUserID: ptr(1), ActorEmail: "o@example.com", Action: "app.update",
		Resource: "service", ResourceID: ptr(8), ProjectID: &pb.ID, Status: 200})
	signIn := record(db.AuditEvent{ActorType: db.ActorUser, ActorUserID: ptr(2), ActorEmail: "m@example.com", Action: "sign_in", Status: 303})
	failed := record(db.AuditEvent{ActorType: db.ActorUser, ActorEmail: "x@example.com", Action: "sign_in.failed", Status: 401})

	ids := func(f db.AuditFilter) []int64 {
		t.Helper()
		evs, err := store.AuditEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	for name, tc := range map[string]struct {
		f    db.AuditFilter
		want []int64
	}{
		"all, newest first": {db.AuditFilter{}, []int64{failed, signIn, updateB, deployA}},
		"project":           {db.AuditFilter{ProjectID: pb.ID}, []int64{updateB}},
		"user":              {db.AuditFilter{ActorUserID: 2}, []int64{signIn, deployA}},
		"action prefix":     {db.AuditFilter{Action: "sign_in"}, []int64{failed, signIn}},
		"action exact":      {db.AuditFilter{Action: "sign_in.failed"}, []int64{failed}},
		"resource":          {db.AuditFilter{Resource: "service"}, []int64{updateB, deployA}},
		"page":              {db.AuditFilter{Limit: 2}, []int64{failed, signIn}},
		"next page":         {db.AuditFilter{Limit: 2, BeforeID: signIn}, []int64{updateB, deployA}},
		"newer than":        {db.AuditFilter{AfterID: updateB}, []int64{failed, signIn}},
		"member":            {db.AuditFilter{Visible: []int64{pa.ID}, ViewerID: 2}, []int64{signIn, deployA}},
		"until":             {db.AuditFilter{Until: time.Now().Add(-time.Hour)}, []int64{}},
		"since":             {db.AuditFilter{Since: time.Now().Add(-time.Hour), Action: "app.deploy"}, []int64{deployA}},
	} {
		if got := ids(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
	evs, err := store.AuditEvents(ctx, db.AuditFilter{ProjectID: pa.ID})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	if raw, _ := json.Marshal(evs[0].Changes); string(raw) != `{"replicas":{"new":2,"old":1}}` || evs[0].ProjectName == nil || *evs[0].ProjectName != "alpha" {
		t.Errorf("stored changes %s, project %v", raw, evs[0].ProjectName)
	}

	dbtest.MustExec(t, store, `UPDATE audit_events SET at = now() - interval '40 days' WHERE id IN ($1, $2)`, deployA, updateB)
	rep, err := store.PruneHistory(ctx, db.HistoryRetention{KeepDeploymentLogs: 50, DeliveryDays: 30, AuditDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if rep.AuditEvents != 2 {
		t.Errorf("pruned %d audit events, want 2", rep.AuditEvents)
	}
	if got := ids(db.AuditFilter{}); !reflect.DeepEqual(got, []int64{failed, signIn}) {
		t.Errorf("after prune: %v", got)
	}
}
