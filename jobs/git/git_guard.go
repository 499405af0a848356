package git

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/net/proxy"

	"dokploy/jobs/netguard"
)

// guard checks every address a clone connects to. Until SetGuard is called
// it refuses only link-local and metadata addresses.
var guard atomic.Pointer[netguard.Guard]

// SetGuard makes every later clone refuse the control plane's own services
// as well. main calls it once at start with the configured addresses.
func SetGuard(g *netguard.Guard) { guard.Store(g) }

// guardedDial dials through the current guard, after DNS, so redirects and
// names resolving to blocked addresses are refused like literal IPs.
func guardedDial(ctx context.Context, network, addr string) (net.Conn, error) {
	return guard.Load().Dialer().DialContext(ctx, network, addr)
}

// guardDialerScheme is a pseudo proxy scheme: go-git's SSH transport cannot
// be given a dialer, but it dials through golang.org/x/net/proxy when
// ProxyOptions are set, and that package lets us register one.
const guardDialerScheme = "dokploy-guard"

type guardDialer struct{}

func (guardDialer) Dial(network, addr string) (net.Conn, error) {
	return guardedDial(context.Background(), network, addr)
}

func (guardDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return guardedDial(ctx, network, addr)
}

func init() {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = guardedDial
	tr.ResponseHeaderTimeout = 2 * time.Minute
	httpClient := githttp.NewClient(&http.Client{Transport: tr})
	client.InstallProtocol("http", httpClient)
	client.InstallProtocol("https", httpClient)
	proxy.RegisterDialerType(guardDialerScheme, func(*url.URL, proxy.Dialer) (proxy.Dialer, error) {
		return guardDialer{}, nil
	})
}

// sshProxy routes SSH clones through guardDialer.
var sshProxy = transport.ProxyOptions{URL: guardDialerScheme + "://guard"}

// pinGitDaemonURL resolves a git:// URL's host once, checks the address and
// returns the URL with the checked IP in place of the name: go-git's git://
// transport dials with net.Dial and takes no dialer.
func pinGitDaemonURL(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalidURL, redactError(err))
	}
	port := 9418
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("%w: invalid port %q", ErrInvalidURL, p)
		}
	}
	ip, err := guard.Load().Resolve(ctx, u.Hostname(), port)
	if err != nil {
		return "", err
	}
	u.Host = netip.AddrPortFrom(ip, uint16(port)).String()
	return u.String(), nil
}

// guardTransport makes the clone's connections pass the guard: HTTP(S)
// through the installed transport (nothing to do here), SSH through the
// guard dialer, git:// by pinning the checked address.
func guardTransport(ctx context.Context, opts *gogit.CloneOptions) error {
	ep, err := transport.NewEndpoint(opts.URL)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidURL, redactError(err))
	}
	switch ep.Protocol {
	case "ssh":
		opts.ProxyOptions = sshProxy
	case "git":
		pinned, err := pinGitDaemonURL(ctx, opts.URL)
		if err != nil {
			return err
		}
		opts.URL = pinned
	}
	return nil
}
