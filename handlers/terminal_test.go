package handlers

import (
	"net/http"
	"testing"
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
