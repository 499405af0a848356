// Package notifytest runs the Mailpit SMTP test server for tests of any
// package that sends mail.
package notifytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Mailpit runs the Mailpit SMTP test server (make mailpit builds it) on
// free ports and returns its SMTP port and HTTP API base URL.
func Mailpit(t *testing.T, extra ...string) (smtpPort int, api string) {
	t.Helper()
	bin := os.Getenv("DOKPLOY_MAILPIT_BIN")
	if bin == "" {
		bin = "/var/cache/dokploy/bin/mailpit"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mailpit not found at %s (run make mailpit): %v", bin, err)
	}
	smtpPort, httpPort := FreePort(t), FreePort(t)
	cmd := exec.Command(bin, "--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort), "--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", t.TempDir()+"/mailpit.db", "--smtp-auth-accept-any", "--smtp-disable-rdns", "--quiet")
	if len(extra) == 0 {
		extra = []string{"--smtp-auth-allow-insecure"} // plain SMTP with AUTH (to localhost only)
	}
	cmd.Args = append(cmd.Args, extra...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	api = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(api + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", smtpPort)); err == nil {
				c.Close()
				return smtpPort, api
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort is a TCP port free on 127.0.0.1 a moment ago.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
