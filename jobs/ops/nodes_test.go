package ops

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateNodeUpdate(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name  string
		u     NodeUpdate
		field string // "" when valid
		want  string
	}{
		{"a plain label", NodeUpdate{SetLabels: map[string]string{"region": "eu"}}, "", ""},
		{"a dotted key with digits", NodeUpdate{SetLabels: map[string]string{"com.example.disk-2": "ssd"}}, "", ""},
		{"availability only", NodeUpdate{Availability: "drain"}, "", ""},
		{"unknown availability", NodeUpdate{Availability: "off"}, "availability", "active, pause or drain"},
		{"empty key", NodeUpdate{SetLabels: map[string]string{"": "x"}}, "labels", "key is required"},
		{"uppercase", NodeUpdate{SetLabels: map[string]string{"Region": "x"}}, "labels", "lowercase"},
		{"starts with a digit", NodeUpdate{SetLabels: map[string]string{"1zone": "x"}}, "labels", "starting with a letter"},
		{"ends with a dot", NodeUpdate{SetLabels: map[string]string{"zone.": "x"}}, "labels", "ending with a letter or digit"},
		{"dot dash", NodeUpdate{SetLabels: map[string]string{"a.-b": "x"}}, "labels", "no two dots or dashes"},
		{"too long", NodeUpdate{SetLabels: map[string]string{long: "x"}}, "labels", "longer than 128"},
		{"tab in key", NodeUpdate{SetLabels: map[string]string{"a\tb": "x"}}, "labels", "control characters"},
		{"reserved", NodeUpdate{SetLabels: map[string]string{"io.docker.x": "x"}}, "labels", "reserved for Docker"},
		{"empty value", NodeUpdate{SetLabels: map[string]string{"zone": ""}}, "labels", "needs a value"},
		{"DEL in value", NodeUpdate{SetLabels: map[string]string{"zone": "a\x7f"}}, "labels", "control characters"},
		{"invalid UTF-8 value", NodeUpdate{SetLabels: map[string]string{"zone": "\xff"}}, "labels", "control characters"},
		{"remove an odd key set elsewhere", NodeUpdate{RemoveLabels: []string{"Legacy_Key"}}, "", ""},
		{"remove an empty key", NodeUpdate{RemoveLabels: []string{""}}, "remove_labels", "not a label key"},
		{"set and remove", NodeUpdate{SetLabels: map[string]string{"zone": "a"}, RemoveLabels: []string{"zone"}}, "remove_labels", "both set and removed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validateNodeUpdate(tc.u)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want FieldErrors", err)
			}
			if field, msg := fe.First(); field != tc.field || !strings.Contains(msg, tc.want) {
				t.Errorf("got %s: %q, want %s containing %q", field, msg, tc.field, tc.want)
			}
		})
	}
}

func TestJoinAddrProblem(t *testing.T) {
	for addr, bad := range map[string]bool{"127.0.0.1:2377": true, "[::1]:2377": true, "0.0.0.0:2377": true,
		"10.0.0.5:2377": false, "192.168.1.2": false} {
		if got := JoinAddrProblem(addr) != ""; got != bad {
			t.Errorf("JoinAddrProblem(%s) reports a problem: %v, want %v", addr, got, bad)
		}
	}
}
