package ops

import (
	"errors"
	"fmt"
	"net/mail"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"dokploy/db"
	"dokploy/jobs/docker"
	"dokploy/jobs/git"
)

var (
	displayNameRe = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._-]*$`)
	appNameRe     = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	envKeyRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidateEmail accepts a plain address (no display name).
func ValidateEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return errors.New("enter a valid email address like you@example.com")
	}
	return nil
}

// ValidateDisplayName checks names of projects, environments and apps:
// letters, digits, spaces, dot, dash, underscore; no shell metacharacters.
func ValidateDisplayName(s string) error {
	switch {
	case s == "":
		return errors.New("name is required")
	case utf8.RuneCountInString(s) > 64:
		return errors.New("name must be at most 64 characters")
	case !displayNameRe.MatchString(s):
		return errors.New("name may contain only letters, digits, spaces, dot, dash and underscore, and must start with a letter or digit")
	}
	return nil
}

// ValidateAppName checks the appName slug: a DNS label, since it names the
// Swarm service, its DNS entry on the overlay network and its images.
var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

// SuggestServiceName turns a display name into the DNS label that names a
// service when the user leaves that field empty ("Shop Web" → shop-web),
// prefixed when it would not start with a letter; "" when nothing usable
// is left. The forms' placeholders show the same (static/pages.js).
func SuggestServiceName(display, prefix string) string {
	s := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(display), "-"), "-")
	if s != "" && (s[0] < 'a' || s[0] > 'z') {
		s = prefix + s
	}
	if len(s) > 48 {
		s = strings.TrimRight(s[:48], "-")
	}
	return s
}

func ValidateAppName(s string) error {
	switch {
	case s == "":
		return errors.New("app name is required")
	case len(s) > 48:
		return errors.New("app name must be at most 48 characters")
	case !appNameRe.MatchString(s):
		return errors.New("app name must be lowercase letters, digits and dashes, start with a letter and not end with a dash")
	case strings.HasPrefix(s, "dokploy"):
		return errors.New(`app names starting with "dokploy" are reserved`)
	}
	return nil
}

// ValidateRelPath checks a path inside the checkout (build context, Dockerfile).
func ValidateRelPath(s, what string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is required", what)
	case len(s) > 255:
		return fmt.Errorf("%s must be at most 255 characters", what)
	case strings.HasPrefix(s, "/"):
		return fmt.Errorf("%s must be relative to the repository root, not absolute", what)
	case strings.ContainsAny(s, "\x00\n\r\\"):
		return fmt.Errorf("%s contains characters that are not allowed", what)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return fmt.Errorf("%s must stay inside the repository (no ..)", what)
		}
	}
	return nil
}

// ValidateApp checks every field of an app and returns one message per field.
func ValidateApp(a *db.App) map[string]string {
	errs := map[string]string{}
	add := func(field string, err error) {
		if err != nil {
			errs[field] = err.Error()
		}
	}
	add("name", ValidateDisplayName(a.Name))
	add("app_name", ValidateAppName(a.AppName))
	switch a.SourceType {
	case db.SourceGit:
		add("git_url", git.ValidateSavedURL(a.GitURL))
		add("git_branch", git.ValidateBranch(a.GitBranch))
		add("git_context", ValidateRelPath(a.GitContext, "build context"))
		add("git_dockerfile", ValidateRelPath(a.GitDockerfile, "Dockerfile path"))
		if a.BuildTarget != "" && !appNameRe.MatchString(strings.ToLower(a.BuildTarget)) {
			errs["build_target"] = "build target must be a stage name (letters, digits, dashes)"
		}
	case db.SourceImage:
		add("image", docker.ValidateImageRef(a.Image))
		validateRegistry(a.RegistryServer, a.RegistryUsername, errs)
	default:
		errs["source_type"] = `source must be "git" or "image"`
	}
	if a.Port < 1 || a.Port > 65535 {
		errs["port"] = "port must be between 1 and 65535"
	}
	if a.Replicas < 0 || a.Replicas > 100 {
		errs["replicas"] = "replicas must be between 0 and 100"
	}
	validateLimits(a.MemoryLimitMB, a.CPULimit, errs)
	validateHealth(a, errs)
	for k, v := range ValidatePlacement(a.PlacementConstraints, a.MaxReplicasPerNode) {
		errs[k] = v
	}
	return errs
}

// validateLimits checks a service's memory (MB) and CPU limits; 0 is none.
func validateLimits(memoryMB int, cpu float64, errs map[string]string) {
	if memoryMB < 0 || memoryMB > 1024*1024 {
		errs["memory_limit_mb"] = "memory limit must be between 0 (no limit) and 1048576 MB"
	} else if memoryMB > 0 && memoryMB < 6 {
		errs["memory_limit_mb"] = "memory limit must be at least 6 MB (Docker's minimum)"
	}
	if cpu < 0 || cpu > 512 {
		errs["cpu_limit"] = "CPU limit must be between 0 (no limit) and 512"
	}
}

// validateRegistry checks the private registry of an image, if any.
func validateRegistry(server, username string, errs map[string]string) {
	if server != "" && (strings.ContainsAny(server, " /\\@\x00") || len(server) > 253) {
		errs["registry_server"] = "registry must be a host name like ghcr.io or registry.example.com:5000"
	}
	if len(username) > 200 || strings.ContainsAny(username, "\n\r\x00") {
		errs["registry_username"] = "registry username is invalid"
	}
}

// validateHealth checks the HTTP health check and shutdown settings; zero
// values mean "use the default".
func validateHealth(a *db.App, errs map[string]string) {
	if a.HealthPath != "" {
		if err := ValidateURLPath(a.HealthPath); err != nil {
			errs["health_path"] = err.Error()
		}
	}
	between := func(field string, v, lo, hi int, msg string) {
		if v != 0 && (v < lo || v > hi) {
			errs[field] = msg
		}
	}
	between("health_port", a.HealthPort, 1, 65535, "health check port must be between 1 and 65535 (0 = the container port)")
	between("health_status", a.HealthStatus, 100, 599, "expected status must be an HTTP status code like 200")
	between("health_interval", a.HealthInterval, 1, 3600, "interval must be between 1 and 3600 seconds")
	between("health_timeout", a.HealthTimeout, 1, 600, "timeout must be between 1 and 600 seconds")
	between("health_retries", a.HealthRetries, 1, 100, "retries must be between 1 and 100")
	between("health_start_period", a.HealthStartPeriod, 0, 3600, "start period must be between 0 and 3600 seconds")
	between("stop_grace_period", a.StopGracePeriod, 0, 3600, "stop grace period must be between 0 and 3600 seconds")
	if a.HealthPort < 0 || a.HealthInterval < 0 || a.HealthTimeout < 0 || a.HealthRetries < 0 || a.HealthStartPeriod < 0 || a.StopGracePeriod < 0 {
		errs["health_path"] = "health check numbers cannot be negative"
	}
}

// ValidateURLPath accepts an absolute URL path without spaces, quotes or
// control characters (it ends up in a command line, as an argument).
func ValidateURLPath(p string) error {
	if !strings.HasPrefix(p, "/") || len(p) > 512 {
		return errors.New("path must start with / (at most 512 characters)")
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("\"'`<>\\{}|^", r) {
			return fmt.Errorf("path contains %q, which is not allowed in a URL path", r)
		}
	}
	return nil
}

