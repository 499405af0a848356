package traefik

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/idna"
)

// Limits that keep a single app from producing a pathological file.
const (
	maxNameLen    = 63
	maxPathLen    = 512
	maxRegexLen   = 1024
	maxHeaderLen  = 4096
	maxUpstreams  = 32
	maxFileLength = 512 // certificate paths
)

// FieldError is one validation problem. Field names the offending input in
// the form the caller used, e.g. "domains[2].host" for Validate or "host"
// for ValidateDomain, so a handler can attach the message to a form field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// prefixErrors prepends prefix to the Field of every FieldError in err.
func prefixErrors(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var out []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			e = &FieldError{Field: prefix + fe.Field, Msg: fe.Msg}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Validate reports every problem with app as FieldErrors joined with
// errors.Join. Fields are named "name", "upstreams[i]", "domains[i].host",
// "basicAuth[i].username", "redirects[i].regex", "headers[X-Name]" and so on,
// where i is the index in the caller's slice. A nil error means Render will
// succeed (or return ErrNoRoutes).
func Validate(app App) error {
	_, err := normalize(app)
	return err
}

// normalize validates app and returns a copy with hosts in punycode, paths
// and certificates defaulted and every list sorted, so rendering is
// deterministic whatever order the caller's rows came in.
func normalize(app App) (App, error) {
	var errs []error
	if err := ValidateAppName(app.Name); err != nil {
		errs = append(errs, err)
	}
	if len(app.Upstreams) > maxUpstreams {
		errs = append(errs, fieldErr("upstreams", "at most %d upstreams are allowed", maxUpstreams))
	}
	for i, u := range app.Upstreams {
		errs = append(errs, prefixErrors(fmt.Sprintf("upstreams[%d]", i), validateUpstream(u)))
	}

	out := app
	out.Upstreams = slices.Clone(app.Upstreams)
	slices.Sort(out.Upstreams)
	out.Domains, errs = normalizeDomains(app, errs)
	out.BasicAuth, errs = normalizeUsers(app.BasicAuth, errs)
	out.Redirects, errs = normalizeRedirects(app.Redirects, errs)
	errs = append(errs, validateHeaders("headers", app.Headers), validateHeaders("requestHeaders", app.RequestHeaders))

	if err := errors.Join(errs...); err != nil {
		return App{}, err
	}
	return out, nil
}

func normalizeDomains(app App, errs []error) ([]Domain, []error) {
	domains := make([]Domain, 0, len(app.Domains))
	seenID := map[int64]int{}
	seenRoute := map[string]int64{}
	for i, d := range app.Domains {
		prefix := fmt.Sprintf("domains[%d].", i)
		nd, err := normalizeDomain(d, len(app.Upstreams) > 0)
		if err != nil {
			errs = append(errs, prefixErrors(prefix, err))
			continue
		}
		if j, dup := seenID[d.ID]; dup {
			errs = append(errs, fieldErr(prefix+"id", "duplicate domain ID %d (also domains[%d])", d.ID, j))
			continue
		}
		seenID[d.ID] = i
		// Two routers with one rule would make Traefik pick one at random.
		route := nd.Host + nd.Path
		if other, dup := seenRoute[route]; dup && nd.Enabled {
			errs = append(errs, fieldErr(prefix+"host", "host %q with path %q is already used by domain %d", nd.Host, nd.Path, other))
			continue
		}
		if nd.Enabled {
			seenRoute[route] = nd.ID
		}
		domains = append(domains, nd)
	}
	slices.SortFunc(domains, func(a, b Domain) int { return cmpInt64(a.ID, b.ID) })
	return domains, errs
}

// ValidateDomain checks one domain on its own (fields "id", "host", "path",
// "internalPath", "port", "certificate", "certFile", "keyFile"), for form
// handlers. Validate additionally checks IDs and routes across domains.
func ValidateDomain(d Domain) error {
	_, err := normalizeDomain(d, false)
	return err
}

func normalizeDomain(d Domain, hasUpstreams bool) (Domain, error) {
	var errs []error
	if d.ID <= 0 {
		errs = append(errs, fieldErr("id", "must be positive, got %d", d.ID))
	}
	host, err := NormalizeHost(d.Host)
	if err != nil {
		errs = append(errs, err)
	}
	d.Host = host
	if d.Path == "" {
		d.Path = "/"
	}
	if err := validatePath(d.Path); err != nil {
		errs = append(errs, fieldErr("path", "%s", err))
	}
	if d.InternalPath == "" {
		d.InternalPath = "/"
	}
	if err := validatePath(d.InternalPath); err != nil {
		errs = append(errs, fieldErr("internalPath", "%s", err))
	}
	// With explicit upstreams the port is unused, so only a set port is checked.
	if d.Service != "" && (hasUpstreams || !isDNSLabel(d.Service)) {
		errs = append(errs, fieldErr("service", "must be a compose service name (a DNS label) and cannot be combined with upstreams, got %q", d.Service))
	}
	if !(hasUpstreams && d.Port == 0) && (d.Port < 1 || d.Port > 65535) {
		errs = append(errs, fieldErr("port", "must be between 1 and 65535, got %d", d.Port))
	}
	if d.Certificate == "" {
		d.Certificate = CertNone
	}
	errs = append(errs, validateCertificate(d))
	return d, errors.Join(errs...)
}

func validateCertificate(d Domain) error {
	switch d.Certificate {
	case CertNone, CertLetsEncrypt:
		return nil
	case CertCustom:
		return errors.Join(
			validateCertPath("certFile", d.CertFile),
			validateCertPath("keyFile", d.KeyFile))
	default:
		return fieldErr("certificate", "must be %q, %q or %q, got %q", CertLetsEncrypt, CertCustom, CertNone, d.Certificate)
	}
}

func validateCertPath(field, p string) error {
	switch {
	case p == "":
		return fieldErr(field, "is required for a custom certificate")
	case len(p) > maxFileLength:
		return fieldErr(field, "is longer than %d characters", maxFileLength)
	case !strings.HasPrefix(p, "/"):
		return fieldErr(field, "must be an absolute path, got %q", p)
	}
	if err := checkPathChars(p); err != nil {
		return fieldErr(field, "%s", err)
	}
	return nil
}

// ValidateAppName checks that name is a DNS label usable as a file name and
// as a prefix of Traefik object names.
func ValidateAppName(name string) error {
	switch {
	case name == "":
		return fieldErr("name", "is required")
	case len(name) > maxNameLen:
		return fieldErr("name", "is longer than %d characters", maxNameLen)
	case !isDNSLabel(name):
		return fieldErr("name", "must contain only a-z, 0-9 and '-' and must not start or end with '-', got %q", name)
	}
	return nil
}

func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// hostProfile converts IDNs to punycode with the same mapping browsers use
// for lookups, and enforces DNS label rules and lengths. It is immutable.
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.ValidateLabels(true),
	idna.VerifyDNSLength(true),
	idna.StrictDomainName(true),
)

