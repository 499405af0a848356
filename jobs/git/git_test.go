package git

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokploy/e2e/testkit"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

func TestValidateGitURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"https", "https://github.com/owner/repo.git", true},
		{"https with token", "https://oauth2:tok@gitlab.com/o/r.git", true},
		{"http with port", "http://127.0.0.1:3000/o/r", true},
		{"ssh", "ssh://git@github.com/owner/repo.git", true},
		{"ssh with port", "ssh://git@host:2222/owner/repo.git", true},
		{"git protocol", "git://example.com/repo.git", true},
		{"scp-like", "git@github.com:owner/repo.git", true},
		{"scp-like without user", "github.com:owner/repo.git", true},
		{"empty", "", false},
		{"upload-pack option", "--upload-pack=x", false},
		{"ssh option", "-oProxyCommand=touch /tmp/pwned", false},
		{"ext helper", "ext::sh -c x", false},
		{"ext helper no space", "ext::sh", false},
		{"fd helper", "fd::3", false},
		{"file scheme", "file:///etc", false},
		{"local path", "/srv/repo.git", false},
		{"relative path", "../repo", false},
		{"unknown scheme", "ftp://example.com/repo.git", false},
		{"space", "https://github.com/o/r .git", false},
		{"newline", "https://github.com/o/r\n.git", false},
		{"tab", "https://github.com/o/\tr", false},
		{"control char", "https://github.com/o/r\x00", false},
		{"host starts with dash", "ssh://-oProxyCommand=x/repo", false},
		{"user starts with dash", "ssh://-oProxyCommand=x@host/repo", false},
		{"scp-like path option", "git@host:-repo", false},
		{"missing path", "https://github.com/", false},
		{"missing host", "https:///owner/repo", false},
		{"encoded CRLF in path", "git://127.0.0.1:6379/x%0D%0AFLUSHALL%0D%0A", false},
		{"encoded LF in path", "https://github.com/o/r%0A.git", false},
		{"encoded NUL in user", "https://a%00b:tok@github.com/o/r.git", false},
		{"encoded CR in query", "https://github.com/o/r.git?x=%0D", false},
		{"encoded space in path", "https://github.com/o/r%20x.git", false},
		{"encoded slash is fine", "https://github.com/o/r%2Fx.git", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateURL(tt.url)
			if tt.ok && err != nil {
				t.Fatalf("ValidateURL(%q) = %v, want nil", tt.url, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("ValidateURL(%q) = %v, want ErrInvalidURL", tt.url, err)
			}
		})
	}
}

func TestValidateBranch(t *testing.T) {
	tests := []struct {
		branch string
		ok     bool
	}{
		{"main", true},
		{"feature/login-v2", true},
		{"release-1.2.3", true},
		{"v1@2", true},
		{"", false},
		{"-main", false},
		{"--upload-pack=x", false},
		{"a..b", false},
		{"a b", false},
		{"a~1", false},
		{"a^", false},
		{"a:b", false},
		{"a?", false},
		{"a*", false},
		{"a[b", false},
		{`a\b`, false},
		{"a\x01b", false},
		{"a\x7fb", false},
		{"main.lock", false},
		{"feat/x.lock/y", false},
		{"main/", false},
		{"/main", false},
		{"a//b", false},
		{".hidden", false},
		{"feat/.hidden", false},
		{"main.", false},
		{"@", false},
		{"a@{1}", false},
		{strings.Repeat("a", 256), false},
	}
	for _, tt := range tests {
		t.Run(tt.branch, func(t *testing.T) {
			err := ValidateBranch(tt.branch)
			if tt.ok && err != nil {
				t.Fatalf("ValidateBranch(%q) = %v, want nil", tt.branch, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidBranch) {
				t.Fatalf("ValidateBranch(%q) = %v, want ErrInvalidBranch", tt.branch, err)
			}
		})
	}
}

func TestGitGenerateDeployKey_ParsesAsSSHKeyPair(t *testing.T) {
	priv, authorized, err := GenerateDeployKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(priv), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Fatalf("private key is not OpenSSH PEM: %.40q", priv)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatalf("parse private key: %v", err)
	}
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(authorized))
	if err != nil {
		t.Fatalf("parse authorized key %q: %v", authorized, err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 || comment != deployKeyComment {
		t.Fatalf("got type %s comment %q", pub.Type(), comment)
	}
	if string(pub.Marshal()) != string(signer.PublicKey().Marshal()) {
		t.Fatal("public key does not match private key")
	}
}

func TestGitClone_RecordsHeadCommitShallow(t *testing.T) {
	fx := newGitFixture(t)
	url := testkit.ServeGit(t, fx.root, nil)
	dir := filepath.Join(t.TempDir(), "code")
	logs := &testkit.LogRecorder{}

	commit, err := Clone(context.Background(), Source{URL: url + "/app.git", Branch: "main"}, dir, logs.Log)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if commit.SHA != fx.mainSHA {
		t.Errorf("SHA = %s, want %s", commit.SHA, fx.mainSHA)
	}
	if commit.Message != "second commit\n\nwith a body" {
		t.Errorf("Message = %q", commit.Message)
	}
	if commit.Author != "Test Author <author@example.com>" {
		t.Errorf("Author = %q", commit.Author)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "README.md")); err != nil || string(b) != "v2\n" {
		t.Errorf("README.md = %q, %v", b, err)
	}
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := countCommits(t, repo); n != 1 {
		t.Errorf("clone has %d commits, want 1 (depth 1)", n)
	}
	if !logs.Contains("Cloning") {
		t.Errorf("no clone progress logged: %q", logs.All())
	}
}

