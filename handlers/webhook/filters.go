package webhook

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"dokploy/db"
)

// ChooseEvent picks the event that deploys, or explains why none does.
func ChooseEvent(a *db.App, w *db.Webhook, events []PushEvent) (PushEvent, string) {
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
func ignoreReason(a *db.App, w *db.Webhook, ev PushEvent) string {
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
	if len(w.WatchPaths) > 0 && ev.Files != nil {
		if match, note := matchWatchPaths(w.WatchPaths, ev.Files); !match && note == "" {
			return fmt.Sprintf("no changed file matches the watch paths (%s)", strings.Join(w.WatchPaths, ", "))
		}
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
func imageReason(a *db.App, ev PushEvent) string {
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

// WatchNote explains a deploy that skipped the watch-path check.
func WatchNote(w *db.Webhook, ev PushEvent) string {
	if len(w.WatchPaths) == 0 {
		return ""
	}
	if ev.Files == nil {
		return "watch paths not checked: the payload lists no changed files"
	}
	_, note := matchWatchPaths(w.WatchPaths, ev.Files)
	return note
}

// Bounds on watch-path matching, whatever a payload lists: past them the
// push deploys with a note instead of being checked (deploying when unsure
// is the safe side: a missed deploy is a silent bug).
const (
	maxWatchFiles    = 5000    // files considered per delivery
	maxWatchSegments = 64      // path depth a file may have to be matched
	maxMatchSteps    = 200_000 // segment comparisons per delivery
)

// matchWatchPaths reports whether any file matches the patterns. Patterns
// starting with "!" exclude; with only exclusions, everything else matches.
// A non-empty note means the check was not done (too many files, a path
// too deep, or too much matching work) and the push should deploy.
func matchWatchPaths(patterns, files []string) (bool, string) {
	if len(files) > maxWatchFiles {
		return true, fmt.Sprintf("watch paths not checked: the push lists more than %d changed files", maxWatchFiles)
	}
	m := &globMatcher{steps: maxMatchSteps}
	var include, exclude []string
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "!"); ok {
			exclude = append(exclude, rest)
		} else {
			include = append(include, p)
		}
	}
	for _, f := range files {
		if strings.Count(f, "/") >= maxWatchSegments {
			return true, fmt.Sprintf("watch paths not checked: a changed file is more than %d directories deep", maxWatchSegments)
		}
		if m.any(exclude, f) {
			continue
		}
		if len(include) == 0 || m.any(include, f) {
			return true, ""
		}
		if m.steps <= 0 {
			return true, "watch paths not checked: matching them against this push took too long"
		}
	}
	return false, ""
}

// globMatcher matches with a budget of segment comparisons, so a hostile
// payload (deep paths against several **) cannot take unbounded time.
type globMatcher struct{ steps int }

func (m *globMatcher) any(patterns []string, file string) bool {
	for _, p := range patterns {
		if m.match(p, file) {
			return true
		}
	}
	return false
}

// matchGlob matches a slash-separated path against a glob: each segment
// follows path.Match, "**" spans any number of segments (including none),
// and a trailing "/" means everything below.
func (m *globMatcher) match(pattern, name string) bool {
	pattern = strings.TrimPrefix(strings.TrimPrefix(pattern, "./"), "/")
	if strings.HasSuffix(pattern, "/") {
		pattern += "**"
	}
	return m.segments(strings.Split(pattern, "/"), strings.Split(strings.TrimPrefix(name, "/"), "/"))
}

func (m *globMatcher) segments(pat, name []string) bool {
	for len(pat) > 0 {
		if m.steps--; m.steps < 0 {
			return false
		}
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if m.segments(pat[1:], name[i:]) {
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

// ValidateWatchPaths cleans and checks the user's patterns.
func ValidateWatchPaths(in []string) ([]string, error) {
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
	if len(out) > MaxWatchPaths {
		return nil, fmt.Errorf("at most %d watch paths", MaxWatchPaths)
	}
	return out, nil
}

// ValidateDeployOn checks the deploy_on setting.
func ValidateDeployOn(v string) error {
	if v != db.DeployOnPush && v != db.DeployOnTag {
		return errors.New(`deploy on must be "push" or "tag"`)
	}
	return nil
}

// ValidateSecret bounds a user-chosen secret.
func ValidateSecret(s string) error {
	if s != "" && (len(s) < 8 || len(s) > 200) {
		return errors.New("webhook secret must be 8 to 200 characters (or empty to turn verification off)")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return errors.New("webhook secret must be one line")
	}
	return nil
}
