package git

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"dokploy/db"
)

// ErrInvalidURL and ErrInvalidBranch are returned (wrapped) by the validators.
var (
	ErrInvalidURL    = errors.New("invalid git URL")
	ErrInvalidBranch = errors.New("invalid branch name")
)

var (
	// transportHelper matches git's "<helper>::<address>" syntax (ext::, fd::),
	// which runs arbitrary commands with the real git binary.
	transportHelper = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*::`)
	// scpLike matches "[user@]host:path" (git@github.com:owner/repo.git).
	scpLike = regexp.MustCompile(`^(?:([A-Za-z0-9._~-]+)@)?([A-Za-z0-9][A-Za-z0-9.-]*):([^/].*|/.+)$`)
)

// allowedGitSchemes are the transports a user may clone from. file:// and
// local paths are refused: they would read the control plane's own disk.
var allowedGitSchemes = map[string]bool{"https": true, "http": true, "ssh": true, "git": true}

// ValidateURL accepts https, http, ssh, git and scp-like URLs and refuses
// everything that could turn a URL into a command-line option or a command
// (leading "-", ext::/fd:: helpers, whitespace, control characters), as well
// as local paths and unknown schemes. go-git never shells out, but URLs are
// stored and may one day reach a git binary, so they are checked strictly.
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%w: contains whitespace or control characters", ErrInvalidURL)
	}
	if strings.HasPrefix(raw, "-") {
		return fmt.Errorf("%w: must not start with '-'", ErrInvalidURL)
	}
	if transportHelper.MatchString(raw) {
		return fmt.Errorf("%w: transport helpers (%s) are not allowed", ErrInvalidURL, raw[:strings.Index(raw, "::")+2])
	}
	if strings.Contains(raw, "://") {
		return validateSchemeURL(raw)
	}
	if m := scpLike.FindStringSubmatch(raw); m != nil {
		if strings.HasPrefix(m[3], "-") {
			return fmt.Errorf("%w: path must not start with '-'", ErrInvalidURL)
		}
		return nil
	}
	return fmt.Errorf("%w: unsupported URL %q (use https://, ssh://, git:// or git@host:owner/repo.git)", ErrInvalidURL, db.RedactURL(raw))
}

func validateSchemeURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidURL, redactError(err))
	}
	// Checked again after percent-decoding: git://host:6379/x%0D%0AFLUSHALL
	// would otherwise write commands to whatever TCP service it reaches.
	decoded := []string{u.Host, u.Path, u.Fragment}
	if u.User != nil {
		pass, _ := u.User.Password()
		decoded = append(decoded, u.User.Username(), pass)
	}
	if q, err := url.QueryUnescape(u.RawQuery); err == nil {
		decoded = append(decoded, q)
	} else {
		return fmt.Errorf("%w: malformed query", ErrInvalidURL)
	}
	for _, part := range decoded {
		if strings.IndexFunc(part, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return fmt.Errorf("%w: contains encoded whitespace or control characters", ErrInvalidURL)
		}
	}
	scheme := strings.ToLower(u.Scheme)
	if !allowedGitSchemes[scheme] {
		return fmt.Errorf("%w: scheme %q is not allowed (use https, http, ssh or git)", ErrInvalidURL, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: missing host", ErrInvalidURL)
	}
	if strings.HasPrefix(host, "-") || (u.User != nil && strings.HasPrefix(u.User.Username(), "-")) {
		return fmt.Errorf("%w: host and user must not start with '-'", ErrInvalidURL)
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("%w: missing repository path", ErrInvalidURL)
	}
	return nil
}

// ErrCredentialsInURL is returned by ValidateSavedURL for a URL carrying a
// password or token.
var ErrCredentialsInURL = errors.New("the URL carries credentials: leave them out and put the token in the access token field (stored encrypted; a URL is shown and logged)")

// ValidateSavedURL is ValidateURL for a URL a user saves: it also refuses
// credentials in it (https://user:token@host or https://token@host, or a
// password in an ssh:// URL), which would be shown on pages and in logs.
// An SSH user name alone (ssh://git@host) is not a credential.
func ValidateSavedURL(raw string) error {
	if err := ValidateURL(raw); err != nil {
		return err
	}
	if !strings.Contains(raw, "://") {
		return nil // scp form: git@host:path has a user only
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	_, hasPassword := u.User.Password()
	scheme := strings.ToLower(u.Scheme)
	if hasPassword || scheme == "http" || scheme == "https" {
		return fmt.Errorf("%w: %w", ErrInvalidURL, ErrCredentialsInURL)
	}
	return nil
}

// ValidateBranch applies git check-ref-format rules to refs/heads/<name>, plus
// a ban on a leading '-' so a branch can never be read as an option.
func ValidateBranch(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidBranch, name, why) }
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidBranch)
	case len(name) > 255:
		return bad("longer than 255 characters")
	case strings.HasPrefix(name, "-"):
		return bad("must not start with '-'")
	case name == "@":
		return bad("must not be '@'")
	case strings.Contains(name, ".."):
		return bad("must not contain '..'")
	case strings.Contains(name, "@{"):
		return bad("must not contain '@{'")
	case strings.HasPrefix(name, "/"), strings.HasSuffix(name, "/"), strings.Contains(name, "//"):
		return bad("must not start or end with '/' or contain '//'")
	case strings.HasSuffix(name, "."):
		return bad("must not end with '.'")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("must not contain %q", r))
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return bad("no path component may start with '.'")
		}
		if strings.HasSuffix(part, ".lock") {
			return bad("no path component may end with '.lock'")
		}
	}
	return nil
}
