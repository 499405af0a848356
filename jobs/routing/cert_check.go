package routing

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"dokploy/db"
	"dokploy/jobs/notify"
)

// Certificate checks: how far ahead expiry is told, how often the check
// runs, and how long one stage of an expiry, or one ACME failure, stays
// told (the notifier's cooldown is much shorter than these).
const (
	CertExpiryWarning = 14 * 24 * time.Hour
	certCheckPeriod   = time.Hour
	certCheckDelay    = time.Minute
	certFailedRepeat  = 24 * time.Hour
	certStageRepeat   = 30 * 24 * time.Hour
)

// RunCertificateChecks checks certificates a minute after start and then
// every hour until ctx ends (see CheckCertificates). A nil Service does
// nothing.
func (r *Service) RunCertificateChecks(ctx context.Context, n *notify.Notifier) {
	if r == nil {
		return
	}
	wait := certCheckDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = certCheckPeriod
		if _, err := r.CheckCertificates(ctx, n, time.Now()); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("certificate check", "err", err)
		}
	}
}

// CheckCertificates notifies certificate.expiring for the certificates
// that expire within CertExpiryWarning (those Traefik issued for a domain
// still routed, read from acme.json, and uploaded ones), and
// certificate.failed for each host whose ACME order Traefik's log reports
// as failed (and that has no certificate since). An expiry is told once
// per stage (14, 7, 3 and 1 days left, expired), a failure once a day
// while Traefik's log still shows it. It returns how many rows it queued.
func (r *Service) CheckCertificates(ctx context.Context, n *notify.Notifier, now time.Time) (int, error) {
	domains, err := r.opts.Store.AllDomains(ctx)
	if err != nil {
		return 0, err
	}
	byHost := map[string]db.Domain{}
	for _, d := range domains {
		if _, seen := byHost[d.Host]; !seen || d.Enabled && !byHost[d.Host].Enabled {
			byHost[d.Host] = d
		}
	}
	var events []notify.Event
	for _, c := range r.issuedCertificates() {
		owner, routed := routedDomain(byHost, c.hosts)
		if !routed || now.Add(CertExpiryWarning).Before(c.notAfter) {
			continue
		}
		events = append(events, expiringEvent(c.hosts, c.notAfter, db.CertLetsEncrypt, owner, now))
	}
	uploaded, err := r.opts.Store.Certificates(ctx)
	if err != nil {
		return 0, err
	}
	for _, c := range uploaded {
		if now.Add(CertExpiryWarning).Before(c.NotAfter) {
			continue
		}
		var owner *db.Domain
		for i := range domains {
			if domains[i].CertificateID != nil && *domains[i].CertificateID == c.ID {
				owner = &domains[i]
				break
			}
		}
		e := expiringEvent(c.Hosts, c.NotAfter, "uploaded", owner, now)
		e.Body += fmt.Sprintf(" It is the uploaded certificate %q: upload its renewal in Settings.", c.Name)
		e.Data["certificate_id"] = c.ID
		events = append(events, e)
	}
	issued := r.issuedHosts()
	for host, msg := range r.acmeErrors(ctx) {
		if issued[host] {
			continue // issued since
		}
		var owner *db.Domain
		if d, ok := byHost[host]; ok {
			owner = &d
		}
		events = append(events, failedEvent(host, msg, owner))
	}

	queued := 0
	var errs []error
	for _, e := range events {
		repeat := certStageRepeat
		if e.Name == notify.EventCertFailed {
			repeat = certFailedRepeat
		}
		if told, err := r.opts.Store.NotificationQueuedSince(ctx, e.DedupeKey, now.Add(-repeat)); err != nil || told {
			errs = append(errs, err)
			continue
		}
		if owner, ok := e.Data["service_id"].(int64); ok {
			s, err := r.opts.Store.ServiceSubject(ctx, owner)
			if err == nil {
				e.Subject = s
				e.URL = n.Link(domainsPage(s.ServiceKind, owner))
			}
		}
		if e.URL == "" {
			e.URL = n.Link("/settings")
		}
		k, err := n.Notify(ctx, e)
		queued += k
		errs = append(errs, err)
	}
	return queued, errors.Join(errs...)
}

