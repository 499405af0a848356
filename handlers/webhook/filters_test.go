package webhook

import (
	"strings"
	"testing"
)

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"src/**", "src/a.go", true},
		{"src/**", "src/a/b/c.go", true},
		{"src/**", "srcx/a.go", false},
		{"src/", "src/a/b.go", true},
		{"Dockerfile", "Dockerfile", true},
		{"Dockerfile", "api/Dockerfile", false},
		{"**/Dockerfile", "api/Dockerfile", true},
		{"**/Dockerfile", "Dockerfile", true},
		{"*.md", "README.md", true},
		{"*.md", "docs/README.md", false},
		{"docs/**/*.md", "docs/a/b/c.md", true},
		{"docs/**/*.md", "docs/c.md", true},
		{"docs/**/*.md", "docs/c.txt", false},
		{"./web/*", "web/index.html", true},
		{"/web/*", "web/index.html", true},
		{"a/**/b/**/c", "a/x/b/y/z/c", true},
		{"a/**/b/**/c", "a/x/y/z/c", false},
		{"[bad", "bad", false},
	}
	for _, tc := range tests {
		if got := (&globMatcher{steps: maxMatchSteps}).match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
	if ok, note := matchWatchPaths([]string{"!docs/**"}, []string{"docs/a.md", "main.go"}); !ok || note != "" {
		t.Error("only exclusions: other files must match")
	}
	if ok, _ := matchWatchPaths([]string{"!docs/**"}, []string{"docs/a.md"}); ok {
		t.Error("excluded file matched")
	}
}

// TestMatchWatchPaths_HostilePayloadIsBounded: deep paths against
// patterns full of ** (work grows as depth^4 unbounded), or a huge file
// list, end the check early with a note and deploy instead of hanging.
func TestMatchWatchPaths_HostilePayloadIsBounded(t *testing.T) {
	worst := []string{"**/a/**/b/**/c/**/never"}
	deep := strings.Repeat("a/b/c/", maxWatchSegments/3-1) + "x" // just under the depth cap
	files := make([]string, 2000)
	for i := range files {
		files[i] = deep
	}
	ok, note := matchWatchPaths(worst, files)
	if !ok || !strings.Contains(note, "took too long") {
		t.Errorf("deep paths: %v %q, want a deploy with the too-long note", ok, note)
	}
	tooDeep := strings.Repeat("d/", maxWatchSegments) + "x"
	if ok, note := matchWatchPaths([]string{"src/**"}, []string{tooDeep}); !ok || !strings.Contains(note, "directories deep") {
		t.Errorf("too deep: %v %q", ok, note)
	}
	many := make([]string, maxWatchFiles+1)
	for i := range many {
		many[i] = "docs/a.md"
	}
	if ok, note := matchWatchPaths([]string{"src/**"}, many); !ok || !strings.Contains(note, "more than 5000") {
		t.Errorf("many files: %v %q", ok, note)
	}
	// Within the bounds the answer is exact.
	if ok, note := matchWatchPaths([]string{"src/**"}, []string{"docs/a.md", "src/x/y.go"}); !ok || note != "" {
		t.Errorf("normal push: %v %q", ok, note)
	}
	if ok, note := matchWatchPaths([]string{"src/**"}, []string{"docs/a.md"}); ok || note != "" {
		t.Errorf("non-matching push: %v %q", ok, note)
	}
}

func TestSplitImageAndNormaliseRepo(t *testing.T) {
	tests := []struct{ ref, repo, tag string }{
		{"nginx", "nginx", "latest"},
		{"acme/shop:stable", "acme/shop", "stable"},
		{"registry.example.com:5000/acme/shop", "registry.example.com:5000/acme/shop", "latest"},
		{"registry.example.com:5000/acme/shop:v2@sha256:abc", "registry.example.com:5000/acme/shop", "v2"},
	}
	for _, tc := range tests {
		if repo, tag := splitImage(tc.ref); repo != tc.repo || tag != tc.tag {
			t.Errorf("splitImage(%q) = %q %q", tc.ref, repo, tag)
		}
	}
	if normaliseRepo("docker.io/library/nginx") != normaliseRepo("nginx") {
		t.Error("docker.io/library/nginx and nginx differ")
	}
}
