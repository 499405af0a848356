package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestCheck_RefusesMetadataAndPlatformPorts(t *testing.T) {
	g := New(
		Service{Name: "the control plane's PostgreSQL", Host: "127.0.0.1", Port: 5432},
		Service{Name: "the control plane's Redis", Host: "10.1.2.3", Port: 6379},
		Service{Name: "the dashboard", Host: "", Port: 3000},
	)
	local := firstInterfaceAddr(t)
	refused := []string{
		"169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[fe80::1]:80", "[fd00:ec2::254]:80",
		"127.0.0.1:5432", "127.0.0.9:5432", "[::1]:5432", "0.0.0.0:5432", "[::]:3000",
		netip.AddrPortFrom(local, 5432).String(), netip.AddrPortFrom(local, 3000).String(),
		"10.1.2.3:6379",
	}
	for _, a := range refused {
		if err := g.Check(netip.MustParseAddrPort(a)); !errors.Is(err, ErrRefused) {
			t.Errorf("Check(%s) = %v, want refused", a, err)
		}
	}
	allowed := []string{"127.0.0.1:8443", "10.1.2.3:5432", "10.1.2.4:6379", "192.0.2.7:5432", "[2001:db8::1]:3000"}
	for _, a := range allowed {
		if err := g.Check(netip.MustParseAddrPort(a)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", a, err)
		}
	}
	if err := g.Check(netip.MustParseAddrPort("127.0.0.1:5432")); err == nil || err.Error() != "connection refused by the platform's network guard: 127.0.0.1:5432 is the control plane's PostgreSQL" {
		t.Errorf("message = %v", err)
	}
}

func TestNilGuard_RefusesOnlyBlockedRanges(t *testing.T) {
	var g *Guard
	if err := g.Check(netip.MustParseAddrPort("169.254.169.254:80")); !errors.Is(err, ErrRefused) {
		t.Errorf("metadata allowed by nil guard: %v", err)
	}
	if err := g.Check(netip.MustParseAddrPort("127.0.0.1:5432")); err != nil {
		t.Errorf("nil guard refused loopback: %v", err)
	}
}

func TestResolve_NameResolvingToLoopback(t *testing.T) {
	g := New(Service{Name: "the control plane's Redis", Port: 6379})
	if _, err := g.Resolve(context.Background(), "localhost", 6379); !errors.Is(err, ErrRefused) {
		t.Errorf("localhost:6379 = %v, want refused", err)
	}
	ip, err := g.Resolve(context.Background(), "localhost", 9418)
	if err != nil || !ip.IsLoopback() {
		t.Errorf("localhost:9418 = %v, %v; want a loopback address", ip, err)
	}
}

func TestDialer_RefusesBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	g := New(Service{Name: "the control plane's Redis", Host: "127.0.0.1", Port: port})
	_, err = g.Dialer().DialContext(context.Background(), "tcp", ln.Addr().String())
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("dial = %v, want refused", err)
	}
	ln.Close()
	select {
	case <-accepted:
		t.Fatal("the guarded service accepted a connection")
	default:
	}
}

func firstInterfaceAddr(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err == nil && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	t.Fatal("this machine has no non-loopback interface address")
	return netip.Addr{}
}

// TestRefresh_StaleCacheAnsweredThenRenewedInBackground: once the guard
// has its first answer, a stale cache still answers at once (a dial never
// waits on DNS) and one background refresh renews it.
func TestRefresh_StaleCacheAnsweredThenRenewedInBackground(t *testing.T) {
	g := New(Service{Name: "the control plane's Redis", Host: "127.0.0.1", Port: 6379})
	ghost := netip.MustParseAddr("192.0.2.77") // TEST-NET-1: never an interface here
	if err := g.Check(netip.AddrPortFrom(ghost, 6379)); err != nil {
		t.Fatalf("first check: %v", err)
	}
	// Pretend the address was an interface one when the cache was filled,
	// an hour ago.
	g.mu.Lock()
	g.local[ghost] = true
	g.at = time.Now().Add(-time.Hour)
	g.mu.Unlock()
	if err := g.Check(netip.AddrPortFrom(ghost, 6379)); !errors.Is(err, ErrRefused) {
		t.Fatalf("stale check = %v; want the cached answer (refused) at once", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.Check(netip.AddrPortFrom(ghost, 6379)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the stale cache was not renewed in the background")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refreshing || time.Since(g.at) > time.Minute {
		t.Errorf("after the refresh: refreshing %v, age %s", g.refreshing, time.Since(g.at))
	}
}
