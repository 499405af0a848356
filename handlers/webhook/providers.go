package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DetectProvider recognises the sender by its event header. Gitea also sends
// X-GitHub-Event for compatibility, so it is checked first.
func DetectProvider(hdr http.Header) string {
	switch {
	case hdr.Get("X-Gitea-Event") != "":
		return ProviderGitea
	case hdr.Get("X-GitHub-Event") != "":
		return ProviderGitHub
	case hdr.Get("X-Gitlab-Event") != "":
		return ProviderGitLab
	case hdr.Get("X-Event-Key") != "":
		return ProviderBitbucket
	}
	return ProviderGeneric
}

// EventHeader is the provider's own event name, recorded even when the
// delivery is rejected before its body is read.
func EventHeader(provider string, hdr http.Header) string {
	switch provider {
	case ProviderGitea:
		return hdr.Get("X-Gitea-Event")
	case ProviderGitHub:
		return hdr.Get("X-GitHub-Event")
	case ProviderGitLab:
		return hdr.Get("X-Gitlab-Event")
	case ProviderBitbucket:
		return hdr.Get("X-Event-Key")
	}
	return ""
}

// LooksLikeDockerHub recognises Docker Hub's body: it sends no event header.
func LooksLikeDockerHub(body []byte) bool {
	if len(body) == 0 || !bytes.Contains(body, []byte(`"push_data"`)) {
		return false
	}
	var probe struct {
		PushData json.RawMessage `json:"push_data"`
	}
	return json.Unmarshal(body, &probe) == nil && len(probe.PushData) > 0
}

// Verify checks the provider's proof that the sender knows the
// secret. Every comparison is constant-time.
func Verify(provider string, r *http.Request, body []byte, secret string) error {
	switch provider {
	case ProviderGitHub:
		return verifyHMAC(r.Header.Get("X-Hub-Signature-256"), "sha256=", "X-Hub-Signature-256", body, secret)
	case ProviderGitea:
		if sig := r.Header.Get("X-Gitea-Signature"); sig != "" {
			return verifyHMAC(sig, "", "X-Gitea-Signature", body, secret)
		}
		return verifyHMAC(r.Header.Get("X-Hub-Signature-256"), "sha256=", "X-Gitea-Signature", body, secret)
	case ProviderBitbucket:
		// Bitbucket Cloud signs with X-Hub-Signature: sha256=<hex> once a
		// secret is set on the webhook; older hooks cannot sign at all.
		sig := r.Header.Get("X-Hub-Signature")
		if sig == "" {
			sig = r.Header.Get("X-Hub-Signature-256")
		}
		return verifyHMAC(sig, "sha256=", "X-Hub-Signature", body, secret)
	case ProviderGitLab:
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

// Parse turns a body into events, one per ref it names (Bitbucket
// can report several branches in one push; the others report one).
func Parse(provider string, r *http.Request, body []byte) ([]PushEvent, error) {
	body, err := formPayload(r, body)
	if err != nil {
		return nil, err
	}
	switch provider {
	case ProviderGitHub:
		return parseGitHub(r.Header.Get("X-GitHub-Event"), body)
	case ProviderGitea:
		return parseGitHub(r.Header.Get("X-Gitea-Event"), body)
	case ProviderGitLab:
		return parseGitLab(r.Header.Get("X-Gitlab-Event"), body)
	case ProviderBitbucket:
		return parseBitbucket(r.Header.Get("X-Event-Key"), body)
	case ProviderDockerHub:
		return parseDockerHub(body)
	}
	return []PushEvent{{Event: "call", IsPush: true}}, nil
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
func parseGitHub(event string, body []byte) ([]PushEvent, error) {
	switch event {
	case "ping":
		return []PushEvent{{Event: "ping", Ping: true}}, nil
	case "push":
	default:
		return []PushEvent{{Event: event}}, nil
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
	ev := PushEvent{Event: "push", IsPush: true, Ref: p.Ref, Commit: p.After, Deleted: p.Deleted || isZeroSHA(p.After),
		Files: changedFiles(p.Commits)}
	if p.HeadCommit != nil {
		ev.Commit, ev.Message = p.HeadCommit.ID, p.HeadCommit.Message
	} else if n := len(p.Commits); n > 0 {
		ev.Message = p.Commits[n-1].Message
	}
	return []PushEvent{ev}, nil
}

// parseGitLab reads GitLab's "Push Hook" and "Tag Push Hook".
func parseGitLab(event string, body []byte) ([]PushEvent, error) {
	var name string
	switch event {
	case "Push Hook":
		name = "push"
	case "Tag Push Hook":
		name = "tag_push"
	default:
		return []PushEvent{{Event: event}}, nil
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
	ev := PushEvent{Event: name, IsPush: true, Ref: p.Ref, Commit: p.After, Message: p.Message, Files: changedFiles(p.Commits)}
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
	return []PushEvent{ev}, nil
}

// parseBitbucket reads Bitbucket Cloud's repo:push. Its payload names no
// changed files, so watch paths cannot be checked for it.
func parseBitbucket(event string, body []byte) ([]PushEvent, error) {
	if event != "repo:push" {
		return []PushEvent{{Event: event}}, nil
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
	var out []PushEvent
	for _, ch := range p.Push.Changes {
		ev := PushEvent{Event: "repo:push", IsPush: true}
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
func parseDockerHub(body []byte) ([]PushEvent, error) {
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
	return []PushEvent{{Event: "push", IsPush: true, Image: p.Repository.RepoName, Tag: tag}}, nil
}

func isZeroSHA(s string) bool { return s != "" && strings.Trim(s, "0") == "" }

// formPayload unwraps GitHub's and Gitea's "application/x-www-form-urlencoded"
// content type (GitHub's default), which sends the JSON as the payload field.
// Signatures cover the raw body, so this runs after verification.
func formPayload(r *http.Request, body []byte) ([]byte, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return nil, errors.New("form-encoded delivery without a payload field; set the webhook's content type to application/json")
	}
	return []byte(form.Get("payload")), nil
}

// DeliveryID is the provider's id of one delivery (the same on its retries),
// or "" when the provider sends none.
func DeliveryID(provider string, hdr http.Header) string {
	switch provider {
	case ProviderGitHub:
		return hdr.Get("X-GitHub-Delivery")
	case ProviderGitLab:
		return hdr.Get("X-Gitlab-Event-UUID")
	case ProviderGitea:
		return hdr.Get("X-Gitea-Delivery")
	case ProviderBitbucket:
		return hdr.Get("X-Request-UUID")
	}
	return ""
}