// NormalizeHost returns host in the lower-case ASCII (punycode) form Traefik
// matches against, e.g. "Bücher.Example" → "xn--bcher-kva.example". A single
// trailing dot is dropped. Wildcards, IP addresses, ports and anything that is
// not a valid DNS name are rejected with a *FieldError for field "host".
func NormalizeHost(host string) (string, error) {
	h := strings.TrimSuffix(strings.TrimSpace(host), ".")
	switch {
	case h == "":
		return "", fieldErr("host", "is required")
	case !utf8.ValidString(h):
		return "", fieldErr("host", "is not valid UTF-8")
	case strings.Contains(h, "*"):
		return "", fieldErr("host", "wildcards are not supported, got %q", host)
	case strings.ContainsAny(h, ":/[]@ \t"):
		return "", fieldErr("host", "must be a bare host name without port, path or scheme, got %q", host)
	}
	ascii, err := hostProfile.ToASCII(h)
	if err == nil {
		// Some inputs map to punycode that does not decode back (e.g. U+FFFD);
		// requiring a fixed point keeps NormalizeHost idempotent.
		var again string
		if again, err = hostProfile.ToASCII(ascii); err == nil && again != ascii {
			err = errors.New("not a fixed point")
		}
	}
	if err != nil {
		return "", fieldErr("host", "is not a valid host name: %q", host)
	}
	labels := strings.Split(ascii, ".")
	for _, l := range labels {
		if !isDNSLabel(l) {
			return "", fieldErr("host", "label %q is not a valid DNS label", l)
		}
	}
	// An all-numeric last label is an IPv4 address or not a real TLD.
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return "", fieldErr("host", "IP addresses and numeric top-level labels are not supported, got %q", host)
	}
	return ascii, nil
}

// validatePath accepts "/" and "/seg/seg" paths made of unreserved URL
// characters plus a few sub-delimiters. Quotes, backticks, spaces, '%', '?',
// '#' and '{' are refused because the path is embedded in a Traefik rule and
// the file is run through Go's text/template by Traefik.
func validatePath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("must start with '/', got %q", p)
	case len(p) > maxPathLen:
		return fmt.Errorf("is longer than %d characters", maxPathLen)
	case strings.Contains(p, "//"):
		return fmt.Errorf("must not contain '//', got %q", p)
	}
	if err := checkPathChars(p); err != nil {
		return err
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("must not contain '.' or '..' segments, got %q", p)
		}
	}
	return nil
}

func checkPathChars(p string) error {
	for _, c := range p {
		if !isPathChar(c) {
			return fmt.Errorf("contains forbidden character %q", c)
		}
	}
	return nil
}

func isPathChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.ContainsRune("/-._~+@:,;=", c)
}

func validateUpstream(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr("", "is not a valid URL: %q", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c":
		return fieldErr("", "scheme must be http, https or h2c, got %q", raw)
	case u.Host == "" || u.User != nil || u.Opaque != "":
		return fieldErr("", "must be scheme://host[:port], got %q", raw)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#{}` \"'"):
		return fieldErr("", "must not have a path, query or fragment, got %q", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fieldErr("", "port must be between 1 and 65535, got %q", raw)
		}
	}
	return nil
}

