package traefik

import (
	"bytes"
	"regexp"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The API router file is kept as it is while the password stays the same
// (no bcrypt at every start, no rewrite that makes Traefik reload), and
// rendered anew, with a hash of the new password, when it changes.
func TestRenderAPIRouter_KeepsFileForSamePassword(t *testing.T) {
	const pw, other = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	first, err := RenderAPIRouter(pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	hashOf := func(data []byte) []byte {
		m := regexp.MustCompile(`dokploy:(\$2[aby]\$[^"\s]+)`).FindSubmatch(data)
		if m == nil {
			t.Fatalf("no bcrypt user in:\n%s", data)
		}
		return m[1]
	}
	if err := bcrypt.CompareHashAndPassword(hashOf(first), []byte(pw)); err != nil {
		t.Fatalf("rendered hash does not check the password: %v", err)
	}
	again, err := RenderAPIRouter(pw, first)
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("same password: file changed (%v)\n%s\nvs\n%s", err, again, first)
	}
	changed, err := RenderAPIRouter(other, first)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(changed, first) || bcrypt.CompareHashAndPassword(hashOf(changed), []byte(other)) != nil {
		t.Fatalf("new password not rendered:\n%s", changed)
	}
	if _, err := decodeStrict(changed); err != nil {
		t.Fatalf("rendered file is not valid: %v", err)
	}
}