// ValidateVariables checks keys and sizes of env vars or build args.
func ValidateVariables(vars []db.Variable) error {
	seen := map[string]bool{}
	if len(vars) > 500 {
		return errors.New("at most 500 variables")
	}
	for _, v := range vars {
		switch {
		case !envKeyRe.MatchString(v.Key) || len(v.Key) > 128:
			return fmt.Errorf("%q is not a valid variable name (letters, digits, underscore; not starting with a digit)", v.Key)
		case seen[v.Key]:
			return fmt.Errorf("variable %s is defined twice", v.Key)
		case len(v.Value) > 64*1024:
			return fmt.Errorf("value of %s is longer than 64 KiB", v.Key)
		case strings.ContainsRune(v.Value, 0):
			return fmt.Errorf("value of %s contains a NUL byte", v.Key)
		}
		seen[v.Key] = true
	}
	return nil
}

// ParseDotEnv reads a pasted .env block: KEY=VALUE lines, optional
// "export ", comments, and single- or double-quoted values.
func ParseDotEnv(text string) ([]db.Variable, error) {
	var out []db.Variable
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected KEY=VALUE", i+1)
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		if n := len(value); n >= 2 && (value[0] == '"' && value[n-1] == '"' || value[0] == '\'' && value[n-1] == '\'') {
			quote := value[0]
			value = value[1 : n-1]
			if quote == '"' {
				value = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(value)
			}
		}
		out = append(out, db.Variable{Key: key, Value: value})
	}
	return out, ValidateVariables(out)
}

