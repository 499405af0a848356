// Package testkit is the one set of helpers the project's tests share:
// free ports, the repository root, Docker and tool requirements, a git
// fixture server, a logged-in HTTP client, certificates and assertions.
// Only tests import it.
package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// MustContain fails unless body contains every want.
func MustContain(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("response does not contain %q:\n%s", w, Truncate(body))
		}
	}
}

// MustNotContain fails if body contains any of unwanted.
func MustNotContain(t testing.TB, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("response contains %q but must not:\n%s", w, Truncate(body))
		}
	}
}

// Truncate shortens s for a test log.
func Truncate(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// SelfSignedPEM returns a self-signed certificate for host, valid now.
func SelfSignedPEM(t testing.TB, host string) []byte {
	cert, _ := SelfSigned(t, host, time.Now().Add(24*time.Hour))
	return cert
}

// SelfSigned returns a certificate and its key (PEM) for host that
// expires at notAfter (in the past for an expired one).
func SelfSigned(t testing.TB, host string, notAfter time.Time) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: notBefore(notAfter), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func notBefore(notAfter time.Time) time.Time {
	if nb := time.Now().Add(-time.Hour); nb.Before(notAfter) {
		return nb
	}
	return notAfter.Add(-48 * time.Hour)
}
