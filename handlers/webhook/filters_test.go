package webhook

import "testing"

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
		if got := matchGlob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
	if !matchWatchPaths([]string{"!docs/**"}, []string{"docs/a.md", "main.go"}) {
		t.Error("only exclusions: other files must match")
	}
	if matchWatchPaths([]string{"!docs/**"}, []string{"docs/a.md"}) {
		t.Error("excluded file matched")
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
