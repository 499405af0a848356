package ops

import (
	"strings"
	"testing"

	"dokploy/db"
)

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"you@example.com", true},
		{"a.b+tag@sub.example.co", true},
		{"", false},
		{"plain", false},
		{"Name <you@example.com>", false},
		{" you@example.com", false},
		{"you@example.com\nBcc: x@y.z", false},
		{strings.Repeat("a", 250) + "@example.com", false},
	}
	for _, tc := range tests {
		if err := ValidateEmail(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateEmail(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestValidateDisplayName(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"simple", "shop", true},
		{"spaces dots dashes", "Shop web_2.0-beta", true},
		{"unicode letters", "Café Zürich", true},
		{"64 runes", strings.Repeat("é", 64), true},
		{"empty", "", false},
		{"65 runes", strings.Repeat("a", 65), false},
		{"semicolon", "a;rm -rf /", false},
		{"command substitution", "$(id)", false},
		{"backticks", "`id`", false},
		{"pipe", "a|b", false},
		{"redirect", "a>b", false},
		{"quote", `a"b`, false},
		{"html", "<b>", false},
		{"leading dash", "-rf", false},
		{"leading dot", "../x", false},
		{"leading space", " shop", false},
		{"newline", "a\nb", false},
		{"nul", "a\x00b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateDisplayName(tc.in); (err == nil) != tc.ok {
				t.Errorf("ValidateDisplayName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestValidateAppName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"web", true},
		{"shop-web-2", true},
		{"a", true},
		{strings.Repeat("a", 48), true},
		{strings.Repeat("a", 49), false},
		{"", false},
		{"Web", false},
		{"web_1", false},
		{"2web", false},
		{"web-", false},
		{"-web", false},
		{"web.app", false},
		{"a;rm", false},
		{"dokploy", false},
		{"dokploy-traefik", false},
	}
	for _, tc := range tests {
		if err := ValidateAppName(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateAppName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func validGitApp() db.App {
	return db.App{Name: "Shop web", AppName: "shop-web", SourceType: db.SourceGit,
		GitURL: "https://github.com/example/shop.git", GitBranch: "main", GitContext: ".", GitDockerfile: "Dockerfile",
		Port: 3000, Replicas: 1}
}

func validImageApp() db.App {
	return db.App{Name: "Cache", AppName: "cache", SourceType: db.SourceImage, Image: "redis:7", Port: 6379, Replicas: 1}
}

func TestValidateApp(t *testing.T) {
	tests := []struct {
		name   string
		base   func() db.App
		mutate func(*db.App)
		field  string // "" means valid
	}{
		{"valid git", validGitApp, func(*db.App) {}, ""},
		{"valid image", validImageApp, func(*db.App) {}, ""},
		{"scp-like url", validGitApp, func(a *db.App) { a.GitURL = "git@github.com:example/shop.git" }, ""},
		{"ssh url with a user", validGitApp, func(a *db.App) { a.GitURL = "ssh://git@github.com/example/shop.git" }, ""},
		{"token in an https url", validGitApp, func(a *db.App) { a.GitURL = "https://ghp_abc123@github.com/example/shop.git" }, "git_url"},
		{"user and token in an https url", validGitApp, func(a *db.App) { a.GitURL = "https://oauth2:glpat-x@gitlab.com/example/shop.git" }, "git_url"},
		{"password in an ssh url", validGitApp, func(a *db.App) { a.GitURL = "ssh://git:hunter2@example.com/shop.git" }, "git_url"},
		{"nested paths", validGitApp, func(a *db.App) { a.GitContext = "services/api"; a.GitDockerfile = "docker/Dockerfile.prod" }, ""},
		{"image with registry", validImageApp, func(a *db.App) { a.Image = "ghcr.io/o/app@sha256:" + strings.Repeat("a", 64) }, ""},
		{"limits", validGitApp, func(a *db.App) { a.MemoryLimitMB = 512; a.CPULimit = 1.5; a.Replicas = 0 }, ""},
		{"build target", validGitApp, func(a *db.App) { a.BuildTarget = "Runtime" }, ""},

		{"empty name", validGitApp, func(a *db.App) { a.Name = "" }, "name"},
		{"bad app name", validGitApp, func(a *db.App) { a.AppName = "Shop_Web" }, "app_name"},
		{"url option", validGitApp, func(a *db.App) { a.GitURL = "--upload-pack=touch /tmp/x" }, "git_url"},
		{"url ext helper", validGitApp, func(a *db.App) { a.GitURL = "ext::sh" }, "git_url"},
		{"url fd helper", validGitApp, func(a *db.App) { a.GitURL = "fd::17" }, "git_url"},
		{"url file", validGitApp, func(a *db.App) { a.GitURL = "file:///etc" }, "git_url"},
		{"url local path", validGitApp, func(a *db.App) { a.GitURL = "/srv/repo" }, "git_url"},
		{"url ssh host option", validGitApp, func(a *db.App) { a.GitURL = "ssh://-oProxyCommand=x/repo" }, "git_url"},
		{"branch dots", validGitApp, func(a *db.App) { a.GitBranch = "a..b" }, "git_branch"},
		{"branch option", validGitApp, func(a *db.App) { a.GitBranch = "-f" }, "git_branch"},
		{"branch space", validGitApp, func(a *db.App) { a.GitBranch = "a b" }, "git_branch"},
		{"dockerfile escape", validGitApp, func(a *db.App) { a.GitDockerfile = "../x" }, "git_dockerfile"},
		{"dockerfile deep escape", validGitApp, func(a *db.App) { a.GitDockerfile = "a/../../x" }, "git_dockerfile"},
		{"context absolute", validGitApp, func(a *db.App) { a.GitContext = "/etc" }, "git_context"},
		{"context backslash", validGitApp, func(a *db.App) { a.GitContext = `..\x` }, "git_context"},
		{"empty context", validGitApp, func(a *db.App) { a.GitContext = "" }, "git_context"},
		{"build target shell", validGitApp, func(a *db.App) { a.BuildTarget = "a;b" }, "build_target"},
		{"image upper case", validImageApp, func(a *db.App) { a.Image = "UPPER CASE" }, "image"},
		{"image empty", validImageApp, func(a *db.App) { a.Image = "" }, "image"},
		{"image option", validImageApp, func(a *db.App) { a.Image = "--help" }, "image"},
		{"registry with path", validImageApp, func(a *db.App) { a.RegistryServer = "ghcr.io/evil" }, "registry_server"},
		{"registry user newline", validImageApp, func(a *db.App) { a.RegistryUsername = "a\nb" }, "registry_username"},
		{"unknown source", validGitApp, func(a *db.App) { a.SourceType = "svn" }, "source_type"},
		{"port zero", validGitApp, func(a *db.App) { a.Port = 0 }, "port"},
		{"port too high", validGitApp, func(a *db.App) { a.Port = 70000 }, "port"},
		{"replicas negative", validGitApp, func(a *db.App) { a.Replicas = -1 }, "replicas"},
		{"replicas too many", validGitApp, func(a *db.App) { a.Replicas = 101 }, "replicas"},
		{"memory below minimum", validGitApp, func(a *db.App) { a.MemoryLimitMB = 5 }, "memory_limit_mb"},
		{"memory negative", validGitApp, func(a *db.App) { a.MemoryLimitMB = -1 }, "memory_limit_mb"},
		{"cpu negative", validGitApp, func(a *db.App) { a.CPULimit = -0.5 }, "cpu_limit"},
		{"cpu too many", validGitApp, func(a *db.App) { a.CPULimit = 1000 }, "cpu_limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.base()
			tc.mutate(&a)
			errs := ValidateApp(&a)
			if tc.field == "" {
				if len(errs) != 0 {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[tc.field] == "" {
				t.Fatalf("want exactly one error on %s, got %v", tc.field, errs)
			}
		})
	}
	// Every problem is reported at once, one message per field.
	a := db.App{SourceType: db.SourceGit, GitURL: "ext::sh", GitBranch: "a..b", GitContext: "/", GitDockerfile: "../D", Port: 0, Replicas: -1}
	errs := ValidateApp(&a)
	for _, f := range []string{"name", "app_name", "git_url", "git_branch", "git_context", "git_dockerfile", "port", "replicas"} {
		if errs[f] == "" {
			t.Errorf("no message for %s in %v", f, errs)
		}
	}
}

func TestParseDotEnv(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []db.Variable
		err  string
	}{
		{"empty", "", nil, ""},
		{"comments and blanks", "# c\n\n  # indented\n", nil, ""},
		{"simple", "A=1\nB=two", []db.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "two"}}, ""},
		{"crlf", "A=1\r\nB=2\r\n", []db.Variable{{Key: "A", Value: "1"}, {Key: "B", Value: "2"}}, ""},
		{"export", "export TOKEN=abc", []db.Variable{{Key: "TOKEN", Value: "abc"}}, ""},
		{"equals in value", "URL=postgres://u:p@h/db?a=b", []db.Variable{{Key: "URL", Value: "postgres://u:p@h/db?a=b"}}, ""},
		{"double quotes with escapes", `MSG="line1\nsay \"hi\" \\o/"`, []db.Variable{{Key: "MSG", Value: "line1\nsay \"hi\" \\o/"}}, ""},
		{"single quotes are literal", `RAW='a\nb "c"'`, []db.Variable{{Key: "RAW", Value: `a\nb "c"`}}, ""},
		{"spaces around", "  KEY = value  ", []db.Variable{{Key: "KEY", Value: "value"}}, ""},
		{"empty value", "EMPTY=", []db.Variable{{Key: "EMPTY", Value: ""}}, ""},
		{"lone quote kept", `Q="`, []db.Variable{{Key: "Q", Value: `"`}}, ""},
		{"missing equals", "A=1\nNOVALUE", nil, "line 2"},
		{"bad key", "BAD-KEY=1", nil, "not a valid variable name"},
		{"digit first", "1A=1", nil, "not a valid variable name"},
		{"shell key", "$(id)=1", nil, "not a valid variable name"},
		{"duplicate", "A=1\nA=2", nil, "defined twice"},
		{"nul in value", "A=a\x00b", nil, "NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDotEnv(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error containing %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("variable %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestValidateVariablesLimits(t *testing.T) {
	if err := ValidateVariables([]db.Variable{{Key: strings.Repeat("K", 129), Value: "v"}}); err == nil {
		t.Error("129-character key accepted")
	}
	if err := ValidateVariables([]db.Variable{{Key: "BIG", Value: strings.Repeat("v", 64*1024+1)}}); err == nil {
		t.Error("value over 64 KiB accepted")
	}
	many := make([]db.Variable, 501)
	for i := range many {
		many[i] = db.Variable{Key: "K" + strings.Repeat("X", i%50) + string(rune('A'+i%26)) + strings.Repeat("Y", i/26)}
	}
	if err := ValidateVariables(many); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("501 variables: %v", err)
	}
}

func TestValidatePorts(t *testing.T) {
	p := func(pub, target int, proto, mode string) db.Port {
		return db.Port{Published: pub, Target: target, Protocol: proto, Mode: mode}
	}
	tests := []struct {
		name  string
		ports []db.Port
		err   string
	}{
		{"none", nil, ""},
		{"tcp and udp on one number", []db.Port{p(5433, 5433, "tcp", "host"), p(5433, 5433, "udp", "ingress")}, ""},
		{"published zero", []db.Port{p(0, 80, "tcp", "host")}, "between 1 and 65535"},
		{"target too high", []db.Port{p(8080, 70000, "tcp", "host")}, "between 1 and 65535"},
		{"bad protocol", []db.Port{p(8080, 80, "sctp", "host")}, "protocol"},
		{"bad mode", []db.Port{p(8080, 80, "tcp", "bridge")}, "mode"},
		{"traefik http", []db.Port{p(80, 80, "tcp", "host")}, "used by dokploy or Traefik"},
		{"traefik https", []db.Port{p(443, 80, "tcp", "host")}, "used by dokploy or Traefik"},
		{"dashboard", []db.Port{p(3000, 80, "tcp", "host")}, "used by dokploy or Traefik"},
		{"duplicate", []db.Port{p(8080, 80, "tcp", "host"), p(8080, 81, "tcp", "ingress")}, "listed twice"},
		{"ssh", []db.Port{p(22, 22, "tcp", "host")}, "(SSH)"},
		{"postgres", []db.Port{p(5432, 5432, "tcp", "host")}, "(PostgreSQL)"},
		{"redis", []db.Port{p(6379, 6379, "tcp", "ingress")}, "(Redis)"},
		{"traefik api", []db.Port{p(8089, 80, "tcp", "host")}, "(Traefik's API)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePorts(tc.ports, DefaultReservedPorts)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("want error containing %q, got %v", tc.err, err)
			}
		})
	}
}

func TestValidateVolumes(t *testing.T) {
	tests := []struct {
		name    string
		vols    []db.AppVolume
		wantErr string
	}{
		{"ok", []db.AppVolume{{Name: "uploads", Path: "/app/uploads/"}, {Name: "cache-2", Path: "/var/cache"}}, ""},
		{"upper case", []db.AppVolume{{Name: "Uploads", Path: "/x"}}, "lowercase"},
		{"too long", []db.AppVolume{{Name: strings.Repeat("a", 41), Path: "/x"}}, "1 to 40"},
		{"trailing dash", []db.AppVolume{{Name: "a-", Path: "/x"}}, "1 to 40"},
		{"relative", []db.AppVolume{{Name: "a", Path: "app/x"}}, "absolute"},
		{"dotdot", []db.AppVolume{{Name: "a", Path: "/app/../etc"}}, ".."},
		{"root", []db.AppVolume{{Name: "a", Path: "//"}}, "/ itself"},
		{"same name", []db.AppVolume{{Name: "a", Path: "/x"}, {Name: "a", Path: "/y"}}, "twice"},
		{"same path", []db.AppVolume{{Name: "a", Path: "/x"}, {Name: "b", Path: "/x/"}}, "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateVolumes(tc.vols)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if tc.vols[0].Path != "/app/uploads" {
					t.Fatalf("path not cleaned: %q", tc.vols[0].Path)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// The suggestion must always be a name ValidateAppName accepts, or "".
func TestSuggestServiceName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Shop web", "shop-web"},
		{"  Shop  Web!! ", "shop-web"},
		{"Café Zürich", "caf-z-rich"},
		{"2048 game", "app-2048-game"},
		{"---", ""},
		{"", ""},
		{strings.Repeat("ab ", 40), strings.TrimRight(strings.Repeat("ab-", 16), "-")},
	}
	for _, tc := range tests {
		got := SuggestServiceName(tc.in, "app-")
		if got != tc.want {
			t.Errorf("SuggestServiceName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got != "" {
			if err := ValidateAppName(got); err != nil {
				t.Errorf("SuggestServiceName(%q) = %q, which ValidateAppName refuses: %v", tc.in, got, err)
			}
		}
	}
}

func TestValidatePlacement(t *testing.T) {
	tests := []struct {
		constraints []string
		max         int
		field       string // "" = valid
		msg         string
	}{
		{nil, 0, "", ""},
		{[]string{"node.role==manager", "node.labels.region == eu", "node.hostname!=db1", "engine.labels.disk==ssd",
			"node.platform.os==linux", "node.platform.arch!=arm64", "node.id==abc123"}, 3, "", ""},
		{[]string{"node.role==boss"}, 0, "placement_constraints", "node.role must be manager or worker"},
		{[]string{"node.labels.region=eu"}, 0, "placement_constraints", "must be <key>==<value>"},
		{[]string{"node.colour==red"}, 0, "placement_constraints", "unknown key"},
		{[]string{"==eu"}, 0, "placement_constraints", "must be"},
		{[]string{"node.labels.==eu"}, 0, "placement_constraints", "label name"},
		{[]string{"node.labels.a==b==c"}, 0, "placement_constraints", "must be"},
		{[]string{"node.hostname==a b"}, 0, "placement_constraints", "spaces"},
		{[]string{"node.hostname==a\x00"}, 0, "placement_constraints", "control characters"},
		{[]string{"node.labels.x==" + strings.Repeat("a", 300)}, 0, "placement_constraints", "longer than 256"},
		{make([]string, 21), 0, "placement_constraints", "at most 20"},
		{[]string{"node.role==worker", "nope"}, 0, "placement_constraints", "constraint 2"},
		{nil, -1, "max_replicas_per_node", "between 0 (no limit) and 1000"},
		{nil, 1001, "max_replicas_per_node", "between 0"},
	}
	for _, tc := range tests {
		errs := ValidatePlacement(tc.constraints, tc.max)
		if tc.field == "" {
			if len(errs) > 0 {
				t.Errorf("ValidatePlacement(%q, %d) = %v, want valid", tc.constraints, tc.max, errs)
			}
			continue
		}
		if !strings.Contains(errs[tc.field], tc.msg) {
			t.Errorf("ValidatePlacement(%q, %d)[%s] = %q, want it to mention %q", tc.constraints, tc.max, tc.field, errs[tc.field], tc.msg)
		}
	}
	if got := ParseConstraints(" node.role==worker \r\n\n node.labels.a==b\n"); strings.Join(got, "|") != "node.role==worker|node.labels.a==b" {
		t.Errorf("ParseConstraints = %q", got)
	}
}
