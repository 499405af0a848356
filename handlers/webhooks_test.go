package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/db/dbtest"
	"dokploy/e2e/testkit"
)

// webhookFixture is one app with its webhook on a real database.
type webhookFixture struct {
	*testApp
	app  *db.App
	hook *db.Webhook
}

// closedGitURL points at a port nothing listens on, so deployments queued by
// these tests fail fast instead of cloning anything.
func closedGitURL(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d/acme/shop.git", testkit.FreePort(t))
}

func newWebhookFixture(t *testing.T, mutate func(*db.App)) *webhookFixture {
	t.Helper()
	ta := newTestApp(t)
	p := ta.createProject("shop")
	a := &db.App{EnvironmentID: p.Environments[0].ID, Name: "Shop web", AppName: "shop-web-" + dbtest.RandomSuffix(),
		SourceType: db.SourceGit, GitURL: closedGitURL(t), GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile",
		Port: 3000, Replicas: 1}
	if mutate != nil {
		mutate(a)
	}
	if err := ta.store.CreateApp(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	hook, err := ta.store.AppWebhook(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return &webhookFixture{testApp: ta, app: a, hook: hook}
}

// post sends a delivery the way a provider does: raw body, provider headers,
// no cookies and no CSRF token.
func (f *webhookFixture) post(path string, body []byte, headers ...string) (*response, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res := f.browser().do(req)
	var out map[string]any
	_ = json.Unmarshal([]byte(res.Body), &out)
	return res, out
}

func (f *webhookFixture) deliver(body []byte, headers ...string) (*response, map[string]any) {
	f.t.Helper()
	return f.post("/api/deploy/"+f.hook.Token, body, headers...)
}

func (f *webhookFixture) setWebhook(in db.WebhookSettings) {
	f.t.Helper()
	if in.DeployOn == "" {
		in.DeployOn = db.DeployOnPush
	}
	if err := f.store.UpdateWebhookSettings(context.Background(), f.app.ID, in); err != nil {
		f.t.Fatal(err)
	}
}

func (f *webhookFixture) setSecret(secret string) {
	f.t.Helper()
	if err := f.store.SetWebhookSecret(context.Background(), f.app.ID, secret); err != nil {
		f.t.Fatal(err)
	}
	f.hook.Secret = secret
}

func (f *webhookFixture) deliveries() []db.Delivery {
	f.t.Helper()
	out, err := f.store.Deliveries(context.Background(), f.app.ID, 1000, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// lastDelivery returns the newest delivery and checks the total count.
func (f *webhookFixture) lastDelivery(wantTotal int) db.Delivery {
	f.t.Helper()
	all := f.deliveries()
	if len(all) != wantTotal {
		f.t.Fatalf("want %d deliveries recorded, got %d: %+v", wantTotal, len(all), all)
	}
	return all[0]
}

func (f *webhookFixture) deploymentCount() int {
	f.t.Helper()
	var n int
	if err := f.store.DB().Get(&n, `SELECT count(*) FROM deployments WHERE service_id = $1`, f.app.ID); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// wantOutcome checks status, the JSON outcome and the recorded delivery.
func (f *webhookFixture) wantOutcome(res *response, body map[string]any, status int, outcome, reasonPart string, total int) db.Delivery {
	f.t.Helper()
	if res.Code != status {
		f.t.Fatalf("want %d, got %d: %s", status, res.Code, res.Body)
	}
	d := f.lastDelivery(total)
	if d.Outcome != outcome {
		f.t.Fatalf("delivery outcome: want %s, got %s (%s)", outcome, d.Outcome, d.Reason)
	}
	if !strings.Contains(d.Reason, reasonPart) {
		f.t.Errorf("delivery reason %q does not mention %q", d.Reason, reasonPart)
	}
	switch outcome {
	case db.DeliveryRejected:
		if msg, _ := body["error"].(string); msg == "" {
			f.t.Errorf("rejected delivery without JSON error: %s", res.Body)
		}
	default:
		if body["outcome"] != outcome {
			f.t.Errorf("JSON outcome: want %s in %s", outcome, res.Body)
		}
		if outcome == db.DeliveryIgnored && !strings.Contains(fmt.Sprint(body["reason"]), reasonPart) {
			f.t.Errorf("ignored answer does not explain %q: %s", reasonPart, res.Body)
		}
	}
	return d
}

// wantDeployed checks a 202 answer queued a webhook deployment.
func (f *webhookFixture) wantDeployed(res *response, body map[string]any, total int, commit string) *db.Deployment {
	f.t.Helper()
	d := f.wantOutcome(res, body, http.StatusAccepted, db.DeliveryDeployed, "", total)
	id, ok := body["deployment_id"].(float64)
	if !ok || d.DeploymentID == nil || int64(id) != *d.DeploymentID {
		f.t.Fatalf("deployment id: answer %s, delivery %v", res.Body, d.DeploymentID)
	}
	dep, err := f.store.Deployment(context.Background(), int64(id))
	if err != nil {
		f.t.Fatal(err)
	}
	if dep.ServiceID != f.app.ID || dep.Trigger != "webhook" || dep.TriggeredBy != d.Provider {
		f.t.Errorf("deployment: %+v", dep)
	}
	if commit != "" && d.CommitSHA != commit {
		f.t.Errorf("delivery commit: want %s, got %s", commit, d.CommitSHA)
	}
	return dep
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sha builds a 40-hex commit id from a number.
func sha(n int) string { return fmt.Sprintf("%040x", n) }

// githubCommit is a commit as GitHub and Gitea list it in push events.
func githubCommit(id, message string, added, modified, removed []string) map[string]any {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return map[string]any{
		"id": id, "tree_id": sha(999), "distinct": true, "message": message, "timestamp": "2026-01-02T15:04:05Z",
		"url":       "https://github.com/acme/shop/commit/" + id,
		"author":    map[string]any{"name": "Jane Dev", "email": "jane@example.com", "username": "jane"},
		"committer": map[string]any{"name": "Jane Dev", "email": "jane@example.com", "username": "jane"},
		"added":     nz(added), "removed": nz(removed), "modified": nz(modified),
	}
}

// githubPush is GitHub's documented push event payload (abridged
// repository object, every field the webhook reads).
func githubPush(t *testing.T, ref, message string, modified ...string) []byte {
	t.Helper()
	head := githubCommit(sha(2), message, nil, modified, nil)
	var commits []any
	if !strings.HasPrefix(ref, "refs/tags/") {
		commits = []any{githubCommit(sha(1), "earlier work", []string{"README.md"}, nil, nil), head}
	} else {
		commits = []any{}
	}
	return mustJSON(t, map[string]any{
		"ref": ref, "before": sha(0x0a), "after": sha(2), "created": false, "deleted": false, "forced": false,
		"base_ref": nil, "compare": "https://github.com/acme/shop/compare/000000000a...2",
		"commits": commits, "head_commit": head,
		"repository": map[string]any{"id": 35129377, "name": "shop", "full_name": "acme/shop", "private": false,
			"default_branch": "main", "master_branch": "main", "clone_url": "https://github.com/acme/shop.git"},
		"pusher": map[string]any{"name": "jane", "email": "jane@example.com"},
		"sender": map[string]any{"login": "jane", "id": 6752317, "type": "User"},
	})
}

// githubPing is what GitHub sends when a webhook is created.
func githubPing(t *testing.T) []byte {
	t.Helper()
	return mustJSON(t, map[string]any{
		"zen": "Keep it logically awesome.", "hook_id": 109948940,
		"hook": map[string]any{"type": "Repository", "id": 109948940, "name": "web", "active": true, "events": []string{"push"},
			"config": map[string]any{"content_type": "json", "insecure_ssl": "0", "url": "https://dokploy.example.com/api/deploy/x"}},
		"repository": map[string]any{"id": 35129377, "name": "shop", "full_name": "acme/shop"},
		"sender":     map[string]any{"login": "jane", "id": 6752317},
	})
}

func githubHeaders(event, secret string, body []byte) []string {
	// Every delivery has its own id, as GitHub's do (retries repeat it).
	h := []string{"X-GitHub-Event", event, "X-GitHub-Delivery", db.RandomToken(),
		"User-Agent", "GitHub-Hookshot/044aadd"}
	if secret != "" {
		h = append(h, "X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
	}
	return h
}

func TestWebhook_GitHubPushPingAndSignatures(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	secret := f.hook.Secret
	if secret == "" {
		t.Fatal("a new app's webhook must have a random secret by default")
	}

	ping := githubPing(t)
	res, body := f.deliver(ping, githubHeaders("ping", secret, ping)...)
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "ping", 1)
	testkit.MustContain(t, res.Body, "pong")

	push := githubPush(t, "refs/heads/main", "Fix checkout rounding", "src/cart.js")
	res, body = f.deliver(push, githubHeaders("push", secret, push)...)
	dep := f.wantDeployed(res, body, 2, sha(2))
	if dep.CommitSHA != sha(2) || dep.CommitMessage != "Fix checkout rounding" {
		t.Errorf("queued deployment should show the pushed commit: %q %q", dep.CommitSHA, dep.CommitMessage)
	}
	if d := f.deliveries()[0]; d.Provider != "github" || d.Event != "push" || d.Ref != "refs/heads/main" {
		t.Errorf("delivery: %+v", d)
	}

	// A signature made with another secret, a body changed after signing,
	// a missing or malformed header: 401, recorded, nothing queued.
	before := f.deploymentCount()
	tampered := bytes.Replace(push, []byte("Fix checkout"), []byte("Evil checkout"), 1)
	cases := []struct {
		name   string
		body   []byte
		header []string
		reason string
	}{
		{"wrong secret", push, githubHeaders("push", "not-the-secret", push), "does not match"},
		{"tampered body", tampered, githubHeaders("push", secret, push), "does not match"},
		{"missing signature", push, githubHeaders("push", "", push), "missing"},
		{"sha1 only", push, []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", "sha1=" + hmacHex(secret, push)}, "malformed"},
	}
	total := 2
	for _, tc := range cases {
		total++
		res, body := f.deliver(tc.body, tc.header...)
		f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, tc.reason, total)
	}
	if f.deploymentCount() != before {
		t.Fatalf("rejected deliveries queued deployments")
	}
}

func TestWebhook_BranchTagAndSkipFilters(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	f.setSecret("")
	total := 0
	send := func(ref, msg string) (*response, map[string]any) {
		total++
		b := githubPush(t, ref, msg, "src/app.js")
		return f.deliver(b, "X-GitHub-Event", "push")
	}

	res, body := send("refs/heads/feature/login", "WIP")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "branch feature/login", total)
	res, body = send("refs/tags/v1.2.0", "Release 1.2.0")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "tag push", total)
	for _, marker := range []string{"[skip ci]", "[CI SKIP]", "[skip deploy]"} {
		res, body = send("refs/heads/main", "Docs only "+marker)
		f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "commit message contains", total)
	}
	if f.deploymentCount() != 0 {
		t.Fatal("ignored deliveries queued deployments")
	}
	res, body = send("refs/heads/main", "Ship it")
	f.wantDeployed(res, body, total, sha(2))

	// deploy_on=tag: only tag pushes deploy.
	f.setWebhook(db.WebhookSettings{DeployOn: db.DeployOnTag, AutoDeploy: true})
	res, body = send("refs/heads/main", "Ship it again")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "tag pushes only", total)
	res, body = send("refs/tags/v1.3.0", "Release 1.3.0")
	f.wantDeployed(res, body, total, "")

	// A deleted branch never deploys.
	total++
	del := mustJSON(t, map[string]any{"ref": "refs/heads/main", "before": sha(2), "after": strings.Repeat("0", 40),
		"deleted": true, "commits": []any{}, "head_commit": nil})
	f.setWebhook(db.WebhookSettings{DeployOn: db.DeployOnPush, AutoDeploy: true})
	res, body = f.deliver(del, "X-GitHub-Event", "push")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "deleted", total)

	// Other events are acknowledged, not deployed.
	total++
	res, body = f.deliver([]byte(`{"action":"opened"}`), "X-GitHub-Event", "issues")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "only pushes", total)

	// auto_deploy off: everything is ignored.
	f.setWebhook(db.WebhookSettings{DeployOn: db.DeployOnPush, AutoDeploy: false})
	res, body = send("refs/heads/main", "Ship it")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "auto deploy is off", total)
}

