// Package totp implements time-based one-time passwords (RFC 6238, with
// the HOTP of RFC 4226): HMAC-SHA1, 30-second steps, 6 digits, the
// parameters every authenticator app uses by default.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238's default; authenticator apps expect it
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	// Period is the length of one step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one a code is
	// still accepted, for clocks that drift and codes typed slowly.
	Skew = 1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random 160-bit secret in base32 (RFC 4226 §4
// recommends 160 bits), the form authenticator apps take.
func NewSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return b32.EncodeToString(b)
}

// Step is the step number of t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the code of secret at step, with digits digits.
func Code(secret string, step int64, digits int) (string, error) {
	key, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return "", fmt.Errorf("totp secret is not base32: %w", err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step)) //nolint:gosec // steps are positive
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod), nil
}

// Match reports the step within Skew of now whose code is code, or 0 when
// none is. The caller stores the step and refuses it and earlier ones
// afterwards, so a code works once (RFC 6238 §5.2).
func Match(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	if len(code) != Digits {
		return 0
	}
	cur := Step(now)
	var found int64
	for s := cur - Skew; s <= cur+Skew; s++ {
		want, err := Code(secret, s, Digits)
		// Every candidate is computed and compared in constant time, so
		// timing does not tell which step matched.
		if err == nil && hmac.Equal([]byte(want), []byte(code)) {
			found = s
		}
	}
	return found
}

// URI is the otpauth:// address a QR code carries to an authenticator
// app (the Key Uri Format of Google Authenticator, which others follow).
func URI(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(Digits))
	q.Set("period", fmt.Sprint(int(Period/time.Second)))
	return "otpauth://totp/" + label + "?" + q.Encode()
}