// DefaultReservedPorts are the host ports the platform itself uses with
// its default configuration; New's caller passes the real ones.
var DefaultReservedPorts = map[int]string{
	22: "SSH", 80: "Traefik HTTP", 443: "Traefik HTTPS", 3000: "the dashboard",
	5432: "PostgreSQL", 6379: "Redis", 8089: "Traefik's API",
}

// ValidatePorts checks published ports; none may take a port of reserved
// (port → what uses it).
func ValidatePorts(ports []db.Port, reserved map[int]string) error {
	seen := map[string]bool{}
	for _, p := range ports {
		key := fmt.Sprintf("%d/%s", p.Published, p.Protocol)
		switch {
		case p.Published < 1 || p.Published > 65535 || p.Target < 1 || p.Target > 65535:
			return fmt.Errorf("ports must be between 1 and 65535 (got %d:%d)", p.Published, p.Target)
		case p.Protocol != "tcp" && p.Protocol != "udp":
			return fmt.Errorf("protocol must be tcp or udp (got %q)", p.Protocol)
		case p.Mode != "host" && p.Mode != "ingress":
			return fmt.Errorf("mode must be host or ingress (got %q)", p.Mode)
		case reserved[p.Published] != "":
			return fmt.Errorf("port %d is used by dokploy or Traefik (%s)", p.Published, reserved[p.Published])
		case seen[key]:
			return fmt.Errorf("port %s is listed twice", key)
		}
		seen[key] = true
	}
	return nil
}

// volumeNameRe is a volume's name: a DNS-style label of 1–40 characters.
var volumeNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// ValidateVolumes checks an app's volumes and cleans their paths: names
// are DNS-style labels of 1–40 characters, paths absolute and not /, with
// no .. segment; each name and path once.
func ValidateVolumes(vols []db.AppVolume) error {
	names, paths := map[string]bool{}, map[string]bool{}
	for i := range vols {
		v := &vols[i]
		v.Name, v.Path = strings.TrimSpace(v.Name), strings.TrimSpace(v.Path)
		if !volumeNameRe.MatchString(v.Name) {
			return fmt.Errorf("volume name %q: use 1 to 40 lowercase letters, digits and dashes, starting and ending with a letter or digit", v.Name)
		}
		if !strings.HasPrefix(v.Path, "/") {
			return fmt.Errorf("volume %s: the path %q must be absolute, like /app/uploads", v.Name, v.Path)
		}
		for _, seg := range strings.Split(v.Path, "/") {
			if seg == ".." {
				return fmt.Errorf("volume %s: the path %q may not contain ..", v.Name, v.Path)
			}
		}
		v.Path = path.Clean(v.Path)
		switch {
		case v.Path == "/":
			return fmt.Errorf("volume %s: the path may not be / itself", v.Name)
		case v.Path == "/.dokploy" || strings.HasPrefix(v.Path, "/.dokploy/"):
			return fmt.Errorf("volume %s: %s is where dokploy mounts its probe", v.Name, v.Path)
		case names[v.Name]:
			return fmt.Errorf("the volume name %s is listed twice", v.Name)
		case paths[v.Path]:
			return fmt.Errorf("the path %s is mounted twice", v.Path)
		}
		names[v.Name], paths[v.Path] = true, true
	}
	return nil
}

