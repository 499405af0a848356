package testkit

import (
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RunGit runs the git CLI in dir with a fixed author and no user or
// system configuration, and returns its trimmed output.
func RunGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// GitRepo is a bare repository app.git on branch main, served over git's
// smart HTTP protocol, with a working copy that Commit pushes from.
type GitRepo struct {
	t    testing.TB
	Work string // the working copy
	Bare string // the served bare repository
	URL  string // its clone URL
}

// NewGitRepo creates an empty repository and serves it (see ServeGit).
func NewGitRepo(t testing.TB) *GitRepo {
	t.Helper()
	root := t.TempDir()
	r := &GitRepo{t: t, Work: filepath.Join(root, "work"), Bare: filepath.Join(root, "srv", "app.git")}
	RunGit(t, "", "init", "-q", "-b", "main", r.Work)
	RunGit(t, "", "init", "-q", "--bare", "-b", "main", r.Bare)
	RunGit(t, r.Bare, "config", "http.receivepack", "false")
	r.URL = ServeGit(t, filepath.Dir(r.Bare), nil) + "/app.git"
	return r
}

// Commit writes files (path relative to the working copy → content), commits
// everything in the working copy, force-pushes main and returns the sha.
func (r *GitRepo) Commit(message string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.Work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	RunGit(r.t, r.Work, "add", "-A")
	RunGit(r.t, r.Work, "commit", "-q", "-m", message)
	RunGit(r.t, r.Work, "push", "-q", "-f", r.Bare, "main")
	return RunGit(r.t, r.Work, "rev-parse", "HEAD")
}

// ServeGit serves the repositories under root over git's smart HTTP
// protocol (git http-backend as CGI) on 127.0.0.1 and returns the base URL.
// allow, when set, gates every request (basic auth tests). Without git the
// test skips, or fails under DOKPLOY_INTEGRATION=1.
func ServeGit(t testing.TB, root string, allow func(*http.Request) bool) string {
	t.Helper()
	backend := &cgi.Handler{
		Path:   RequireBinary(t, "git"),
		Args:   []string{"http-backend"},
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: io.Discard, // "Not a git repository" noise from 404 tests
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow != nil && !allow(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