func TestWebhook_WatchPaths(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	f.setSecret("")
	f.setWebhook(db.WebhookSettings{AutoDeploy: true, WatchPaths: []string{"src/**", "Dockerfile", "!src/**/*.md"}})
	total := 0
	send := func(files ...string) (*response, map[string]any) {
		total++
		b := githubPush(t, "refs/heads/main", "change", files...)
		// githubPush's first commit adds README.md, which must not match either.
		return f.deliver(b, "X-GitHub-Event", "push")
	}
	res, body := send("docs/guide.md")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "watch paths", total)
	res, body = send("src/notes/readme.md")
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "watch paths", total)
	res, body = send("src/api/handlers/cart.go")
	f.wantDeployed(res, body, total, "")
	res, body = send("Dockerfile")
	f.wantDeployed(res, body, total, "")
}

func TestWebhook_GitLabPushAndTagPush(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	secret := f.hook.Secret
	gitlab := func(kind, ref string, commits []any) []byte {
		return mustJSON(t, map[string]any{
			"object_kind": kind, "event_name": kind, "before": sha(1), "after": sha(3), "ref": ref,
			"ref_protected": true, "checkout_sha": sha(3), "message": nil, "user_id": 4, "user_name": "John Smith",
			"user_username": "jsmith", "project_id": 15,
			"project": map[string]any{"id": 15, "name": "shop", "path_with_namespace": "acme/shop",
				"git_http_url": "https://gitlab.example.com/acme/shop.git", "default_branch": "main"},
			"commits": commits, "total_commits_count": len(commits),
			"repository": map[string]any{"name": "shop", "url": "git@gitlab.example.com:acme/shop.git"},
		})
	}
	commit := func(id, msg string, modified ...string) map[string]any {
		return map[string]any{"id": id, "message": msg, "title": msg, "timestamp": "2026-01-02T15:04:05+00:00",
			"url": "https://gitlab.example.com/acme/shop/-/commit/" + id, "author": map[string]any{"name": "John", "email": "j@example.com"},
			"added": []string{}, "modified": modified, "removed": []string{}}
	}
	push := gitlab("push", "refs/heads/main", []any{commit(sha(2), "first"), commit(sha(3), "Update cart", "src/cart.rb")})
	res, body := f.deliver(push, "X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", secret)
	f.wantDeployed(res, body, 1, sha(3))
	if d := f.deliveries()[0]; d.Provider != "gitlab" || d.CommitMessage != "Update cart" {
		t.Errorf("delivery: %+v", d)
	}

	res, body = f.deliver(push, "X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "wrong-token")
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "X-Gitlab-Token", 2)
	res, body = f.deliver(push, "X-Gitlab-Event", "Push Hook")
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "missing", 3)

	tag := gitlab("tag_push", "refs/tags/v1.0.0", []any{})
	res, body = f.deliver(tag, "X-Gitlab-Event", "Tag Push Hook", "X-Gitlab-Token", secret)
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "tag push", 4)
	f.setWebhook(db.WebhookSettings{DeployOn: db.DeployOnTag, AutoDeploy: true})
	res, body = f.deliver(tag, "X-Gitlab-Event", "Tag Push Hook", "X-Gitlab-Token", secret)
	f.wantDeployed(res, body, 5, sha(3))
}

