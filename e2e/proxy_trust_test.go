package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
	"dokploy/jobs/docker"
)

// TestOwnTraefikIsATrustedProxy runs the product with its own Traefik and
// the dashboard on a domain, and signs in through Traefik with a forged
// X-Forwarded-For. The session records the address Traefik saw the client
// come from: neither Traefik's own address (which every client would share,
// so one attacker could lock everyone out) nor the forged one.
func TestOwnTraefikIsATrustedProxy(t *testing.T) {
	dbtest.Integration(t)
	testkit.RequireSwarm(t)
	routeTraefikImage(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	c.cli(t, "", "migrate", "up")
	host := "dash-" + dbtest.RandomSuffix() + ".test"
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(c.URL, "http://"))
	if _, err := c.db.Exec(`INSERT INTO domains (service_id, host, port) VALUES (NULL, $1, $2)`, host, port); err != nil {
		t.Fatal(err)
	}
	httpPort, httpsPort, apiPort := testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", docker.TraefikContainer).Run() })
	c.serve(t, "serve",
		"DOKPLOY_ADDR=:"+port, // Traefik reaches the dashboard from its container
		"DOKPLOY_TRAEFIK=on", "DOKPLOY_TRAEFIK_IMAGE="+docker.TraefikLocalImage,
		fmt.Sprintf("DOKPLOY_TRAEFIK_HTTP_PORT=%d", httpPort), fmt.Sprintf("DOKPLOY_TRAEFIK_HTTPS_PORT=%d", httpsPort),
		fmt.Sprintf("DOKPLOY_TRAEFIK_API_URL=http://127.0.0.1:%d", apiPort))
	c.login(t)

	// A browser whose every connection goes to Traefik's HTTP port.
	jar, _ := cookiejar.New(nil)
	viaTraefik := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
		}}}
	base := "http://" + host
	var page string
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := viaTraefik.Get(base + "/login")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				page = string(body)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard does not answer through Traefik on %s: %v", host, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("login page through Traefik shows no CSRF token")
	}
	const forged = "203.0.113.66"
	form := url.Values{"_csrf": {m[1]}, "email": {resAdminEmail}, "password": {resAdminPassword}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", forged)
	res, err := viaTraefik.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in through Traefik: %d", res.StatusCode)
	}

	var ip string
	if err := c.db.QueryRow(`SELECT ip FROM sessions ORDER BY created_at DESC LIMIT 1`).Scan(&ip); err != nil {
		t.Fatal(err)
	}
	own := traefikAddresses(t)
	if net.ParseIP(ip) == nil || ip == forged || own[ip] {
		t.Fatalf("session recorded from %q; want the client address Traefik saw, not the forged %s nor Traefik's own %v", ip, forged, own)
	}
	t.Logf("session through Traefik recorded from %s (Traefik is %v)", ip, own)
}

// traefikAddresses lists the product Traefik container's IPs, including
// its docker_gwbridge endpoint, which docker inspect does not show.
func traefikAddresses(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "--format", "{{json .}}", docker.TraefikContainer).Output()
	if err != nil {
		t.Fatal(err)
	}
	var ctr struct {
		ID              string
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
		}
	}
	if err := json.Unmarshal(out, &ctr); err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{}
	for _, n := range ctr.NetworkSettings.Networks {
		addrs[n.IPAddress] = true
	}
	out, err = exec.Command("docker", "network", "inspect", "--format", "{{json .Containers}}", "docker_gwbridge").Output()
	if err != nil {
		t.Fatal(err)
	}
	var gw map[string]struct{ IPv4Address string }
	if err := json.Unmarshal(out, &gw); err != nil {
		t.Fatal(err)
	}
	if ep, ok := gw[ctr.ID]; ok {
		addrs[strings.Split(ep.IPv4Address, "/")[0]] = true
	}
	return addrs
}
