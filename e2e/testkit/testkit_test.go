package testkit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestFreePortAndRepoRoot(t *testing.T) {
	if p := FreePort(t); p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	if _, err := os.Stat(filepath.Join(RepoRoot(t), "e2e", "testkit", "testkit.go")); err != nil {
		t.Fatalf("RepoRoot: %v", err)
	}
}

func TestGitRepoServesCommits(t *testing.T) {
	r := NewGitRepo(t)
	sha := r.Commit("first", map[string]string{"Dockerfile": "FROM scratch\n", "dir/a.txt": "a"})
	clone := filepath.Join(t.TempDir(), "clone")
	RunGit(t, "", "clone", "-q", r.URL, clone)
	if got := RunGit(t, clone, "rev-parse", "HEAD"); got != sha {
		t.Fatalf("cloned HEAD %s, want %s", got, sha)
	}
	if b, err := os.ReadFile(filepath.Join(clone, "dir", "a.txt")); err != nil || string(b) != "a" {
		t.Fatalf("dir/a.txt = %q, %v", b, err)
	}
}

func TestServeGitAllow(t *testing.T) {
	url := ServeGit(t, t.TempDir(), func(*http.Request) bool { return false })
	res, err := http.Get(url + "/app.git/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("status %d, WWW-Authenticate %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

// fakeLogin is a /login that wants its form's CSRF token back as _csrf.
func fakeLogin(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `<form><input type="hidden" name="_csrf" value="tok-123"></form>`)
			return
		}
		if r.FormValue("_csrf") != "tok-123" || r.FormValue("password") != "pw" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "dokploy_session", Value: "s", Path: "/"})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLogin(t *testing.T) {
	srv := fakeLogin(t)
	c := Login(t, srv.URL, "a@example.com", "pw")
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	found := false
	for _, ck := range c.Jar.Cookies(req.URL) {
		found = found || ck.Name == "dokploy_session"
	}
	if !found {
		t.Fatal("no session cookie in the client's jar")
	}
}

func TestLogRecorder(t *testing.T) {
	var r LogRecorder
	r.Log("one")
	r.Log("two")
	if r.All() != "one\ntwo" || !r.Contains("two") || r.Contains("three") {
		t.Fatalf("All = %q", r.All())
	}
}