// issuedCert is one certificate of acme.json.
type issuedCert struct {
	hosts    []string
	notAfter time.Time
}

// issuedCertificates is acme.json's certificates with their expiry; ones
// that do not parse are left out.
func (r *Service) issuedCertificates() []issuedCert {
	var out []issuedCert
	for _, c := range r.acmeCertificates() {
		block, _ := pem.Decode(c.Certificate)
		if block == nil {
			continue
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		out = append(out, issuedCert{hosts: c.hosts(), notAfter: leaf.NotAfter})
	}
	return out
}

// routedDomain finds an enabled HTTPS Let's Encrypt domain among hosts:
// Traefik renews only those, so only their expiry is news.
func routedDomain(byHost map[string]db.Domain, hosts []string) (*db.Domain, bool) {
	for _, h := range hosts {
		if d, ok := byHost[h]; ok && d.Enabled && d.HTTPS && d.Certificate == db.CertLetsEncrypt {
			return &d, true
		}
	}
	return nil, false
}

func expiringEvent(hosts []string, notAfter time.Time, source string, owner *db.Domain, now time.Time) notify.Event {
	left := notAfter.Sub(now)
	days := int(math.Ceil(left.Hours() / 24))
	var when, stage string
	switch {
	case left <= 0:
		when, stage = "has expired", "expired"
	case days <= 1:
		when, stage = "expires within a day", "1d"
	case days <= 3:
		when, stage = fmt.Sprintf("expires in %d days", days), "3d"
	case days <= 7:
		when, stage = fmt.Sprintf("expires in %d days", days), "7d"
	default:
		when, stage = fmt.Sprintf("expires in %d days", days), "14d"
	}
	main := "(no host)"
	if len(hosts) > 0 {
		main = hosts[0]
	}
	body := fmt.Sprintf("The certificate for %s %s (%s UTC).", strings.Join(hosts, ", "), strings.TrimPrefix(when, "has "),
		notAfter.UTC().Format(time.DateTime))
	if source == db.CertLetsEncrypt {
		body += " Traefik renews Let's Encrypt certificates 30 days ahead, so renewal is failing: the host must resolve to this server and port 80 must be reachable."
	}
	e := notify.Event{Name: notify.EventCertExpiring, Severity: notify.SeverityWarning,
		Title:     fmt.Sprintf("Certificate for %s %s", main, when),
		Body:      body,
		DedupeKey: fmt.Sprintf("%s:%s:%d:%s", notify.EventCertExpiring, main, notAfter.Unix(), stage),
		Data: map[string]any{"hosts": hosts, "not_after": notAfter.UTC().Format(time.RFC3339), "source": source,
			"days_left": days}}
	if owner != nil && owner.ServiceID != nil {
		e.Data["service_id"] = *owner.ServiceID
	}
	return e
}

func failedEvent(host, msg string, owner *db.Domain) notify.Event {
	sum := sha256.Sum256([]byte(msg))
	e := notify.Event{Name: notify.EventCertFailed, Severity: notify.SeverityError,
		Title: fmt.Sprintf("Certificate for %s could not be issued", host),
		Body: fmt.Sprintf("Let's Encrypt did not issue a certificate for %s: %s. The host must resolve to this server and port 80 must be reachable; Traefik retries on the next HTTPS request.",
			host, strings.TrimSuffix(msg, ".")),
		DedupeKey: notify.EventCertFailed + ":" + host + ":" + hex.EncodeToString(sum[:8]),
		Data:      map[string]any{"host": host, "error": msg}}
	if owner != nil && owner.ServiceID != nil {
		e.Data["service_id"] = *owner.ServiceID
	}
	return e
}

// domainsPage is where a service's domains are shown.
func domainsPage(kind string, id int64) string {
	s := strconv.FormatInt(id, 10)
	if kind == db.KindCompose {
		return "/compose/" + s + "/domains"
	}
	return "/apps/" + s
}
