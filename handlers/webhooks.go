package handlers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// maxWebhookBody caps a delivery's body. Push events are a few kilobytes
// (GitHub lists at most 20 commits with their files); 5 MB leaves room for
// monorepo pushes while keeping a flood of large bodies cheap to refuse.
// The global 6 MB BodyLimit still applies first to anything larger.
const maxWebhookBody = 5 << 20

// Limits on what a user may configure as watch paths.
const (
	maxWatchPaths     = 50
	maxWatchPathLen   = 200
	maxGlobstarsInPat = 4 // each ** multiplies matching work by the path depth
)

// skipMarkers in the head commit's message stop a push from deploying.
var skipMarkers = [...]string{"[skip ci]", "[ci skip]", "[skip deploy]"}

// Provider names as recorded on deliveries.
const (
	providerGitHub    = "github"
	providerGitLab    = "gitlab"
	providerGitea     = "gitea"
	providerBitbucket = "bitbucket"
	providerDockerHub = "dockerhub"
	providerGeneric   = "generic"
)

// pushEvent is what a delivery says about one ref, whatever the provider.
type pushEvent struct {
	Event   string   // provider's event name, normalised ("push", "tag_push", "ping", ...)
	IsPush  bool     // the event can deploy at all
	Ping    bool     // a "hello" sent when the hook is created
	Ref     string   // refs/heads/<branch>, refs/tags/<tag>, or "" when the call names none
	Commit  string   // head commit
	Message string   // head commit message
	Files   []string // changed files; nil when the payload lists none
	Deleted bool     // the ref was deleted
	Image   string   // registry pushes: repository name
	Tag     string   // registry pushes: tag
}

// webhookResult is the JSON body of every 2xx answer of the endpoint.
type webhookResult struct {
	Outcome      string `json:"outcome"`
	Reason       string `json:"reason,omitempty"`
	DeploymentID *int64 `json:"deployment_id,omitempty"`
	DeliveryID   int64  `json:"delivery_id"`
	Message      string `json:"message,omitempty"`
}

// receiveWebhook is POST /api/deploy/:token, called by git hosts, registries
// and CI. It only records the delivery and queues a deployment, so a burst
// of pushes is accepted quickly; the queue collapses them into the newest.
func (h *Handler) receiveWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	hook, err := h.store.WebhookByToken(ctx, c.Param("token"))
	if errors.Is(err, db.ErrNotFound) {
		return apiError(http.StatusNotFound, "", "unknown webhook token: copy the URL again from the app's page")
	}
	if err != nil {
		return err
	}
	app, err := h.store.App(ctx, hook.AppID)
	if err != nil {
		return err
	}
	r := c.Request()
	d := &db.Delivery{AppID: app.ID, Provider: detectProvider(r.Header)}
	d.Event = eventHeader(d.Provider, r.Header)
	body, err := readCapped(r, maxWebhookBody)
	if err != nil {
		return h.rejectDelivery(c, d, http.StatusRequestEntityTooLarge, err.Error())
	}
	if d.Provider == providerGeneric && looksLikeDockerHub(body) {
		d.Provider = providerDockerHub
	}
	if hook.HasSecret() {
		if err := verifyDelivery(d.Provider, r, body, hook.Secret); err != nil {
			return h.rejectDelivery(c, d, http.StatusUnauthorized, err.Error())
		}
	}
	events, err := parseDelivery(d.Provider, r, body)
	if err != nil {
		return h.rejectDelivery(c, d, http.StatusBadRequest, err.Error())
	}
	ev, reason := chooseEvent(app, hook, events)
	d.Event, d.Ref, d.CommitSHA, d.CommitMessage = ev.Event, ev.Ref, ev.Commit, db.ClipText(ev.Message, 500)
	if ev.Image != "" {
		d.Ref = ev.Image + ":" + ev.Tag
	}
	if ev.Ping {
		d.Outcome, d.Reason = db.DeliveryIgnored, "ping: the webhook reaches dokploy"
		if err := h.store.RecordDelivery(ctx, d); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, webhookResult{Outcome: d.Outcome, Reason: d.Reason, DeliveryID: d.ID, Message: "pong"})
	}
	if reason != "" {
		d.Outcome, d.Reason = db.DeliveryIgnored, reason
		if err := h.store.RecordDelivery(ctx, d); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, webhookResult{Outcome: d.Outcome, Reason: reason, DeliveryID: d.ID})
	}
	return h.deployFromWebhook(c, app, d, watchNote(hook, ev))
}