func normalizeUsers(users []BasicAuthUser, errs []error) ([]BasicAuthUser, []error) {
	out := make([]BasicAuthUser, 0, len(users))
	seen := map[string]int{}
	for i, u := range users {
		prefix := fmt.Sprintf("basicAuth[%d].", i)
		if err := ValidateBasicAuthUser(u); err != nil {
			errs = append(errs, prefixErrors(prefix, err))
			continue
		}
		if j, dup := seen[u.Username]; dup {
			errs = append(errs, fieldErr(prefix+"username", "duplicate username %q (also basicAuth[%d])", u.Username, j))
			continue
		}
		seen[u.Username] = i
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b BasicAuthUser) int { return strings.Compare(a.Username, b.Username) })
	return out, errs
}

// ValidateBasicAuthUser checks one user (fields "username", "passwordHash").
func ValidateBasicAuthUser(u BasicAuthUser) error {
	var errs []error
	switch {
	case u.Username == "":
		errs = append(errs, fieldErr("username", "is required"))
	case len(u.Username) > 128:
		errs = append(errs, fieldErr("username", "is longer than 128 characters"))
	case strings.ContainsAny(u.Username, ":{}"):
		errs = append(errs, fieldErr("username", "must not contain ':', '{' or '}'"))
	case strings.IndexFunc(u.Username, isSpaceOrControl) >= 0:
		errs = append(errs, fieldErr("username", "must not contain spaces or control characters"))
	}
	// Traefik also takes MD5 and SHA1 htpasswd hashes; we only produce bcrypt.
	if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
		errs = append(errs, fieldErr("passwordHash", "must be a bcrypt hash"))
	}
	return errors.Join(errs...)
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

func normalizeRedirects(rs []Redirect, errs []error) ([]Redirect, []error) {
	out := make([]Redirect, 0, len(rs))
	seen := map[int64]int{}
	for i, r := range rs {
		prefix := fmt.Sprintf("redirects[%d].", i)
		if err := ValidateRedirect(r); err != nil {
			errs = append(errs, prefixErrors(prefix, err))
			continue
		}
		if j, dup := seen[r.ID]; dup {
			errs = append(errs, fieldErr(prefix+"id", "duplicate redirect ID %d (also redirects[%d])", r.ID, j))
			continue
		}
		seen[r.ID] = i
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Redirect) int { return cmpInt64(a.ID, b.ID) })
	return out, errs
}

// ValidateRedirect checks one redirect (fields "id", "regex", "replacement").
// Go's regexp is the engine Traefik uses, so compiling here is exact.
func ValidateRedirect(r Redirect) error {
	var errs []error
	if r.ID <= 0 {
		errs = append(errs, fieldErr("id", "must be positive, got %d", r.ID))
	}
	switch {
	case r.Regex == "":
		errs = append(errs, fieldErr("regex", "is required"))
	case len(r.Regex) > maxRegexLen:
		errs = append(errs, fieldErr("regex", "is longer than %d characters", maxRegexLen))
	case strings.Contains(r.Regex, "{{"):
		errs = append(errs, fieldErr("regex", "must not contain '{{' (Traefik treats it as a template)"))
	case strings.ContainsAny(r.Regex, "\r\n"):
		errs = append(errs, fieldErr("regex", "must not contain line breaks"))
	default:
		if _, err := regexp.Compile(r.Regex); err != nil {
			errs = append(errs, fieldErr("regex", "does not compile: %v", err))
		}
	}
	switch {
	case r.Replacement == "":
		errs = append(errs, fieldErr("replacement", "is required"))
	case len(r.Replacement) > maxRegexLen:
		errs = append(errs, fieldErr("replacement", "is longer than %d characters", maxRegexLen))
	case strings.Contains(r.Replacement, "{{"):
		errs = append(errs, fieldErr("replacement", "must not contain '{{' (Traefik treats it as a template)"))
	case strings.IndexFunc(r.Replacement, isSpaceOrControl) >= 0:
		errs = append(errs, fieldErr("replacement", "must not contain spaces or control characters"))
	}
	return errors.Join(errs...)
}

// validateHeaders checks header names are RFC 9110 tokens and values carry
// no control characters (CR/LF would split the header) and no '{{'.
func validateHeaders(field string, h map[string]string) error {
	var errs []error
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names) // stable error order
	for _, name := range names {
		if err := ValidateHeader(name, h[name]); err != nil {
			errs = append(errs, prefixErrors(field, err))
		}
	}
	return errors.Join(errs...)
}

// ValidateHeader checks one custom header; the field is "[<name>]".
func ValidateHeader(name, value string) error {
	field := "[" + name + "]"
	switch {
	case name == "":
		return fieldErr(field, "header name is required")
	case !isToken(name):
		return fieldErr(field, "header name %q is not a valid token", name)
	case len(value) > maxHeaderLen:
		return fieldErr(field, "value is longer than %d characters", maxHeaderLen)
	case strings.IndexFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0:
		return fieldErr(field, "value must not contain CR, LF or other control characters")
	case strings.Contains(value, "{{"):
		return fieldErr(field, "value must not contain '{{' (Traefik treats it as a template)")
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
