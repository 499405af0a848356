package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/netguard"
	"dokploy/jobs/notify/notifytest"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestNotify_EmailThroughMailpit(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	port, api := notifytest.Mailpit(t)
	addChannel(t, store, "ops mail", KindEmail, Config{Host: "127.0.0.1", Port: port, Username: "dokploy", Password: "smtp-pass-secret",
		From: "alerts@dokploy.test", To: []string{"ops@example.com", "oncall@example.com"}}, EventDeployFailed)
	n := New(store, netguard.New())
	if _, err := n.Notify(ctx, Event{Name: EventDeployFailed, Title: "Deployment of shop failed — ünïcode",
		Body: "Deployment #12 of shop failed: image shop:nope not found.", URL: "https://dash.example.com/deployments/12", Severity: SeverityError}); err != nil {
		t.Fatal(err)
	}
	drain(t, n, func() bool { return deliveries(t, store)[0].Status != db.NotifyPending })
	if d := deliveries(t, store)[0]; d.Status != db.NotifySent {
		t.Fatalf("email delivery: %s %s", d.Status, d.LastError)
	}

	var list struct {
		Messages []struct {
			ID      string
			Subject string
			From    struct{ Address string }
			To      []struct{ Address string }
		} `json:"messages"`
	}
	getJSON(t, api+"/api/v1/messages", &list)
	if len(list.Messages) != 1 {
		t.Fatalf("mailpit holds %d messages; want 1", len(list.Messages))
	}
	m := list.Messages[0]
	var to []string
	for _, a := range m.To {
		to = append(to, a.Address)
	}
	if m.Subject != "Deployment of shop failed — ünïcode" || m.From.Address != "alerts@dokploy.test" || strings.Join(to, ",") != "ops@example.com,oncall@example.com" {
		t.Errorf("message: subject %q, from %q, to %v", m.Subject, m.From.Address, to)
	}
	var full struct{ Text string }
	getJSON(t, api+"/api/v1/message/"+m.ID, &full)
	if !strings.Contains(full.Text, "Deployment #12 of shop failed: image shop:nope not found.") ||
		!strings.Contains(full.Text, "https://dash.example.com/deployments/12") {
		t.Errorf("body = %q", full.Text)
	}
	if strings.Contains(full.Text, "smtp-pass-secret") {
		t.Error("the SMTP password is in the message")
	}
}

func TestNotify_EmailServerDownFailsWithoutPassword(t *testing.T) {
	store := dbtest.NewStore(t)
	ch := addChannel(t, store, "dead mail", KindEmail, Config{Host: "127.0.0.1", Port: notifytest.FreePort(t), Username: "u", Password: "smtp-pass-secret",
		From: "alerts@dokploy.test", To: []string{"ops@example.com"}})
	row, err := New(store, netguard.New()).SendTest(context.Background(), ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != db.NotifyFailed || !strings.Contains(row.LastError, "connect to the SMTP server") || strings.Contains(row.LastError, "smtp-pass-secret") {
		t.Errorf("status %s, error %q", row.Status, row.LastError)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = dir+"/cert.pem", dir+"/key.pem"
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// A server that requires STARTTLS gets the message over TLS; a client
// that does not trust the certificate refuses to send.
func TestNotify_EmailUpgradesWithSTARTTLS(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	certFile, keyFile, pool := selfSigned(t)
	port, api := notifytest.Mailpit(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls")
	ch := addChannel(t, store, "tls mail", KindEmail, Config{Host: "127.0.0.1", Port: port, Username: "dokploy", Password: "smtp-pass-secret",
		From: "alerts@dokploy.test", To: []string{"ops@example.com"}})

	row, err := New(store, netguard.New()).SendTest(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != db.NotifyFailed || !strings.Contains(row.LastError, "STARTTLS") || !strings.Contains(row.LastError, "certificate") {
		t.Errorf("untrusted certificate: status %s, error %q; want failed at STARTTLS", row.Status, row.LastError)
	}

	row, err = New(store, netguard.New(), withRootCAs(pool)).SendTest(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Status != db.NotifySent {
		t.Fatalf("over STARTTLS: %s %s", row.Status, row.LastError)
	}
	var list struct {
		Messages []struct{ Subject string } `json:"messages"`
	}
	getJSON(t, api+"/api/v1/messages", &list)
	if len(list.Messages) != 1 || list.Messages[0].Subject != "Test notification from Dokploy" {
		t.Errorf("mailpit holds %+v", list.Messages)
	}
}