// deployFromWebhook queues the deployment and records the delivery.
func (h *Handler) deployFromWebhook(c echo.Context, app *db.App, d *db.Delivery, note string) error {
	ctx := c.Request().Context()
	dep, err := h.store.CreateDeployment(ctx, app.ID, "webhook", d.Provider)
	if err != nil {
		return err
	}
	// Show the pushed commit while queued; the runner overwrites it with
	// what it actually cloned (the branch head, at least this commit).
	if d.CommitSHA != "" || d.CommitMessage != "" {
		if err := h.store.SetDeploymentSource(ctx, dep.ID, db.ClipText(d.CommitSHA, 80), d.CommitMessage, ""); err != nil {
			return err
		}
	}
	d.Outcome, d.Reason, d.DeploymentID = db.DeliveryDeployed, note, &dep.ID
	if err := h.runner.Enqueue(ctx, dep.ID); err != nil {
		// The row is queued in PostgreSQL; the runner re-enqueues it from there.
		d.Reason = strings.TrimSpace(note + " (queue unavailable; the runner picks it up from the database)")
	}
	if err := h.store.RecordDelivery(ctx, d); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, webhookResult{Outcome: d.Outcome, Reason: d.Reason, DeploymentID: &dep.ID, DeliveryID: d.ID})
}

// rejectDelivery records a refused delivery and answers with the error.
func (h *Handler) rejectDelivery(c echo.Context, d *db.Delivery, status int, reason string) error {
	d.Outcome, d.Reason = db.DeliveryRejected, reason
	if err := h.store.RecordDelivery(c.Request().Context(), d); err != nil {
		return err
	}
	return apiError(status, "", reason)
}

// readCapped reads the whole body or fails once it passes limit bytes.
func readCapped(r *http.Request, limit int64) ([]byte, error) {
	tooLarge := fmt.Errorf("body larger than %d MB", limit>>20)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, tooLarge
		}
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge
	}
	return body, nil
}

// detectProvider recognises the sender by its event header. Gitea also sends
// X-GitHub-Event for compatibility, so it is checked first.
func detectProvider(hdr http.Header) string {
	switch {
	case hdr.Get("X-Gitea-Event") != "":
		return providerGitea
	case hdr.Get("X-GitHub-Event") != "":
		return providerGitHub
	case hdr.Get("X-Gitlab-Event") != "":
		return providerGitLab
	case hdr.Get("X-Event-Key") != "":
		return providerBitbucket
	}
	return providerGeneric
}

// eventHeader is the provider's own event name, recorded even when the
// delivery is rejected before its body is read.
func eventHeader(provider string, hdr http.Header) string {
	switch provider {
	case providerGitea:
		return hdr.Get("X-Gitea-Event")
	case providerGitHub:
		return hdr.Get("X-GitHub-Event")
	case providerGitLab:
		return hdr.Get("X-Gitlab-Event")
	case providerBitbucket:
		return hdr.Get("X-Event-Key")
	}
	return ""
}

// looksLikeDockerHub recognises Docker Hub's body: it sends no event header.
func looksLikeDockerHub(body []byte) bool {
	if len(body) == 0 || !bytes.Contains(body, []byte(`"push_data"`)) {
		return false
	}
	var probe struct {
		PushData json.RawMessage `json:"push_data"`
	}
	return json.Unmarshal(body, &probe) == nil && len(probe.PushData) > 0
}

// verifyDelivery checks the provider's proof that the sender knows the
// secret. Every comparison is constant-time.
func verifyDelivery(provider string, r *http.Request, body []byte, secret string) error {
	switch provider {
	case providerGitHub:
		return verifyHMAC(r.Header.Get("X-Hub-Signature-256"), "sha256=", "X-Hub-Signature-256", body, secret)
	case providerGitea:
		if sig := r.Header.Get("X-Gitea-Signature"); sig != "" {
			return verifyHMAC(sig, "", "X-Gitea-Signature", body, secret)
		}
		return verifyHMAC(r.Header.Get("X-Hub-Signature-256"), "sha256=", "X-Gitea-Signature", body, secret)
	case providerBitbucket:
		// Bitbucket Cloud signs with X-Hub-Signature: sha256=<hex> once a
		// secret is set on the webhook; older hooks cannot sign at all.
		sig := r.Header.Get("X-Hub-Signature")
		if sig == "" {
			sig = r.Header.Get("X-Hub-Signature-256")
		}
		return verifyHMAC(sig, "sha256=", "X-Hub-Signature", body, secret)
	case providerGitLab:
		return verifyShared(r.Header.Get("X-Gitlab-Token"), "X-Gitlab-Token", secret)
	}
	// Docker Hub and CI systems cannot sign: they send the secret itself.
	sent := r.Header.Get("X-Dokploy-Secret")
	if sent == "" {
		sent = r.URL.Query().Get("secret")
	}
	return verifyShared(sent, "X-Dokploy-Secret header (or ?secret=)", secret)
}

