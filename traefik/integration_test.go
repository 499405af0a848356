package traefik

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestIntegration_Traefik runs a real Traefik binary (DOKPLOY_TRAEFIK_BIN,
// e.g. /var/cache/dokploy/traefik-v3.6.12) against files written by Dir.
// Every listener and every request stays on 127.0.0.1.
func TestIntegration_Traefik(t *testing.T) {
	bin := os.Getenv("DOKPLOY_TRAEFIK_BIN")
	if bin == "" {
		// Under `make test` (DOKPLOY_INTEGRATION=1) a missing Traefik is a
		// failure, not a reason to skip.
		if os.Getenv("DOKPLOY_INTEGRATION") == "1" {
			t.Fatal("DOKPLOY_TRAEFIK_BIN is not set: run make test, which builds Traefik (scripts/build-traefik.sh)")
		}
		t.Skip("DOKPLOY_TRAEFIK_BIN is not set")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("DOKPLOY_TRAEFIK_BIN=%s: %v", bin, err)
	}
	tr := startTraefik(t, bin)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, hasAuth := r.Header["Authorization"]
		fmt.Fprintf(w, "host=%s path=%s auth=%v", r.Host, r.URL.Path, hasAuth)
	}))
	defer backend.Close()

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	alpha := App{Name: "alpha", Upstreams: []string{backend.URL}, Domains: []Domain{
		{ID: 1, Host: "alpha.test", Enabled: true},
		{ID: 2, Host: "alpha.test", Path: "/api", StripPath: true, Enabled: true},
		{ID: 3, Host: "secure.test", HTTPS: true, Certificate: CertNone, Enabled: true},
	}}
	beta := App{Name: "beta", Upstreams: []string{backend.URL}, Domains: []Domain{{ID: 4, Host: "beta.test", Enabled: true}},
		BasicAuth: []BasicAuthUser{{Username: "admin", PasswordHash: string(hash)}}}
	gamma := App{Name: "gamma", Upstreams: []string{backend.URL}, Domains: []Domain{{ID: 5, Host: "gamma.test", Enabled: true}},
		Redirects: []Redirect{{ID: 1, Regex: `^http://gamma\.test/old/(.*)`, Replacement: "http://gamma.test/new/${1}"}}}

	rep, err := tr.dir.Reconcile([]App{alpha, beta, gamma})
	if err != nil || len(rep.Written) != 3 {
		t.Fatalf("Reconcile = %+v, %v", rep, err)
	}

	t.Run("plain domain", func(t *testing.T) {
		tr.waitFor(t, "alpha.test", "/", nil, 200, "host=alpha.test path=/ ")
	})
	t.Run("strip path prefix", func(t *testing.T) {
		tr.waitFor(t, "alpha.test", "/api/users", nil, 200, "path=/users ")
	})
	t.Run("basic auth", func(t *testing.T) {
		tr.waitFor(t, "beta.test", "/", nil, 401, "")
		tr.waitFor(t, "beta.test", "/", func(r *http.Request) { r.SetBasicAuth("admin", "wrong") }, 401, "")
		// removeHeader: the backend must not see the credentials.
		tr.waitFor(t, "beta.test", "/", func(r *http.Request) { r.SetBasicAuth("admin", "s3cret") }, 200, "auth=false")
	})
	t.Run("regex redirect", func(t *testing.T) {
		resp := tr.waitFor(t, "gamma.test", "/old/page", nil, 0, "")
		if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "http://gamma.test/new/page" {
			t.Fatalf("got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("web redirects to https", func(t *testing.T) {
		resp := tr.waitFor(t, "secure.test", "/x", nil, 0, "")
		if (resp.StatusCode != 301 && resp.StatusCode != 308) || !strings.HasPrefix(resp.Header.Get("Location"), "https://secure.test") {
			t.Fatalf("got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		body := tr.httpsGet(t, "secure.test", "/x")
		if !strings.Contains(body, "host=secure.test path=/x") {
			t.Fatalf("websecure body = %q", body)
		}
	})
	t.Run("router status enabled", func(t *testing.T) {
		var names []string
		for _, app := range []App{alpha, beta, gamma} {
			n, err := RouterNames(app)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, n...)
		}
		states, err := tr.client.RouterState(context.Background(), names)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if states[n] != StateEnabled {
				t.Errorf("router %s: %s\n%s", n, states[n], tr.log())
			}
		}
	})
	t.Run("API needs its password", func(t *testing.T) {
		// The API entry point is reachable by anything on Traefik's
		// networks; without the password it gives nothing away.
		for _, c := range []*Client{
			{BaseURL: tr.client.BaseURL, HTTP: tr.client.HTTP},
			{BaseURL: tr.client.BaseURL, HTTP: tr.client.HTTP, Username: APIUser, Password: "wrong-password-0123456789"},
		} {
			_, err := c.Routers(context.Background())
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("routers with %q: err = %v, want 401", c.Password, err)
			}
		}
		if err := (&Client{BaseURL: tr.client.BaseURL, HTTP: tr.client.HTTP}).Ping(context.Background()); err != nil {
			t.Errorf("ping without password: %v", err)
		}
	})
	t.Run("bad app never affects others", func(t *testing.T) {
		bad := alpha
		bad.Domains = []Domain{{ID: 1, Host: "alpha.test", Path: "/`) || PathPrefix(`/", Enabled: true}}
		if err := tr.dir.Apply(bad); err == nil {
			t.Fatal("Apply accepted an invalid app")
		}
		if err := tr.dir.Write("delta", []byte(Marker("delta")+"\nhttp: [unclosed\n")); err == nil {
			t.Fatal("Write accepted invalid YAML")
		}
		if _, err := os.Stat(filepath.Join(tr.dir.Path(), "delta.yml")); !os.IsNotExist(err) {
			t.Fatal("invalid file reached the directory")
		}
		// The provider is not frozen: a new app still goes live, alpha still serves.
		eps := App{Name: "epsilon", Upstreams: []string{backend.URL}, Domains: []Domain{{ID: 6, Host: "eps.test", Enabled: true}}}
		if err := tr.dir.Apply(eps); err != nil {
			t.Fatal(err)
		}
		tr.waitFor(t, "eps.test", "/", nil, 200, "host=eps.test")
		tr.waitFor(t, "alpha.test", "/", nil, 200, "host=alpha.test path=/ ")
	})
	t.Run("removal gives 404", func(t *testing.T) {
		if err := tr.dir.Remove("beta"); err != nil {
			t.Fatal(err)
		}
		tr.waitFor(t, "beta.test", "/", nil, 404, "")
		states, err := tr.client.RouterState(context.Background(), []string{"beta-d4-web"})
		if err != nil || states["beta-d4-web"] != StateMissing {
			t.Fatalf("state = %v, %v; want missing", states, err)
		}
		tr.waitFor(t, "gamma.test", "/other", nil, 200, "path=/other")
	})
	// Traefik reports YAML problems only in its log.
	for _, line := range strings.Split(tr.log(), "\n") {
		if strings.Contains(line, " ERR ") && strings.Contains(line, "providerName=file") {
			t.Errorf("file provider error: %s", line)
		}
	}
}

