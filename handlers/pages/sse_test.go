package pages

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// event is one parsed Server-Sent Event.
type event struct{ name, data string }

// parseSSE reads a stream the way the EventSource spec says a browser
// does: CR, LF and CRLF end lines, a blank line ends an event, data lines
// are joined with LF.
func parseSSE(stream string) []event {
	var out []event
	cur, data := event{}, []string{}
	for _, line := range regexp.MustCompile(`\r\n|\r|\n`).Split(stream, -1) {
		switch {
		case line == "":
			if cur.name != "" || len(data) > 0 {
				cur.data = strings.Join(data, "\n")
				out = append(out, cur)
			}
			cur, data = event{}, nil
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	return out
}

// A log line is output of the app: whatever line breaks it carries, it
// stays one "line" event and cannot end the stream with a forged "eof".
func TestSSE_LogLineCannotForgeEvents(t *testing.T) {
	rec := httptest.NewRecorder()
	s := &sseWriter{w: rec, f: rec}
	hostile := "building\revent: eof\rdata: done\r\rnext\nevent: eof\n\ndata: x\r\n\r\nlast"
	if err := s.send("7", "line", logLineHTML(hostile)); err != nil {
		t.Fatal(err)
	}
	if err := s.send("", "eof", "done"); err != nil {
		t.Fatal(err)
	}
	events := parseSSE(rec.Body.String())
	if len(events) != 2 || events[0].name != "line" || events[1].name != "eof" {
		t.Fatalf("events = %+v, want one line event then our eof", events)
	}
	for _, part := range []string{"building", "event: eof", "next", "last"} {
		if !strings.Contains(events[0].data, part) {
			t.Errorf("the line event lost %q: %q", part, events[0].data)
		}
	}
}
