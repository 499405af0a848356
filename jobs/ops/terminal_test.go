package ops

import (
	"errors"
	"testing"

	"dokploy/db"
)

func TestParseTerminalTarget(t *testing.T) {
	q := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	got, err := ParseTerminalTarget("compose", "7", q(map[string]string{"service": "web", "replica": "2", "tail": "x"}))
	if err != nil || got != (TerminalTarget{Kind: "compose", ID: 7, Service: "web", Replica: 2}) {
		t.Errorf("compose target %+v, %v", got, err)
	}
	for _, c := range []struct{ kind, id string }{{"volume", "1"}, {"app", "0"}, {"app", "x"}} {
		if _, err := ParseTerminalTarget(c.kind, c.id, q(nil)); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s/%s: %v, want not found", c.kind, c.id, err)
		}
	}
	var fe FieldErrors
	if _, err := ParseTerminalTarget("app", "1", q(map[string]string{"replica": "zero"})); !errors.As(err, &fe) || fe["replica"] == "" {
		t.Errorf("bad replica: %v", err)
	}
	if _, err := ParseTerminalTarget("compose", "1", q(map[string]string{"service": "a b"})); !errors.As(err, &fe) || fe["service"] == "" {
		t.Errorf("bad service: %v", err)
	}
}