func verifyHMAC(sig, prefix, header string, body []byte, secret string) error {
	if sig == "" {
		return fmt.Errorf("missing %s signature: this app has a webhook secret", header)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, prefix))
	if err != nil || (prefix != "" && !strings.HasPrefix(sig, prefix)) {
		return fmt.Errorf("malformed %s signature", header)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%s signature does not match the webhook secret", header)
	}
	return nil
}

func verifyShared(sent, header, secret string) error {
	if sent == "" {
		return fmt.Errorf("missing %s: this app has a webhook secret", header)
	}
	if subtle.ConstantTimeCompare([]byte(sent), []byte(secret)) != 1 {
		return fmt.Errorf("%s does not match the webhook secret", header)
	}
	return nil
}

// parseDelivery turns a body into events, one per ref it names (Bitbucket
// can report several branches in one push; the others report one).
func parseDelivery(provider string, r *http.Request, body []byte) ([]pushEvent, error) {
	switch provider {
	case providerGitHub:
		return parseGitHub(r.Header.Get("X-GitHub-Event"), body)
	case providerGitea:
		return parseGitHub(r.Header.Get("X-Gitea-Event"), body)
	case providerGitLab:
		return parseGitLab(r.Header.Get("X-Gitlab-Event"), body)
	case providerBitbucket:
		return parseBitbucket(r.Header.Get("X-Event-Key"), body)
	case providerDockerHub:
		return parseDockerHub(body)
	}
	return []pushEvent{{Event: "call", IsPush: true}}, nil
}

// commitJSON is a commit as GitHub, Gitea and GitLab list it.
type commitJSON struct {
	ID       string   `json:"id"`
	Message  string   `json:"message"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

func changedFiles(commits []commitJSON) []string {
	if len(commits) == 0 {
		return nil
	}
	files := []string{}
	for _, c := range commits {
		files = append(files, c.Added...)
		files = append(files, c.Modified...)
		files = append(files, c.Removed...)
	}
	return files
}

func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return errors.New("body is not the provider's JSON payload: " + err.Error())
	}
	return nil
}

// parseGitHub reads GitHub's push payload; Gitea sends the same shape.
func parseGitHub(event string, body []byte) ([]pushEvent, error) {
	switch event {
	case "ping":
		return []pushEvent{{Event: "ping", Ping: true}}, nil
	case "push":
	default:
		return []pushEvent{{Event: event}}, nil
	}
	var p struct {
		Ref        string       `json:"ref"`
		After      string       `json:"after"`
		Deleted    bool         `json:"deleted"`
		HeadCommit *commitJSON  `json:"head_commit"`
		Commits    []commitJSON `json:"commits"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return nil, err
	}
	ev := pushEvent{Event: "push", IsPush: true, Ref: p.Ref, Commit: p.After, Deleted: p.Deleted || isZeroSHA(p.After),
		Files: changedFiles(p.Commits)}
	if p.HeadCommit != nil {
		ev.Commit, ev.Message = p.HeadCommit.ID, p.HeadCommit.Message
	} else if n := len(p.Commits); n > 0 {
		ev.Message = p.Commits[n-1].Message
	}
	return []pushEvent{ev}, nil
}

