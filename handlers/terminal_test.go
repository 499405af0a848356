package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"dokploy/jobs/docker"
)

// A session's WebSocket is accepted only from the dashboard's own origin:
// browsers send cookies with cross-site handshakes.
func TestSameOrigin(t *testing.T) {
	for origin, want := range map[string]bool{
		"https://dash.example.com":      true,
		"https://DASH.example.com":      true,
		"http://dash.example.com":       true, // the host is what a cross-site page cannot fake
		"https://evil.example.com":      false,
		"https://dash.example.com:8443": false,
		"null":                          false,
		"":                              false,
	} {
		r, _ := http.NewRequest(http.MethodGet, "https://dash.example.com/services/app/1/terminal/ws", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := sameOrigin(r); got != want {
			t.Errorf("Origin %q: sameOrigin = %v, want %v", origin, got, want)
		}
	}
}

func TestSizeParam(t *testing.T) {
	for v, want := range map[string]uint{"": 80, "120": 120, "0": 80, "1001": 80, "-3": 80, "x": 80, "1000": 1000} {
		if got := sizeParam(v, 80); got != want {
			t.Errorf("sizeParam(%q) = %d, want %d", v, got, want)
		}
	}
}

// The terminal says in plain words why it did not open.
func TestTerminalError(t *testing.T) {
	reps := []docker.Replica{{Slot: 1, Node: "box-a"}, {Slot: 2, Node: "box-b", Local: true}}
	_, elsewhere := docker.PickReplica("web", reps, 1)
	_, missing := docker.PickReplica("web", reps, 3)
	for err, want := range map[error]string{
		docker.ErrNoShell: "This image has no shell (bash or sh), so a terminal cannot open in it.",
		elsewhere:         "Replica 1 runs on node box-a; terminals reach only containers on this node for now.",
		missing:           "No terminal: web has no running replica 3.",
		fmt.Errorf("wrapped: %w", docker.ErrNoShell): "This image has no shell (bash or sh)",
	} {
		if got := terminalError(err); !strings.HasPrefix(got, want) {
			t.Errorf("%v: %q, want it to start with %q", err, got, want)
		}
	}
}