// Placement limits: a few constraints of modest length, and a cap on
// tasks per node no real cluster reaches.
const (
	maxConstraints   = 20
	maxConstraintLen = 256
	maxPerNodeCap    = 1000
)

// ValidatePlacement checks a service's Swarm placement: each constraint is
// "<key>==<value>" or "<key>!=<value>" (spaces around the operator are
// allowed) with key node.id, node.hostname, node.role (manager or worker),
// node.platform.os, node.platform.arch, node.labels.<label> or
// engine.labels.<label>; maxPerNode is 0 (no cap) to 1000. It returns one
// message per field: placement_constraints and max_replicas_per_node.
func ValidatePlacement(constraints []string, maxPerNode int) map[string]string {
	errs := map[string]string{}
	if len(constraints) > maxConstraints {
		errs["placement_constraints"] = fmt.Sprintf("at most %d placement constraints", maxConstraints)
	}
	for i, c := range constraints {
		if _, ok := errs["placement_constraints"]; ok {
			break
		}
		if err := validateConstraint(c); err != nil {
			errs["placement_constraints"] = fmt.Sprintf("constraint %d: %v", i+1, err)
		}
	}
	if maxPerNode < 0 || maxPerNode > maxPerNodeCap {
		errs["max_replicas_per_node"] = fmt.Sprintf("max replicas per node must be between 0 (no limit) and %d", maxPerNodeCap)
	}
	return errs
}

var constraintLabelRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func validateConstraint(c string) error {
	const syntax = `must be <key>==<value> or <key>!=<value>, e.g. node.labels.region==eu`
	if len(c) > maxConstraintLen {
		return fmt.Errorf("longer than %d characters", maxConstraintLen)
	}
	if !utf8.ValidString(c) || strings.ContainsFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("contains control characters")
	}
	op := "=="
	i := strings.Index(c, "==")
	if j := strings.Index(c, "!="); j >= 0 && (i < 0 || j < i) {
		op, i = "!=", j
	}
	if i < 0 {
		return fmt.Errorf("%q %s", c, syntax)
	}
	key, value := strings.TrimSpace(c[:i]), strings.TrimSpace(c[i+len(op):])
	if key == "" || value == "" || strings.ContainsAny(value, "=!") {
		return fmt.Errorf("%q %s", c, syntax)
	}
	switch {
	case key == "node.role":
		if value != "manager" && value != "worker" {
			return fmt.Errorf("node.role must be manager or worker, not %q", value)
		}
	case key == "node.id", key == "node.hostname", key == "node.platform.os", key == "node.platform.arch":
	case strings.HasPrefix(key, "node.labels."), strings.HasPrefix(key, "engine.labels."):
		label := key[strings.Index(key, ".labels.")+len(".labels."):]
		if !constraintLabelRe.MatchString(label) {
			return fmt.Errorf("%q: label name must use letters, digits, dots, dashes and _", key)
		}
	default:
		return fmt.Errorf("unknown key %q: use node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<label> or engine.labels.<label>", key)
	}
	if strings.ContainsAny(value, " \t") {
		return fmt.Errorf("%q: the value cannot contain spaces", c)
	}
	return nil
}

// ParseConstraints splits a textarea into constraints: one per line,
// trimmed, blank lines dropped.
func ParseConstraints(text string) []string {
	out := []string{}
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}
