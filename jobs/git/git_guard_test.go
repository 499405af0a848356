package git

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"dokploy/e2e/testkit"
	"dokploy/jobs/netguard"
)

// guardedService stands in for the control plane's Redis: a TCP listener
// on all addresses that counts the connections it accepts. The guard is
// set for the test and restored afterwards.
func guardedService(t *testing.T) (port int, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port = ln.Addr().(*net.TCPAddr).Port
	SetGuard(netguard.New(netguard.Service{Name: "the control plane's Redis", Host: "127.0.0.1", Port: port}))
	t.Cleanup(func() { SetGuard(nil) })
	return port, accepted
}

func TestGitClone_RefusesControlPlaneServicesOnAnyAddress(t *testing.T) {
	port, accepted := guardedService(t)
	p := strconv.Itoa(port)
	fx := newGitFixture(t)
	good := testkit.ServeGit(t, fx.root, nil)
	// A git host the user controls that redirects the clone to Redis.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+p+r.URL.Path, http.StatusFound)
	}))
	defer redirect.Close()

	urls := []string{
		"http://127.0.0.1:" + p + "/x.git",
		"http://localhost:" + p + "/x.git",
		"https://localhost:" + p + "/x.git",
		"http://" + net.JoinHostPort(firstLocalAddr(t), p) + "/x.git",
		"http://[::1]:" + p + "/x.git",
		"ssh://git@localhost:" + p + "/x.git",
		"git://127.0.0.1:" + p + "/x.git",
		"git://localhost:" + p + "/x.git",
		redirect.URL + "/app.git",
		"http://169.254.169.254/latest/meta-data.git",
	}
	for _, u := range urls {
		src := Source{URL: u, Branch: "main"}
		if strings.HasPrefix(u, "ssh://") {
			key, _, err := GenerateDeployKey()
			if err != nil {
				t.Fatal(err)
			}
			src.SSHPrivateKey = key
		}
		_, err := Clone(context.Background(), src, t.TempDir()+"/c", nil)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("clone %s: err = %v, want ErrRefused", u, err)
			continue
		}
		if strings.Contains(u, p) && !strings.Contains(err.Error(), "the control plane's Redis") {
			t.Errorf("clone %s: message %q does not name what was refused", u, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the guarded service accepted %d connections", n)
	}
	// Other local git servers stay reachable with the guard on.
	if _, err := Clone(context.Background(), Source{URL: good + "/app.git", Branch: "main"}, t.TempDir()+"/c", nil); err != nil {
		t.Errorf("clone from an allowed local server: %v", err)
	}
}

func firstLocalAddr(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Fatal("no non-loopback IPv4 interface address")
	return ""
}
