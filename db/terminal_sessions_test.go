package db_test

import (
	"context"
	"testing"

	"dokploy/db"
	"dokploy/db/dbtest"
)

// A terminal session is recorded when it opens, closed with its byte
// counts once, and listed per service, newest first.
func TestTerminalSessions_RecordEndList(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	u, err := store.CreateUser(ctx, "ops@example.com", "x", db.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	uid := u.ID
	first := &db.TerminalSession{UserID: &uid, UserEmail: u.Email, ServiceKind: db.KindApp, ServiceID: 7, ServiceName: "web",
		ContainerID: "c1", Replica: 1, Node: "box", Shell: "sh", RemoteAddr: "10.0.0.1"}
	if err := store.CreateTerminalSession(ctx, first); err != nil {
		t.Fatal(err)
	}
	if first.ID == 0 || first.StartedAt.IsZero() || first.EndedAt != nil {
		t.Fatalf("created %+v", first)
	}
	second := &db.TerminalSession{UserID: &uid, UserEmail: u.Email, ServiceKind: db.KindDatabase, ServiceID: 7, ServiceName: "pg",
		ContainerID: "c2", Replica: 2}
	if err := store.CreateTerminalSession(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := store.EndTerminalSession(ctx, first.ID, 12, 345, "closed by the browser"); err != nil {
		t.Fatal(err)
	}
	if err := store.EndTerminalSession(ctx, first.ID, 99, 99, "again"); err != nil { // the first end stands
		t.Fatal(err)
	}
	got, err := store.TerminalSessions(ctx, db.TerminalSessionFilter{Kind: db.KindApp, ID: 7})
	if err != nil || len(got) != 1 {
		t.Fatalf("app 7 sessions %+v, %v", got, err)
	}
	s := got[0]
	if s.EndedAt == nil || s.BytesIn != 12 || s.BytesOut != 345 || s.EndReason != "closed by the browser" ||
		s.ContainerID != "c1" || *s.UserID != uid || s.UserEmail != "ops@example.com" {
		t.Errorf("ended session %+v", s)
	}
	all, err := store.TerminalSessions(ctx, db.TerminalSessionFilter{})
	if err != nil || len(all) != 2 || all[0].ID != second.ID {
		t.Errorf("all sessions, newest first: %+v, %v", all, err)
	}
}