func TestWebhook_GiteaPush(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	secret := f.hook.Secret
	head := githubCommit(sha(7), "Gitea change", nil, []string{"main.go"}, nil)
	push := mustJSON(t, map[string]any{
		"secret": "", "ref": "refs/heads/main", "before": sha(6), "after": sha(7),
		"compare_url": "https://gitea.example.com/acme/shop/compare/6...7",
		"commits":     []any{head}, "total_commits": 1, "head_commit": head,
		"repository": map[string]any{"id": 1, "name": "shop", "full_name": "acme/shop", "default_branch": "main",
			"clone_url": "https://gitea.example.com/acme/shop.git"},
		"pusher": map[string]any{"id": 1, "login": "jane"}, "sender": map[string]any{"id": 1, "login": "jane"},
	})
	// Gitea also sends X-GitHub-Event and X-Gogs-Event for compatibility.
	hdr := []string{"X-Gitea-Event", "push", "X-Gogs-Event", "push", "X-GitHub-Event", "push",
		"X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"}
	res, body := f.deliver(push, append(hdr, "X-Gitea-Signature", hmacHex(secret, push))...)
	f.wantDeployed(res, body, 1, sha(7))
	if d := f.deliveries()[0]; d.Provider != "gitea" {
		t.Errorf("provider: %s", d.Provider)
	}
	res, body = f.deliver(push, append(hdr, "X-Gitea-Signature", hmacHex("other", push))...)
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "X-Gitea-Signature", 2)
}

