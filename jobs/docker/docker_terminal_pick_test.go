package docker

import (
	"errors"
	"strings"
	"testing"
)

// The terminal takes the replica asked for, or the first one on this
// node, and says where a replica on another node runs.
func TestPickReplica(t *testing.T) {
	reps := []Replica{{Slot: 1, Node: "box-a", Container: "c1"}, {Slot: 2, Node: "box-b", Container: "c2", Local: true},
		{Slot: 3, Node: "box-b", Container: "c3", Local: true}}
	if r, err := PickReplica("web", reps, 0); err != nil || r.Container != "c2" {
		t.Errorf("default: %+v %v, want the first local one (c2)", r, err)
	}
	if r, err := PickReplica("web", reps, 3); err != nil || r.Container != "c3" {
		t.Errorf("replica 3: %+v %v", r, err)
	}
	_, err := PickReplica("web", reps, 1)
	if !errors.Is(err, ErrReplicaElsewhere) || !strings.Contains(err.Error(), "replica 1 runs on node box-a; terminals reach only containers on this node for now") {
		t.Errorf("replica 1 on another node: %v", err)
	}
	if _, err := PickReplica("web", reps, 4); !errors.Is(err, ErrNoRunningTask) || !strings.Contains(err.Error(), "no running replica 4") {
		t.Errorf("replica 4: %v", err)
	}
	if _, err := PickReplica("web", reps[:1], 0); !errors.Is(err, ErrReplicaElsewhere) || !strings.Contains(err.Error(), "box-a") {
		t.Errorf("only a remote replica: %v", err)
	}
	if _, err := PickReplica("web", nil, 0); !errors.Is(err, ErrNoRunningTask) {
		t.Errorf("none running: %v", err)
	}
}
