// Package netguard refuses connections the product makes on a user's behalf
// (git clones, image pulls) to places a user must never reach through it:
// link-local and cloud-metadata addresses, and the control plane's own
// services (PostgreSQL, Redis, Traefik's API, the dashboard) on any address
// of this machine. Checks run on the address actually dialled, after DNS, so
// a name that resolves to 127.0.0.1 or a redirect to 169.254.169.254 is
// caught as well as a literal IP.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every refusal; test with errors.Is.
var ErrRefused = errors.New("connection refused by the platform's network guard")

// Service is a control-plane service a user must not reach: Host may be a
// name, an IP, or empty/loopback for "this machine".
type Service struct {
	Name string // shown in the refusal, e.g. "the control plane's PostgreSQL"
	Host string
	Port int
}

// blockedPrefixes are never dialled on a user's behalf.
var blockedPrefixes = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (cloud metadata lives here)"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "the cloud metadata service"},
	{netip.MustParsePrefix("100.100.100.200/32"), "the cloud metadata service"},
	{netip.MustParsePrefix("0.0.0.0/8"), "an unroutable address"},
}

// Guard decides whether an address may be dialled. The zero value is not
// usable; build one with New. A nil *Guard refuses only the blocked ranges.
type Guard struct {
	// localPorts are refused on any address of this machine.
	localPorts map[uint16]string
	// remote services are refused at whatever their names resolve to.
	remote []Service

	mu         sync.Mutex
	resolved   map[string][]netip.Addr // remote host → addresses, cached
	local      map[netip.Addr]bool     // this machine's interface addresses
	at         time.Time               // when resolved/local were filled
	refreshing bool                    // a background refresh is running
}

// cacheFor bounds how stale interface addresses and service names may be.
const cacheFor = 30 * time.Second

// New builds a guard for the given control-plane services.
func New(services ...Service) *Guard {
	g := &Guard{localPorts: map[uint16]string{}}
	for _, s := range services {
		if s.Port <= 0 || s.Port > 65535 {
			continue
		}
		if isLocalHost(s.Host) {
			g.localPorts[uint16(s.Port)] = s.Name
			continue
		}
		g.remote = append(g.remote, s)
	}
	return g
}

// isLocalHost reports whether a configured host means this machine.
func isLocalHost(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// Check refuses addr (an IP and port) when it is blocked.
func (g *Guard) Check(addr netip.AddrPort) error {
	ip := addr.Addr().Unmap()
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(ip) {
			return fmt.Errorf("%w: %s is %s", ErrRefused, addr, b.why)
		}
	}
	if g == nil {
		return nil
	}
	if name, ok := g.localPorts[addr.Port()]; ok && g.isLocal(ip) {
		return fmt.Errorf("%w: %s is %s", ErrRefused, addr, name)
	}
	for _, s := range g.remote {
		if uint16(s.Port) != addr.Port() {
			continue
		}
		for _, a := range g.lookup(s.Host) {
			if a == ip {
				return fmt.Errorf("%w: %s is %s", ErrRefused, addr, s.Name)
			}
		}
	}
	return nil
}

// isLocal reports whether ip reaches this machine: loopback, unspecified
// (connecting to 0.0.0.0 reaches local listeners) or an interface address.
func (g *Guard) isLocal(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	g.refresh()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.local[ip]
}

func (g *Guard) lookup(host string) []netip.Addr {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}
	}
	g.refresh()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resolved[host]
}

// refresh keeps interface addresses and remote service names at most
// cacheFor old. Only the first call waits for them; later, a stale cache
// is answered from while one background refresh renews it, so a dial
// never waits on DNS once the guard has its first answer.
func (g *Guard) refresh() {
	g.mu.Lock()
	switch {
	case g.local == nil:
		g.mu.Unlock()
		g.reload()
		return
	case time.Since(g.at) >= cacheFor && !g.refreshing:
		g.refreshing = true
		go g.reload()
	}
	g.mu.Unlock()
}

// reload re-reads interface addresses and re-resolves remote service
// names. A failed lookup keeps the old answer: a DNS hiccup must not open
// the guard.
func (g *Guard) reload() {
	local := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				local[p.Addr().Unmap()] = true
			}
		}
	}
	resolved := map[string][]netip.Addr{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range g.remote {
		if ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s.Host); err == nil {
			for _, ip := range ips {
				resolved[s.Host] = append(resolved[s.Host], ip.Unmap())
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for host, old := range g.resolved {
		if _, ok := resolved[host]; !ok {
			resolved[host] = old
		}
	}
	g.local, g.resolved, g.at, g.refreshing = local, resolved, time.Now(), false
}

// Control is a net.Dialer Control hook: it runs after DNS, on the address
// about to be connected, for every connection including redirects.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	addr, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unexpected address %q", ErrRefused, address)
	}
	return g.Check(addr)
}

// Dialer returns a dialer whose every connection passes Check.
func (g *Guard) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.Control}
}

// Resolve looks host up and returns an address to dial on port, refusing
// the whole name if any of its addresses is blocked (so DNS round-robin
// cannot be used to slip one through). Use it where the dial itself cannot
// be hooked and connect to the returned address, never the name again.
func (g *Guard) Resolve(ctx context.Context, host string, port int) (netip.Addr, error) {
	if port <= 0 || port > 65535 {
		return netip.Addr{}, fmt.Errorf("%w: invalid port %d", ErrRefused, port)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
		}
		ips = found
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve %s: no address", host)
	}
	for _, ip := range ips {
		if err := g.Check(netip.AddrPortFrom(ip.Unmap(), uint16(port))); err != nil {
			return netip.Addr{}, err
		}
	}
	return ips[0].Unmap(), nil
}

// CheckHostPort resolves host and checks every address, for callers that
// hand the connection to another process (dockerd pulls an image itself).
func (g *Guard) CheckHostPort(ctx context.Context, host string, port int) error {
	_, err := g.Resolve(ctx, host, port)
	return err
}

// SplitHostPort parses "host:port" with a default port, for URLs that may
// omit it.
func SplitHostPort(hostport string, defaultPort int) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, defaultPort, nil //nolint:nilerr // no port given: use the default
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("invalid port %q", p)
	}
	return host, port, nil
}