func bitbucketPush(t *testing.T, kind, name, message string) []byte {
	t.Helper()
	state := func(hash, msg string) map[string]any {
		return map[string]any{"type": kind, "name": name, "target": map[string]any{"type": "commit", "hash": hash,
			"message": msg, "date": "2026-01-02T15:04:05+00:00", "author": map[string]any{"raw": "Jane <jane@example.com>"}}}
	}
	return mustJSON(t, map[string]any{
		"actor":      map[string]any{"display_name": "Jane", "type": "user"},
		"repository": map[string]any{"type": "repository", "full_name": "acme/shop", "name": "shop"},
		"push": map[string]any{"changes": []any{
			map[string]any{"new": state(sha(9), message), "old": state(sha(8), "before"), "created": false, "closed": false,
				"forced": false, "truncated": false, "commits": []any{map[string]any{"hash": sha(9), "message": message}}},
		}},
	})
}

func TestWebhook_BitbucketPush(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	f.setWebhook(db.WebhookSettings{AutoDeploy: true, WatchPaths: []string{"src/**"}})
	secret := f.hook.Secret
	push := bitbucketPush(t, "branch", "main", "Bitbucket change\n")
	hdr := []string{"X-Event-Key", "repo:push", "User-Agent", "Bitbucket-Webhooks/2.0"}

	res, body := f.deliver(push, append(hdr, "X-Request-UUID", db.RandomToken(), "X-Hub-Signature", "sha256="+hmacHex(secret, push))...)
	d := f.wantOutcome(res, body, http.StatusAccepted, db.DeliveryDeployed, "watch paths not checked", 1)
	if d.Provider != "bitbucket" || d.Ref != "refs/heads/main" || d.CommitSHA != sha(9) {
		t.Errorf("delivery: %+v", d)
	}
	res, body = f.deliver(push, hdr...)
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "X-Hub-Signature", 2)

	// Without a secret (hooks created before Bitbucket could sign) the token alone is enough.
	f.setSecret("")
	other := bitbucketPush(t, "branch", "develop", "elsewhere")
	res, body = f.deliver(other, append(hdr, "X-Request-UUID", db.RandomToken())...)
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "branch develop", 3)
	tag := bitbucketPush(t, "tag", "v2.0.0", "release")
	f.setWebhook(db.WebhookSettings{DeployOn: db.DeployOnTag, AutoDeploy: true})
	res, body = f.deliver(tag, append(hdr, "X-Request-UUID", db.RandomToken())...)
	f.wantDeployed(res, body, 4, sha(9))
}

func dockerHubPush(t *testing.T, repo, tag string) []byte {
	t.Helper()
	return mustJSON(t, map[string]any{
		"callback_url": "https://registry.hub.docker.com/u/" + repo + "/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
		"push_data":    map[string]any{"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": tag},
		"repository": map[string]any{"comment_count": 0, "date_created": 1417494799, "description": "", "is_official": false,
			"is_private": true, "is_trusted": true, "name": "shop", "namespace": strings.Split(repo, "/")[0],
			"owner": "acme", "repo_name": repo, "repo_url": "https://registry.hub.docker.com/u/" + repo + "/", "star_count": 0, "status": "Active"},
	})
}

func TestWebhook_DockerHubPushForImageApps(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, func(a *db.App) {
		a.SourceType, a.GitURL, a.Image = db.SourceImage, "", "docker.io/acme/shop:stable"
	})
	secret := f.hook.Secret
	q := "?secret=" + url.QueryEscape(secret)
	ua := []string{"User-Agent", "Go-http-client/1.1"}

	res, body := f.post("/api/deploy/"+f.hook.Token+q, dockerHubPush(t, "acme/shop", "stable"), ua...)
	d := f.wantOutcome(res, body, http.StatusAccepted, db.DeliveryDeployed, "", 1)
	if d.Provider != "dockerhub" || d.Ref != "acme/shop:stable" {
		t.Errorf("delivery: %+v", d)
	}
	res, body = f.post("/api/deploy/"+f.hook.Token+q, dockerHubPush(t, "acme/shop", "latest"), ua...)
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "not this app's image", 2)
	res, body = f.post("/api/deploy/"+f.hook.Token+q, dockerHubPush(t, "acme/other", "stable"), ua...)
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "not this app's image", 3)
	res, body = f.post("/api/deploy/"+f.hook.Token, dockerHubPush(t, "acme/shop", "stable"), "X-Dokploy-Secret", "wrong")
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "does not match", 4)
	res, body = f.post("/api/deploy/"+f.hook.Token, dockerHubPush(t, "acme/shop", "stable"), ua...)
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "missing", 5)

	// A git push cannot redeploy an image app.
	push := githubPush(t, "refs/heads/main", "x")
	res, body = f.deliver(push, githubHeaders("push", secret, push)...)
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "git pushes do not apply", 6)
}

