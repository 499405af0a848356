package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows script, style, images and connections
// (fetch, EventSource) from the dashboard's own origin only: no inline
// script, on* handler, style attribute or eval runs, so an injected tag does
// nothing. The pages keep their code in /static/*.js, wired by data-*
// attributes, and their layout in app.css.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; " +
	"frame-ancestors 'none'; form-action 'self'"

// strictTransportSecurity tells browsers to use HTTPS for a year.
const strictTransportSecurity = "max-age=31536000"

// proxyTrust decides which proxies are believed: those of
// DOKPLOY_TRUSTED_PROXIES and the Traefik the product runs (addrs, read per
// request as Traefik may be recreated). Their X-Forwarded-For names the
// client (newClientIP) and their X-Forwarded-Proto the scheme (https).
type proxyTrust struct {
	trusted []*net.IPNet
	addrs   func() []netip.Addr // may be nil
	// publicHost is the host of DOKPLOY_PUBLIC_URL when it is https: a
	// request for that host reached us through its TLS terminator.
	publicHost string
}

func newProxyTrust(trusted []*net.IPNet, addrs func() []netip.Addr, publicURL string) proxyTrust {
	p := proxyTrust{trusted: trusted, addrs: addrs}
	if u, err := url.Parse(publicURL); err == nil && u.Scheme == "https" {
		p.publicHost = strings.ToLower(u.Host)
	}
	return p
}

// fromProxy reports whether the request's peer is a trusted proxy.
func (p proxyTrust) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range p.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	if a, ok := netip.AddrFromSlice(ip); ok {
		for _, own := range p.ownProxies() {
			if own == a.Unmap() {
				return true
			}
		}
	}
	return false
}

// ownProxies are the current addresses of the product's Traefik.
func (p proxyTrust) ownProxies() []netip.Addr {
	if p.addrs == nil {
		return nil
	}
	return p.addrs()
}

// https reports whether the browser talks HTTPS to us: TLS on this
// connection, a trusted proxy's X-Forwarded-Proto, or (without a trusted
// proxy's word) the https public URL's host.
func (p proxyTrust) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if p.fromProxy(r) && r.Header.Get(echo.HeaderXForwardedProto) != "" {
		return strings.EqualFold(r.Header.Get(echo.HeaderXForwardedProto), "https")
	}
	return p.publicHost != "" && strings.EqualFold(r.Host, p.publicHost)
}

// securityHeaders sets the Content-Security-Policy on every response, and
// Strict-Transport-Security when the request came over HTTPS (never on plain
// http, where a browser would ignore it anyway).
func (h *Handler) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		if h.proxies.https(c.Request()) {
			hd.Set("Strict-Transport-Security", strictTransportSecurity)
		}
		return next(c)
	}
}