type traefikProc struct {
	dir                 *Dir
	client              *Client
	webAddr, secureAddr string
	logPath             string
	http                *http.Client
}

func startTraefik(t *testing.T, bin string) *traefikProc {
	t.Helper()
	tmp := t.TempDir()
	dyn := filepath.Join(tmp, "dynamic")
	if err := os.Mkdir(dyn, 0o755); err != nil {
		t.Fatal(err)
	}
	web, secure, api := freeAddr(t), freeAddr(t), freeAddr(t)
	static, err := StaticConfig(StaticOptions{
		WebAddress: web, WebSecureAddress: secure, APIAddress: api,
		DynamicDir: dyn, ACMEStorage: filepath.Join(tmp, "acme.json"),
		// Never contact a real CA from a test: nothing may leave 127.0.0.1.
		ACMECAServer: "https://127.0.0.1:1/directory",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(tmp, "traefik.yml")
	if err := os.WriteFile(cfgPath, static, 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(tmp, "traefik.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--configFile="+cfgPath)
	cmd.Env = []string{"HOME=" + tmp, "PATH=/usr/bin:/bin"} // no proxy variables
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	noProxy := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	const apiPassword = "integration-test-api-password"
	router, err := RenderAPIRouter(apiPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &traefikProc{
		dir: NewDir(dyn),
		client: &Client{BaseURL: "http://" + api, HTTP: &http.Client{Transport: noProxy, Timeout: 2 * time.Second},
			Username: APIUser, Password: apiPassword},
		webAddr: web, secureAddr: secure, logPath: logPath,
		http: &http.Client{
			Transport:     noProxy,
			Timeout:       2 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if err := p.dir.SetInternal(APIRouterFile, router); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for p.client.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("traefik did not answer /ping within 20s\n%s", p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *traefikProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// waitFor polls http://<web>/<path> with the Host header set until the
// status (when non-zero) and body substring match, for at most 5s.
func (p *traefikProc) waitFor(t *testing.T, host, path string, edit func(*http.Request), status int, body string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var last string
	for {
		req, err := http.NewRequest(http.MethodGet, "http://"+p.webAddr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		if edit != nil {
			edit(req)
		}
		resp, err := p.http.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
			if (status == 0 && resp.StatusCode != 404) || (resp.StatusCode == status && strings.Contains(string(b), body)) {
				return resp
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%s: want %d %q, last got %s\n%s", host, path, status, body, last, p.log())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// httpsGet fetches https://host/path through the websecure entry point,
// connecting to 127.0.0.1 with SNI set to host.
func (p *traefikProc) httpsGet(t *testing.T, host, path string) string {
	t.Helper()
	tr := &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: host}, // Traefik's default self-signed cert
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, p.secureAddr)
		},
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	resp, err := c.Get("https://" + host + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