func TestWebhook_GenericCallForCI(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	res, body := f.deliver(nil, "X-Dokploy-Secret", f.hook.Secret)
	f.wantDeployed(res, body, 1, "")
	res, body = f.deliver(nil)
	f.wantOutcome(res, body, http.StatusUnauthorized, db.DeliveryRejected, "missing X-Dokploy-Secret", 2)
	f.setSecret("")
	res, body = f.deliver(nil)
	f.wantDeployed(res, body, 3, "")
	// A Docker Hub body sent to a git app is recognised and ignored.
	res, body = f.deliver(dockerHubPush(t, "acme/shop", "latest"))
	f.wantOutcome(res, body, http.StatusOK, db.DeliveryIgnored, "builds from git", 4)
}

func TestWebhook_SizeTokenAndCSRF(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	f.setSecret("")

	res, body := f.post("/api/deploy/not-a-real-token", githubPush(t, "refs/heads/main", "x"), "X-GitHub-Event", "push")
	wantAPIError(t, res, body, http.StatusNotFound, "")
	if len(f.deliveries()) != 0 {
		t.Fatal("an unknown token recorded a delivery for some app")
	}

	// Just over the 5 MB cap: refused by the webhook and recorded.
	big := append([]byte(`{"ref":"refs/heads/main","pad":"`), bytes.Repeat([]byte("a"), 5<<20 /* the API's body limit */)...)
	big = append(big, `"}`...)
	res, body = f.deliver(big, "X-GitHub-Event", "push")
	f.wantOutcome(res, body, http.StatusRequestEntityTooLarge, db.DeliveryRejected, "larger than 5 MB", 1)
	// Far over it: the global body limit answers 413 as well.
	res, _ = f.deliver(bytes.Repeat([]byte("a"), 7<<20), "X-GitHub-Event", "push")
	wantStatus(t, res, http.StatusRequestEntityTooLarge)
	if f.deploymentCount() != 0 {
		t.Fatal("oversize bodies queued deployments")
	}

	// A signed-in browser's cookies do not make the endpoint need CSRF:
	// git hosts never have the token.
	b := f.setupAdmin()
	req := b.newRequest(http.MethodPost, "/api/deploy/"+f.hook.Token, nil)
	res = b.do(req)
	wantStatus(t, res, http.StatusAccepted)

	// Rotating the token retires the old URL at once.
	old := f.hook.Token
	rotated, err := f.store.RotateWebhookToken(context.Background(), f.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Token == old {
		t.Fatal("rotation kept the token")
	}
	res, body = f.post("/api/deploy/"+old, nil)
	wantAPIError(t, res, body, http.StatusNotFound, "")
	res, _ = f.post("/api/deploy/"+rotated.Token, nil)
	wantStatus(t, res, http.StatusAccepted)
}

func TestWebhook_SecretsStoredSealed(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	var raw struct {
		Hash   string `db:"token_hash"`
		Token  []byte `db:"token_enc"`
		Secret []byte `db:"secret_enc"`
	}
	if err := f.store.DB().Get(&raw, `SELECT token_hash, token_enc, secret_enc FROM service_webhooks WHERE service_id = $1`, f.app.ID); err != nil {
		t.Fatal(err)
	}
	for _, col := range [][]byte{raw.Token, raw.Secret, []byte(raw.Hash)} {
		if bytes.Contains(col, []byte(f.hook.Token)) || bytes.Contains(col, []byte(f.hook.Secret)) {
			t.Fatal("webhook token or secret stored in clear")
		}
	}
}

func TestWebhook_AppPageSectionAndAPIFields(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	b := f.setupAdmin()
	appPath := fmt.Sprintf("/apps/%d", f.app.ID)

	res := b.get(appPath + "/deployments")
	wantStatus(t, res, http.StatusOK)
	if res.doc(t).Find(`#app-webhooks #webhook-url`).Length() != 1 {
		t.Fatal("the Deployments tab has no webhook section with its URL")
	}
	res = b.get(appPath + "/webhooks")
	wantStatus(t, res, http.StatusOK)
	wantURL := "http://dokploy.test/api/deploy/" + f.hook.Token
	if v, _ := res.doc(t).Find("#webhook-url").Attr("value"); v != wantURL {
		t.Fatalf("webhook URL field: %q", v)
	}
	testkit.MustContain(t, res.Body, `hx-trigger="every 3s"`, "X-Hub-Signature-256", "X-Gitlab-Token", "Bitbucket", "Docker Hub", "curl")

	// Settings: watch paths one per line, tag deploys, auto deploy off.
	res = b.postHTMX(appPath+"/webhooks", map[string][]string{"deploy_on": {"tag"}, "watch_paths": {"src/**\r\n\r\nDockerfile\n"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "Webhook settings saved")
	hook, err := f.store.AppWebhook(context.Background(), f.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hook.DeployOn != "tag" || hook.AutoDeploy || strings.Join(hook.WatchPaths, ",") != "src/**,Dockerfile" {
		t.Fatalf("saved settings: %+v", hook)
	}
	res = b.postHTMX(appPath+"/webhooks", map[string][]string{"deploy_on": {"sometimes"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	res = b.postHTMX(appPath+"/webhooks", map[string][]string{"deploy_on": {"push"}, "watch_paths": {"src/[a-"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	testkit.MustContain(t, res.Body, "not a valid glob")

	// Secret: generate shows it once, clear removes it; CSRF is required.
	res = b.postFormRaw(appPath+"/webhooks/secret", map[string][]string{"action": {"generate"}})
	wantStatus(t, res, http.StatusForbidden)
	res = b.postHTMX(appPath+"/webhooks/secret", map[string][]string{"action": {"generate"}})
	wantStatus(t, res, http.StatusOK)
	hook, _ = f.store.AppWebhook(context.Background(), f.app.ID)
	if hook.Secret == f.hook.Secret || hook.Secret == "" {
		t.Fatal("generate did not replace the secret")
	}
	if strings.TrimSpace(res.doc(t).Find("#webhook-secret").Text()) != hook.Secret {
		t.Error("the new secret is not shown for copying")
	}
	res = b.postHTMX(appPath+"/webhooks/secret", map[string][]string{"action": {"clear"}})
	wantStatus(t, res, http.StatusOK)
	testkit.MustContain(t, res.Body, "No secret")
	res = b.postHTMX(appPath+"/webhooks/rotate", nil)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, f.hook.Token)

	// Deliveries appear in the polled list with a link to the deployment.
	hook, _ = f.store.AppWebhook(context.Background(), f.app.ID)
	f.setWebhook(db.WebhookSettings{AutoDeploy: true})
	push := githubPush(t, "refs/heads/main", "Live list")
	res, out := f.post("/api/deploy/"+hook.Token, push, "X-GitHub-Event", "push")
	wantStatus(t, res, http.StatusAccepted)
	res, _ = f.post("/api/deploy/"+hook.Token, githubPush(t, "refs/heads/dev", "x"), "X-GitHub-Event", "push")
	wantStatus(t, res, http.StatusOK)
	req := b.newRequest(http.MethodGet, appPath+"/webhooks/deliveries", nil)
	req.Header.Set("HX-Request", "true")
	res = b.do(req)
	wantStatus(t, res, http.StatusOK)
	testkit.MustNotContain(t, res.Body, "<html")
	testkit.MustContain(t, res.Body, fmt.Sprintf(`href="/deployments/%d"`, int64(out["deployment_id"].(float64))), "this app deploys branch main", "github")

	// API: webhook_url and settings on GET, changes through PATCH.
	token := f.apiTokenForAdmin()
	res, body := f.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d", f.app.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["webhook_url"] != "http://dokploy.test/api/deploy/"+hook.Token {
		t.Fatalf("webhook_url: %v", body["webhook_url"])
	}
	res, body = f.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", f.app.ID), token, map[string]any{
		"deploy_on": "tag", "watch_paths": []string{"api/**", " "}, "auto_deploy": false, "webhook_secret": "ci-secret-123"})
	wantStatus(t, res, http.StatusOK)
	wh, _ := body["webhook"].(map[string]any)
	if wh["deploy_on"] != "tag" || wh["auto_deploy"] != false || wh["secret_set"] != true || fmt.Sprint(wh["watch_paths"]) != "[api/**]" {
		t.Fatalf("PATCH webhook fields: %s", res.Body)
	}
	testkit.MustNotContain(t, res.Body, "ci-secret-123")
	res, body = f.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d/webhook", f.app.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["secret"] != "ci-secret-123" {
		t.Errorf("GET webhook secret: %s", res.Body)
	}
	res, body = f.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", f.app.ID), token, map[string]any{"deploy_on": "always"})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "deploy_on")
	res, body = f.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/applications/%d", f.app.ID), token, map[string]any{"webhook_secret": "short"})
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, "webhook_secret")
	res, body = f.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d/webhook/deliveries?limit=1", f.app.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	if items, _ := body["items"].([]any); len(items) != 1 {
		t.Errorf("deliveries page: %s", res.Body)
	}
	res, body = f.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/webhook/rotate", f.app.ID), token, nil)
	wantStatus(t, res, http.StatusOK)
	if body["url"] == "http://dokploy.test/api/deploy/"+hook.Token {
		t.Error("API rotate kept the URL")
	}
}

// apiTokenForAdmin makes a token for the admin created by setupAdmin.
func (f *webhookFixture) apiTokenForAdmin() string {
	f.t.Helper()
	u, err := f.store.UserByEmail(context.Background(), adminEmail)
	if err != nil {
		f.t.Fatal(err)
	}
	_, token, err := f.store.CreateAPIToken(context.Background(), u.ID, "webhook-test", db.TokenLimits{Scope: db.ScopeManage})
	if err != nil {
		f.t.Fatal(err)
	}
	return token
}

// burstResult is what a burst of concurrent deliveries got back.
type burstResult struct {
	latencies []time.Duration
	statuses  []int
	errs      []error
}

// percentile returns the p-th percentile (0-100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// pushBurst sends n signed GitHub pushes to main at once, each with its own
// commit, the way a busy repository's hooks arrive.
func pushBurst(tb testing.TB, client *http.Client, hookURL, secret string, n, firstCommit int) burstResult {
	tb.Helper()
	res := burstResult{latencies: make([]time.Duration, n), statuses: make([]int, n), errs: make([]error, n)}
	bodies := make([][]byte, n)
	for i := range bodies {
		head := githubCommit(sha(firstCommit+i), fmt.Sprintf("commit %d", firstCommit+i), nil, []string{"src/app.js"}, nil)
		b, err := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": sha(firstCommit + i - 1), "after": sha(firstCommit + i),
			"commits": []any{head}, "head_commit": head, "repository": map[string]any{"full_name": "acme/shop"}})
		if err != nil {
			tb.Fatal(err)
		}
		bodies[i] = b
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader(bodies[i]))
			if err != nil {
				res.errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, bodies[i]))
			<-start
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				res.errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			res.latencies[i], res.statuses[i] = time.Since(t0), resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	return res
}