// parseGitLab reads GitLab's "Push Hook" and "Tag Push Hook".
func parseGitLab(event string, body []byte) ([]pushEvent, error) {
	var name string
	switch event {
	case "Push Hook":
		name = "push"
	case "Tag Push Hook":
		name = "tag_push"
	default:
		return []pushEvent{{Event: event}}, nil
	}
	var p struct {
		Ref         string       `json:"ref"`
		After       string       `json:"after"`
		CheckoutSHA *string      `json:"checkout_sha"`
		Message     string       `json:"message"` // a tag's annotation
		Commits     []commitJSON `json:"commits"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return nil, err
	}
	ev := pushEvent{Event: name, IsPush: true, Ref: p.Ref, Commit: p.After, Message: p.Message, Files: changedFiles(p.Commits)}
	if p.CheckoutSHA == nil || isZeroSHA(p.After) {
		ev.Deleted = true
	} else {
		ev.Commit = *p.CheckoutSHA
	}
	for _, c := range p.Commits {
		if c.ID == ev.Commit {
			ev.Message = c.Message
		}
	}
	return []pushEvent{ev}, nil
}

// parseBitbucket reads Bitbucket Cloud's repo:push. Its payload names no
// changed files, so watch paths cannot be checked for it.
func parseBitbucket(event string, body []byte) ([]pushEvent, error) {
	if event != "repo:push" {
		return []pushEvent{{Event: event}}, nil
	}
	type refState struct {
		Type   string `json:"type"` // branch or tag
		Name   string `json:"name"`
		Target struct {
			Hash    string `json:"hash"`
			Message string `json:"message"`
		} `json:"target"`
	}
	var p struct {
		Push struct {
			Changes []struct {
				New *refState `json:"new"`
				Old *refState `json:"old"`
			} `json:"changes"`
		} `json:"push"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return nil, err
	}
	var out []pushEvent
	for _, ch := range p.Push.Changes {
		ev := pushEvent{Event: "repo:push", IsPush: true}
		state := ch.New
		if state == nil {
			ev.Deleted, state = true, ch.Old
		}
		if state != nil {
			kind := "heads"
			if state.Type == "tag" {
				kind = "tags"
			}
			ev.Ref = "refs/" + kind + "/" + state.Name
			ev.Commit, ev.Message = state.Target.Hash, state.Target.Message
		}
		out = append(out, ev)
	}
	if len(out) == 0 {
		return nil, errors.New("repo:push payload lists no changes")
	}
	return out, nil
}

// parseDockerHub reads Docker Hub's repository webhook.
func parseDockerHub(body []byte) ([]pushEvent, error) {
	var p struct {
		PushData struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return nil, err
	}
	if p.Repository.RepoName == "" {
		return nil, errors.New("Docker Hub payload has no repository.repo_name")
	}
	tag := p.PushData.Tag
	if tag == "" {
		tag = "latest"
	}
	return []pushEvent{{Event: "push", IsPush: true, Image: p.Repository.RepoName, Tag: tag}}, nil
}

func isZeroSHA(s string) bool { return s != "" && strings.Trim(s, "0") == "" }

// chooseEvent picks the event that deploys, or explains why none does.
func chooseEvent(a *db.App, w *db.Webhook, events []pushEvent) (pushEvent, string) {
	first := ""
	for _, ev := range events {
		reason := ignoreReason(a, w, ev)
		if reason == "" {
			return ev, ""
		}
		if first == "" {
			first = reason
		}
	}
	return events[0], first
}

// ignoreReason says why a delivery does not deploy, or "" when it does.
func ignoreReason(a *db.App, w *db.Webhook, ev pushEvent) string {
	switch {
	case ev.Ping:
		return "ping"
	case !ev.IsPush:
		return fmt.Sprintf("event %q does not deploy; only pushes do", ev.Event)
	case !w.AutoDeploy:
		return "auto deploy is off for this app"
	case ev.Image != "":
		return imageReason(a, ev)
	case ev.Ref != "" && a.SourceType != db.SourceGit:
		return fmt.Sprintf("this app deploys the image %s; git pushes do not apply (use a registry webhook or the generic call)", a.Image)
	case ev.Deleted:
		return fmt.Sprintf("%s was deleted", ev.Ref)
	}
	if r := refReason(a, w, ev.Ref); r != "" {
		return r
	}
	lower := strings.ToLower(ev.Message)
	for _, m := range skipMarkers {
		if strings.Contains(lower, m) {
			return "commit message contains " + m
		}
	}
	if len(w.WatchPaths) > 0 && ev.Files != nil && !matchWatchPaths(w.WatchPaths, ev.Files) {
		return fmt.Sprintf("no changed file matches the watch paths (%s)", strings.Join(w.WatchPaths, ", "))
	}
	return ""
}

// refReason applies the branch or tag filter; calls naming no ref pass.
func refReason(a *db.App, w *db.Webhook, ref string) string {
	if ref == "" {
		return ""
	}
	isTag := strings.HasPrefix(ref, "refs/tags/")
	if w.DeployOn == db.DeployOnTag {
		if !isTag {
			return fmt.Sprintf("push to %s; this app deploys on tag pushes only", strings.TrimPrefix(ref, "refs/heads/"))
		}
		return ""
	}
	if isTag {
		return fmt.Sprintf("tag push (%s); this app deploys on pushes to branch %s", strings.TrimPrefix(ref, "refs/tags/"), a.GitBranch)
	}
	if ref != "refs/heads/"+a.GitBranch {
		return fmt.Sprintf("push to branch %s; this app deploys branch %s", strings.TrimPrefix(ref, "refs/heads/"), a.GitBranch)
	}
	return ""
}

