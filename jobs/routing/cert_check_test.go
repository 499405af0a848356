package routing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/jobs/netguard"
	"dokploy/jobs/notify"
	"dokploy/jobs/routing"
	"dokploy/jobs/routing/routingtest"
)

const certHookSecret = "whsec-cert-check-0123456789abcdef"

// A Traefik v3 line for a failed order, of the shape it logs them.
const apiACMEFailure = `2026-12-02T10:00:00Z ERR Unable to obtain ACME certificate for domains error="unable to generate a certificate for the domains [api.example.com]: acme: error: 400 :: urn:ietf:params:acme:error:dns :: DNS problem: NXDOMAIN looking up A for api.example.com" ACME CA=https://acme-v02.api.letsencrypt.org/directory domains=["api.example.com"] providerName=letsencrypt.acme routerName=blog-web-d2-websecure@file rule=Host(` + "`api.example.com`" + `)`

// fixedLog is a Traefik container whose recent log is fixed.
type fixedLog string

func (l fixedLog) Restart(context.Context, string) error           { return nil }
func (l fixedLog) RecentLog(context.Context) (string, error)       { return string(l), nil }
func (l fixedLog) Addresses(context.Context) ([]netip.Addr, error) { return nil, nil }

// selfSigned makes a certificate for hosts valid until notAfter, and its key.
func selfSigned(t *testing.T, notAfter time.Time, hosts ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		DNSNames: hosts, NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// writeACME writes acme.json as Traefik v3 keeps it: per resolver, each
// certificate and key as base64 PEM.
func writeACME(t *testing.T, dir string, certs map[string]string) {
	t.Helper()
	type entry struct {
		Domain      map[string]any `json:"domain"`
		Certificate []byte         `json:"certificate"`
		Key         []byte         `json:"key"`
		Store       string         `json:"Store"`
	}
	var list []entry
	for host, certPEM := range certs {
		list = append(list, entry{Domain: map[string]any{"main": host}, Certificate: []byte(certPEM), Key: []byte("unused"), Store: "default"})
	}
	data, err := json.Marshal(map[string]any{"letsencrypt": map[string]any{
		"Account": map[string]any{"Email": "ops@example.com"}, "Certificates": list}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, routing.ACMEFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCertificateCheck_NotifiesExpiringAndFailedOnce: of two issued
// certificates, the one expiring in 5 days is told and the one in 60 days
// is not; an uploaded one expiring in 3 days is told; an order Traefik's
// log reports failed is told with Traefik's message. A second check
// queues nothing more, and the signed webhook receives each once, naming
// the owning project and service.
func TestCertificateCheck_NotifiesExpiringAndFailedOnce(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	fx := routingtest.New(t, store)
	shop, blog := fx.CreateApp("shop"), fx.CreateApp("blog")
	fx.AddDomain(shop, db.Domain{Host: "shop.example.com", HTTPS: true, Certificate: db.CertLetsEncrypt})
	fx.AddDomain(blog, db.Domain{Host: "blog.example.com", HTTPS: true, Certificate: db.CertLetsEncrypt})
	fx.AddDomain(blog, db.Domain{Host: "api.example.com", HTTPS: true, Certificate: db.CertLetsEncrypt})

	svc, err := routing.New(routing.Options{Store: store, ConfigDir: t.TempDir(), Traefik: fixedLog("2026-12-02T09:59:59Z INF Starting provider\n" + apiACMEFailure + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	soon, _ := selfSigned(t, now.Add(5*24*time.Hour), "shop.example.com")
	later, _ := selfSigned(t, now.Add(60*24*time.Hour), "blog.example.com")
	writeACME(t, svc.ConfigDir(), map[string]string{"shop.example.com": soon, "blog.example.com": later})
	upPEM, upKey := selfSigned(t, now.Add(3*24*time.Hour), "legacy.example.com")
	up := &db.Certificate{Name: "legacy", CertPEM: upPEM, Hosts: []string{"legacy.example.com"}, NotAfter: now.Add(3 * 24 * time.Hour).Truncate(time.Second)}
	if err := store.CreateCertificate(ctx, up, upKey); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	got := map[string]notify.WebhookPayload{}
	badSig := 0
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if notify.Verify(certHookSecret, r.Header.Get(notify.SignatureHeader), body, time.Now(), time.Minute) != nil {
			badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p notify.WebhookPayload
		_ = json.Unmarshal(body, &p)
		got[p.Title] = p
	}))
	defer sink.Close()
	cfg := notify.Config{URL: sink.URL, Secret: certHookSecret}
	ch := &db.NotificationChannel{Name: "certs", Kind: notify.KindWebhook, Enabled: true, Events: []string{notify.EventCertExpiring, notify.EventCertFailed}}
	if err := store.CreateNotificationChannel(ctx, ch, notify.EncodeConfig(&cfg)); err != nil {
		t.Fatal(err)
	}
	n := notify.New(store, netguard.New(), notify.WithPublicURL("https://dash.example.com"), notify.WithPollInterval(20*time.Millisecond))

	queued, err := svc.CheckCertificates(ctx, n, now)
	if err != nil || queued != 3 {
		t.Fatalf("first check queued %d (%v); want 3", queued, err)
	}
	rows, err := store.Notifications(ctx, ch.ID, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]db.Notification{}
	for _, r := range rows {
		byTitle[r.Title] = r
	}
	exp := byTitle["Certificate for shop.example.com expires in 5 days"]
	if exp.Event != notify.EventCertExpiring || exp.ServiceID == nil || *exp.ServiceID != shop.ID || exp.Service != "shop" ||
		!strings.Contains(string(exp.Data), `"source": "letsencrypt"`) || !strings.Contains(string(exp.Data), `"hosts": ["shop.example.com"]`) {
		t.Errorf("expiring row = %+v data %s; want shop.example.com's, about service shop", exp, exp.Data)
	}
	upRow := byTitle["Certificate for legacy.example.com expires in 3 days"]
	if upRow.Event != notify.EventCertExpiring || !strings.Contains(string(upRow.Data), `"source": "uploaded"`) || upRow.ServiceID != nil {
		t.Errorf("uploaded row = %+v data %s; want legacy.example.com's, about no service", upRow, upRow.Data)
	}
	failed := byTitle["Certificate for api.example.com could not be issued"]
	if failed.Event != notify.EventCertFailed || failed.Severity != notify.SeverityError || !strings.Contains(failed.Body, "NXDOMAIN looking up A for api.example.com") ||
		failed.ServiceID == nil || *failed.ServiceID != blog.ID {
		t.Errorf("failed row = %+v; want api.example.com's with Traefik's message, about service blog", failed)
	}
	for _, r := range rows {
		if strings.Contains(r.Title, "blog.example.com") {
			t.Errorf("the certificate expiring in 60 days was told: %+v", r)
		}
	}

	if again, err := svc.CheckCertificates(ctx, n, now.Add(time.Hour)); err != nil || again != 0 {
		t.Fatalf("second check queued %d (%v); want none", again, err)
	}
	if rows, _ := store.Notifications(ctx, ch.ID, 50, 0); len(rows) != 3 {
		t.Fatalf("outbox has %d rows after two checks; want 3", len(rows))
	}

	// Delivered, signed, with the subject in the envelope.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go n.Run(runCtx)
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	for deadline := time.Now().Add(15 * time.Second); received() < 3 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	if len(got) != 3 || badSig != 0 {
		t.Fatalf("sink got %d messages (%d badly signed); want 3", len(got), badSig)
	}
	p := got[exp.Title]
	if p.Type != notify.EventCertExpiring || p.Project == nil || p.Project.Name != "Project shop" || p.Service == nil ||
		p.Service.ID != shop.ID || p.Service.Name != "shop" || p.Service.Kind != db.KindApp || !strings.HasPrefix(p.URL, "https://dash.example.com/apps/") {
		t.Errorf("envelope = %+v (project %+v, service %+v); want shop's project and service", p, p.Project, p.Service)
	}
	var data struct {
		Hosts    []string `json:"hosts"`
		NotAfter string   `json:"not_after"`
		Source   string   `json:"source"`
	}
	if err := json.Unmarshal(p.Data, &data); err != nil || data.Source != "letsencrypt" || len(data.Hosts) != 1 || data.NotAfter == "" {
		t.Errorf("envelope data %s; want hosts, not_after and source", p.Data)
	}
	mu.Unlock()

	// Three days on, each expiry is at its next stage and is told again;
	// the failure is within the cooldown, so it is not.
	if queued, err := svc.CheckCertificates(ctx, n, now.Add(3*24*time.Hour)); err != nil || queued != 2 {
		t.Fatalf("the check three days later queued %d (%v); want 2 reminders", queued, err)
	}
	rows, _ = store.Notifications(ctx, ch.ID, 50, 0)
	titles := map[string]bool{}
	for _, r := range rows {
		titles[r.Title] = true
	}
	if !titles["Certificate for shop.example.com expires in 2 days"] || !titles["Certificate for legacy.example.com has expired"] {
		t.Errorf("after three days the outbox has %v; want the 2-day reminder and the expiry", titles)
	}
}