// queueWatch samples how many deployments of an app are running and queued.
type queueWatch struct {
	maxRunning, maxQueued int
	samples               int
}

func watchQueue(ctx context.Context, store *db.Store, appID int64, out *queueWatch, done chan<- struct{}) {
	defer close(done)
	for ctx.Err() == nil {
		var c struct {
			Running int `db:"running"`
			Queued  int `db:"queued"`
		}
		err := store.DB().GetContext(ctx, &c, `
			SELECT count(*) FILTER (WHERE status = 'running') AS running, count(*) FILTER (WHERE status = 'queued') AS queued
			FROM deployments WHERE service_id = $1`, appID)
		if err == nil {
			out.maxRunning, out.maxQueued = max(out.maxRunning, c.Running), max(out.maxQueued, c.Queued)
			out.samples++
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitQueueIdle waits until the app has no queued or running deployment.
func waitQueueIdle(tb testing.TB, store *db.Store, appID int64, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := store.DB().Get(&n, `SELECT count(*) FROM deployments WHERE service_id = $1 AND status IN ('queued', 'running')`, appID); err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("deployments still queued or running after %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func burstClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
}

func TestWebhook_BurstCollapsesIntoOneRunningOneQueued(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	// The real queue: this test's runner works in its own Redis namespace.
	if err := f.h.Runner.StartWorker(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.h.Runner.StopWorker)

	var watch queueWatch
	ctx, stop := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go watchQueue(ctx, f.store, f.app.ID, &watch, watched)

	const n = 50
	started := time.Now()
	res := pushBurst(t, burstClient(), f.srv.URL+"/api/deploy/"+f.hook.Token, f.hook.Secret, n, 1000)
	elapsed := time.Since(started)
	for i := range n {
		if res.errs[i] != nil || res.statuses[i] != http.StatusAccepted {
			t.Errorf("push %d: status %d, err %v", i, res.statuses[i], res.errs[i])
		}
	}
	waitQueueIdle(t, f.store, f.app.ID, 90*time.Second)
	stop()
	<-watched

	sorted := append([]time.Duration(nil), res.latencies...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	t.Logf("%d pushes accepted in %s; latency p50 %s, p99 %s, max %s; queue sampled %d times",
		n, elapsed.Round(time.Millisecond), percentile(sorted, 50), percentile(sorted, 99), sorted[n-1], watch.samples)
	if watch.maxRunning > 1 || watch.maxQueued > 1 {
		t.Fatalf("queue held %d running and %d queued deployments at once; want at most 1 and 1", watch.maxRunning, watch.maxQueued)
	}

	// Every delivery is recorded with a deployment; pushes that arrived
	// while an earlier batch was written share one.
	deliveries := f.deliveries()
	if len(deliveries) != n {
		t.Fatalf("want %d deliveries, got %d", n, len(deliveries))
	}
	commits := map[string]bool{}
	for _, d := range deliveries {
		if d.Outcome != db.DeliveryDeployed || d.DeploymentID == nil {
			t.Fatalf("delivery %d: %s %s", d.ID, d.Outcome, d.Reason)
		}
		commits[d.CommitSHA] = true
	}
	if len(commits) != n {
		t.Errorf("want %d distinct commits recorded, got %d", n, len(commits))
	}

	// The newest deployment ran; the others ran before it or were superseded.
	deps, err := f.store.Deployments(context.Background(), f.app.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) == 0 || len(deps) > n {
		t.Fatalf("want 1 to %d deployments, got %d", n, len(deps))
	}
	last := deps[0]
	if last.Status == db.DeployCancelled || last.StartedAt == nil || !last.Finished() {
		t.Fatalf("newest deployment #%d must have run: status %s (%s)", last.ID, last.Status, last.Error)
	}
	// The newest delivery (deliveries are newest first) is the one the
	// newest deployment was queued for.
	if newest := deliveries[0]; newest.DeploymentID == nil || *newest.DeploymentID != last.ID {
		t.Errorf("newest delivery #%d points at deployment %v, want #%d", newest.ID, newest.DeploymentID, last.ID)
	}
	ran := 0
	for _, d := range deps {
		switch {
		case d.StartedAt != nil:
			ran++
		case d.Status != db.DeployCancelled || !strings.Contains(d.Error, "superseded"):
			t.Errorf("deployment #%d neither ran nor was superseded: %s %q", d.ID, d.Status, d.Error)
		}
	}
	t.Logf("%d pushes queued %d deployments; %d ran, %d were superseded while queued", n, len(deps), ran, len(deps)-ran)
}

// GitHub's default content type sends the JSON as a form field; the
// signature covers the form-encoded body.
func TestWebhook_GitHubFormEncodedPush(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	push := githubPush(t, "refs/heads/main", "Form-encoded push")
	form := []byte(url.Values{"payload": {string(push)}}.Encode())
	headers := append(githubHeaders("push", f.hook.Secret, form), "Content-Type", "application/x-www-form-urlencoded")
	res, body := f.deliver(form, headers...)
	dep := f.wantDeployed(res, body, 1, sha(2))
	if dep.CommitMessage != "Form-encoded push" {
		t.Errorf("queued deployment shows %q", dep.CommitMessage)
	}
	empty := []byte("other=1")
	res, body = f.deliver(empty, append(githubHeaders("push", f.hook.Secret, empty), "Content-Type", "application/x-www-form-urlencoded")...)
	f.wantOutcome(res, body, http.StatusBadRequest, db.DeliveryRejected, "application/json", 2)
}

func TestWebhook_GETAndUnknownAPIPaths(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	b := f.browser()
	res := b.get("/api/deploy/" + f.hook.Token)
	if res.Code != http.StatusMethodNotAllowed || !strings.Contains(res.Body, "POST") {
		t.Errorf("GET webhook URL: %d %s", res.Code, res.Body)
	}
	res = b.get("/api/nothing-here")
	if res.Code != http.StatusNotFound || !strings.Contains(res.Body, `"error"`) {
		t.Errorf("unknown API path without a session: %d %s", res.Code, res.Body)
	}
	res = b.get("/api/v1/nothing-here")
	if res.Code != http.StatusUnauthorized || !strings.Contains(res.Body, `"error"`) {
		t.Errorf("unknown /api/v1 path without a token: %d %s", res.Code, res.Body)
	}
	if f.deploymentCount() != 0 {
		t.Error("a GET must not deploy")
	}
}

// A provider retrying a delivery (same delivery id) queues nothing: 200
// "duplicate, ignored". Another id, or another provider's header, deploys.
func TestWebhook_DuplicateDeliveryIDIsIgnored(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	secret := f.hook.Secret
	push := githubPush(t, "refs/heads/main", "Fix checkout rounding")
	hdr := githubHeaders("push", secret, push)
	res, body := f.deliver(push, hdr...)
	f.wantDeployed(res, body, 1, sha(2))
	before, deliveries := f.deploymentCount(), len(f.deliveries())

	res, body = f.deliver(push, hdr...)
	wantStatus(t, res, http.StatusOK)
	if body["outcome"] != db.DeliveryIgnored || !strings.Contains(fmt.Sprint(body["reason"]), "duplicate, ignored") {
		t.Fatalf("repeated delivery id: want ignored as duplicate, got %v", body)
	}
	if n := f.deploymentCount(); n != before {
		t.Fatalf("a duplicate delivery queued a deployment: %d → %d", before, n)
	}
	if n := len(f.deliveries()); n != deliveries {
		t.Fatalf("a duplicate delivery was recorded: %d → %d", deliveries, n)
	}

	// GitLab's header is deduplicated too.
	gl := []byte(`{"object_kind":"push","ref":"refs/heads/main","checkout_sha":"` + sha(9) + `","commits":[]}`)
	glHdr := []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", secret, "X-Gitlab-Event-UUID", "3b3f1c3e-0000-4000-8000-000000000001"}
	first, _ := f.deliver(gl, glHdr...)
	again, body := f.deliver(gl, glHdr...)
	wantStatus(t, again, http.StatusOK)
	if strings.Contains(first.Body, "duplicate") || body["outcome"] != db.DeliveryIgnored {
		t.Fatalf("GitLab retry: first %d %s, again %d %s", first.Code, first.Body, again.Code, again.Body)
	}
	testkit.MustContain(t, again.Body, "duplicate, ignored")
}

// TestWebhook_RejectedDeliveriesAreRateLimited: someone with the URL but
// not the secret sends 60 forged pushes. The first 30 are refused and
// recorded; the rest get 429 with Retry-After and are not stored, so the
// table cannot be filled at request rate. A correctly signed push still
// deploys.
func TestWebhook_RejectedDeliveriesAreRateLimited(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, nil)
	push := githubPush(t, "refs/heads/main", "forged", "src/cart.js")
	codes := map[int]int{}
	for range 60 {
		res, _ := f.deliver(push, githubHeaders("push", "not-the-secret", push)...)
		codes[res.Code]++
		if res.Code == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[http.StatusUnauthorized] != 30 || codes[http.StatusTooManyRequests] != 30 {
		t.Fatalf("answers %v, want 30 × 401 then 30 × 429", codes)
	}
	if n := len(f.deliveries()); n != 30 {
		t.Fatalf("%d deliveries recorded, want 30", n)
	}
	res, body := f.deliver(push, githubHeaders("push", f.hook.Secret, push)...)
	f.wantDeployed(res, body, 31, sha(2))
}
