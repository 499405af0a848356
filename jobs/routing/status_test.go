package routing

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// A line as Traefik v3.6.12 logs a failed order (copied from a real run).
const traefikACMEFailure = `2026-11-25T19:32:07Z ERR Unable to obtain ACME certificate for domains error="cannot get ACME client get directory at 'https://acme-v02.api.letsencrypt.org/directory': Get \"https://acme-v02.api.letsencrypt.org/directory\": dial tcp: lookup acme-v02.api.letsencrypt.org on 127.0.0.11:53: no such host" ACME CA=https://acme-v02.api.letsencrypt.org/directory acmeCA=https://acme-v02.api.letsencrypt.org/directory domains=["shop.localtest.me"] providerName=letsencrypt.acme routerName=shop-web-d1-websecure@file rule=Host(` + "`shop.localtest.me`" + `)`

func TestACMEErrorsFromTraefikLog(t *testing.T) {
	log := "2026-11-25T19:32:05Z INF Starting provider\n" + traefikACMEFailure + "\n"
	r := &Service{opts: Options{Traefik: logOnly(log)}}
	got := r.acmeErrors(context.Background())
	msg, ok := got["shop.localtest.me"]
	if !ok || !strings.Contains(msg, "no such host") || !strings.Contains(msg, `Get "https://acme-v02`) {
		t.Fatalf("acmeErrors = %q", got)
	}
	if len(got) != 1 {
		t.Errorf("only the failing host should be listed: %q", got)
	}
	none := &Service{}
	if len(none.acmeErrors(context.Background())) != 0 {
		t.Error("without a log source there are no errors")
	}
}

// logOnly is a Traefik container whose log is fixed.
type logOnly string

func (l logOnly) Restart(context.Context, string) error { return nil }

func (l logOnly) RecentLog(context.Context) (string, error) { return string(l), nil }

func (l logOnly) Addresses(context.Context) ([]netip.Addr, error) { return nil, nil }