func TestGitClone_OtherBranch(t *testing.T) {
	fx := newGitFixture(t)
	url := testkit.ServeGit(t, fx.root, nil)
	commit, err := Clone(context.Background(), Source{URL: url + "/app.git", Branch: "feature/x"}, t.TempDir()+"/c", nil)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	if commit.SHA != fx.featureSHA {
		t.Errorf("SHA = %s, want %s", commit.SHA, fx.featureSHA)
	}
}

func TestGitClone_UnknownBranchIsClearError(t *testing.T) {
	fx := newGitFixture(t)
	url := testkit.ServeGit(t, fx.root, nil)
	_, err := Clone(context.Background(), Source{URL: url + "/app.git", Branch: "nope"}, t.TempDir()+"/c", nil)
	if !errors.Is(err, ErrBranchNotFound) || !strings.Contains(err.Error(), `branch "nope" not found`) {
		t.Fatalf("err = %v, want branch not found", err)
	}
}

func TestGitClone_MissingRepoIsClearError(t *testing.T) {
	fx := newGitFixture(t)
	url := testkit.ServeGit(t, fx.root, nil)
	_, err := Clone(context.Background(), Source{URL: url + "/missing.git", Branch: "main"}, t.TempDir()+"/c", nil)
	if !errors.Is(err, ErrRepoNotFound) || !strings.Contains(err.Error(), "repository not found or not reachable") {
		t.Fatalf("err = %v, want repository not found", err)
	}
}

func TestGitClone_UnreachableHost(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := Clone(context.Background(), Source{URL: url + "/app.git", Branch: "main"}, t.TempDir()+"/c", nil)
	if !errors.Is(err, ErrRepoNotFound) {
		t.Fatalf("err = %v, want ErrRepoNotFound", err)
	}
}

func TestGitClone_TokenAuth(t *testing.T) {
	fx := newGitFixture(t)
	const token = "s3cret-token-value"
	url := testkit.ServeGit(t, fx.root, func(r *http.Request) bool {
		user, pass, ok := r.BasicAuth()
		return ok && user == DefaultTokenUsername && pass == token
	})

	logs := &testkit.LogRecorder{}
	if _, err := Clone(context.Background(), Source{URL: url + "/app.git", Branch: "main", Token: token}, t.TempDir()+"/ok", logs.Log); err != nil {
		t.Fatalf("clone with token: %v", err)
	}
	_, err := Clone(context.Background(), Source{URL: url + "/app.git", Branch: "main", Token: "wrong"}, t.TempDir()+"/bad", logs.Log)
	if !errors.Is(err, ErrAuth) || !strings.HasPrefix(err.Error(), "authentication failed") {
		t.Fatalf("wrong token: err = %v, want authentication failed", err)
	}
	// A token embedded in the URL must not leak through logs or errors either.
	_, err = Clone(context.Background(), Source{URL: strings.Replace(url, "://", "://oauth2:"+token+"-x@", 1) + "/app.git", Branch: "main"}, t.TempDir()+"/url", logs.Log)
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("embedded wrong token: err = %v", err)
	}
	if logs.Contains(token) {
		t.Fatalf("token leaked into logs: %q", logs.All())
	}
}

func TestGitClone_SSHWithoutKeyIsAuthError(t *testing.T) {
	_, err := Clone(context.Background(), Source{URL: "git@127.0.0.1:o/r.git", Branch: "main"}, t.TempDir()+"/c", nil)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
}

func TestGitClone_RejectsBadInput(t *testing.T) {
	dir := t.TempDir() + "/c"
	if _, err := Clone(context.Background(), Source{URL: "--upload-pack=touch /tmp/x", Branch: "main"}, dir, nil); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("bad URL: err = %v", err)
	}
	if _, err := Clone(context.Background(), Source{URL: "https://example.com/o/r.git", Branch: "-x"}, dir, nil); !errors.Is(err, ErrInvalidBranch) {
		t.Errorf("bad branch: err = %v", err)
	}
}

func TestGitClone_CancelAborts(t *testing.T) {
	// A server that never answers: the clone can only end through ctx.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := Clone(ctx, Source{URL: srv.URL + "/app.git", Branch: "main"}, t.TempDir()+"/c", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %s", d)
	}
}

// gitFixture is a repository with two commits on main and one on feature/x,
// served from root/app.git.
type gitFixture struct {
	root       string
	mainSHA    string
	featureSHA string
}

func newGitFixture(t *testing.T) gitFixture {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "app.git")
	repo, err := gogit.PlainInitWithOptions(dir, &gogit.PlainInitOptions{
		InitOptions: gogit.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	commit := func(content, msg string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add("README.md"); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "Test Author", Email: "author@example.com", When: time.Now()}
		h, err := wt.Commit(msg, &gogit.CommitOptions{Author: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	commit("v1\n", "first commit")
	mainSHA := commit("v2\n", "second commit\n\nwith a body\n")
	if err := wt.Checkout(&gogit.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("feature/x"), Create: true}); err != nil {
		t.Fatal(err)
	}
	featureSHA := commit("feature\n", "feature commit")
	if err := wt.Checkout(&gogit.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("main")}); err != nil {
		t.Fatal(err)
	}
	return gitFixture{root: root, mainSHA: mainSHA, featureSHA: featureSHA}
}

func countCommits(t *testing.T, repo *gogit.Repository) int {
	t.Helper()
	iter, err := repo.Log(&gogit.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = iter.ForEach(func(*object.Commit) error { n++; return nil })
	return n
}