// imageReason accepts a registry push only for the app's own image and tag.
func imageReason(a *db.App, ev pushEvent) string {
	if a.SourceType != db.SourceImage {
		return "registry pushes deploy image-sourced apps; this app builds from git"
	}
	repo, tag := splitImage(a.Image)
	if normaliseRepo(ev.Image) != normaliseRepo(repo) || ev.Tag != tag {
		return fmt.Sprintf("pushed image %s:%s is not this app's image %s:%s", ev.Image, ev.Tag, repo, tag)
	}
	return ""
}

// splitImage splits "host/repo:tag@digest" into repo and tag (default latest).
func splitImage(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// normaliseRepo makes "docker.io/library/nginx" and "nginx" compare equal.
func normaliseRepo(repo string) string {
	repo = strings.ToLower(repo)
	for _, p := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		repo = strings.TrimPrefix(repo, p)
	}
	return strings.TrimPrefix(repo, "library/")
}

// watchNote explains a deploy that skipped the watch-path check.
func watchNote(w *db.Webhook, ev pushEvent) string {
	if len(w.WatchPaths) > 0 && ev.Files == nil {
		return "watch paths not checked: the payload lists no changed files"
	}
	return ""
}

// matchWatchPaths reports whether any file matches the patterns. Patterns
// starting with "!" exclude; with only exclusions, everything else matches.
func matchWatchPaths(patterns, files []string) bool {
	var include, exclude []string
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "!"); ok {
			exclude = append(exclude, rest)
		} else {
			include = append(include, p)
		}
	}
	for _, f := range files {
		if matchesAny(exclude, f) {
			continue
		}
		if len(include) == 0 || matchesAny(include, f) {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, file string) bool {
	for _, p := range patterns {
		if matchGlob(p, file) {
			return true
		}
	}
	return false
}

// matchGlob matches a slash-separated path against a glob: each segment
// follows path.Match, "**" spans any number of segments (including none),
// and a trailing "/" means everything below.
func matchGlob(pattern, name string) bool {
	pattern = strings.TrimPrefix(strings.TrimPrefix(pattern, "./"), "/")
	if strings.HasSuffix(pattern, "/") {
		pattern += "**"
	}
	return matchSegments(strings.Split(pattern, "/"), strings.Split(strings.TrimPrefix(name, "/"), "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// validateWatchPaths cleans and checks the user's patterns.
func validateWatchPaths(in []string) ([]string, error) {
	out := []string{}
	for _, p := range in {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if len(p) > maxWatchPathLen {
			return nil, fmt.Errorf("watch path %.40q… is longer than %d characters", p, maxWatchPathLen)
		}
		glob := strings.TrimPrefix(p, "!")
		if strings.Count(glob, "**") > maxGlobstarsInPat {
			return nil, fmt.Errorf("watch path %q has more than %d **", p, maxGlobstarsInPat)
		}
		for _, seg := range strings.Split(glob, "/") {
			if _, err := path.Match(seg, ""); err != nil {
				return nil, fmt.Errorf("watch path %q is not a valid glob", p)
			}
		}
		out = append(out, p)
	}
	if len(out) > maxWatchPaths {
		return nil, fmt.Errorf("at most %d watch paths", maxWatchPaths)
	}
	return out, nil
}

// validateDeployOn checks the deploy_on setting.
func validateDeployOn(v string) error {
	if v != db.DeployOnPush && v != db.DeployOnTag {
		return errors.New(`deploy on must be "push" or "tag"`)
	}
	return nil
}

// validateWebhookSecret bounds a user-chosen secret.
func validateWebhookSecret(s string) error {
	if s != "" && (len(s) < 8 || len(s) > 200) {
		return errors.New("webhook secret must be 8 to 200 characters (or empty to turn verification off)")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return errors.New("webhook secret must be one line")
	}
	return nil
}

// webhookURL is the address to paste into the git host.
func (h *Handler) webhookURL(w *db.Webhook) string {
	return strings.TrimSuffix(h.opts.PublicURL, "/") + "/api/deploy/" + w.Token
}
