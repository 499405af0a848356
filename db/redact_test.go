package db_test

import (
	"testing"

	"dokploy/db"
)

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"https://oauth2:secret@host/o/r.git":                           "https://oauth2:xxxxx@host/o/r.git",
		"https://secret@host/o/r.git":                                  "https://xxxxx@host/o/r.git",
		"ssh://git@host/o/r.git":                                       "ssh://git@host/o/r.git",
		"git@host:o/r.git":                                             "git@host:o/r.git",
		"postgres://dokploy:pw@127.0.0.1:5432/dokploy?sslmode=disable": "postgres://dokploy:xxxxx@127.0.0.1:5432/dokploy?sslmode=disable",
		"redis://:pw@127.0.0.1:6379/0":                                 "redis://:xxxxx@127.0.0.1:6379/0",
		"redis://127.0.0.1:6379/0":                                     "redis://127.0.0.1:6379/0",
		"http://[::1:bad":                                              "(unparseable URL)",
	}
	for in, want := range tests {
		if got := db.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
