package totp

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

// The SHA-1 test vectors of RFC 6238 Appendix B (8 digits, the ASCII
// secret "12345678901234567890").
func TestCode_RFC6238Vectors(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		got, err := Code(secret, Step(time.Unix(v.unix, 0)), 8)
		if err != nil {
			t.Fatal(err)
		}
		if got != v.want {
			t.Errorf("T=%d: code %s, want %s", v.unix, got, v.want)
		}
	}
}

func TestMatch_AcceptsNeighbourStepsOnly(t *testing.T) {
	secret := NewSecret()
	now := time.Unix(1_800_000_000, 0)
	for _, d := range []int64{-1, 0, 1} {
		code, _ := Code(secret, Step(now)+d, Digits)
		if got := Match(secret, code, now); got != Step(now)+d {
			t.Errorf("code of step %+d: matched step %d, want %d", d, got, Step(now)+d)
		}
	}
	for _, d := range []int64{-3, 2, 5} {
		code, _ := Code(secret, Step(now)+d, Digits)
		if other, _ := Code(secret, Step(now), Digits); other == code {
			continue // a collision of 6 digits, not a bug
		}
		if got := Match(secret, code, now); got != 0 {
			t.Errorf("code of step %+d accepted (step %d)", d, got)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if Match(secret, bad, now) != 0 {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestURI_CarriesSecretAndIssuer(t *testing.T) {
	u := URI("Dokploy (example.com)", "me@example.com", "ABC")
	for _, want := range []string{"otpauth://totp/Dokploy%20%28example.com%29:me@example.com?", "secret=ABC", "issuer=Dokploy"} {
		if !strings.Contains(u, want) {
			t.Errorf("URI %s lacks %s", u, want)
		}
	}
}
