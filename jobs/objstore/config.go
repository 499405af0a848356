// Package objstore stores backups in S3-compatible object storage (AWS S3,
// MinIO, Cloudflare R2, Backblaze B2, Wasabi, Garage, ...). It wraps the few
// calls the backup runner needs, streams uploads with bounded memory, and
// turns S3 failures into messages a user can act on, never showing the
// secret key.
package objstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Config is one S3 destination as the user entered it.
type Config struct {
	Endpoint  string // URL: https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000
	Region    string // optional; found from the bucket when empty
	Bucket    string
	Prefix    string // optional path prefix inside the bucket, no leading/trailing slash
	AccessKey string
	SecretKey string
	PathStyle bool // path-style addressing (MinIO, most self-hosted); virtual-host otherwise
}

// maxKeyLen is S3's limit on an object key, in bytes.
const maxKeyLen = 1024

// Validate reports every problem with c at once, each naming the field and
// what to change, so a form can show them together.
func (c Config) Validate() error {
	return errors.Join(
		validateEndpoint(c.Endpoint),
		validateRegion(c.Region),
		validateBucket(c.Bucket),
		validatePrefix(c.Prefix),
		validateKey("access key", c.AccessKey),
		validateKey("secret key", c.SecretKey),
	)
}

// endpointURL parses an endpoint that Validate accepted.
func endpointURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q is not a URL: use e.g. https://s3.eu-west-1.amazonaws.com", endpoint)
	}
	return u, nil
}

func validateEndpoint(endpoint string) error {
	if strings.TrimSpace(endpoint) == "" {
		return errors.New("endpoint is required: e.g. https://s3.eu-west-1.amazonaws.com or http://minio:9000")
	}
	u, err := endpointURL(endpoint)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("endpoint %q must start with https:// or http://", endpoint)
	case u.User != nil:
		// A key pasted into the URL would be logged and shown with it.
		return errors.New("endpoint must not contain a user name or password: enter the keys in their own fields")
	case u.Hostname() == "":
		return fmt.Errorf("endpoint %q has no host name", endpoint)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return fmt.Errorf("endpoint %q must be only scheme, host and port: put the bucket in the bucket field and folders in the prefix", endpoint)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("endpoint %q has an invalid port: use 1 to 65535", endpoint)
		}
	}
	return nil
}

func validateRegion(region string) error {
	if len(region) > 64 {
		return errors.New("region is too long: e.g. us-east-1, or leave it empty")
	}
	for _, r := range region {
		if !isASCIIAlnum(r) && r != '-' && r != '_' {
			return fmt.Errorf("region %q may contain only letters, digits, - and _: e.g. us-east-1, or leave it empty", region)
		}
	}
	return nil
}

// validateBucket applies S3's bucket naming rules, which every S3-compatible
// store accepts.
func validateBucket(bucket string) error {
	switch {
	case bucket == "":
		return errors.New("bucket is required")
	case len(bucket) < 3 || len(bucket) > 63:
		return fmt.Errorf("bucket %q must be 3 to 63 characters long", bucket)
	case strings.Contains(bucket, ".."):
		return fmt.Errorf("bucket %q must not contain two dots in a row", bucket)
	case net.ParseIP(bucket) != nil:
		return fmt.Errorf("bucket %q must not look like an IP address", bucket)
	}
	for _, r := range bucket {
		if !isLowerAlnum(r) && r != '.' && r != '-' {
			return fmt.Errorf("bucket %q may contain only lowercase letters, digits, dots and hyphens", bucket)
		}
	}
	if !isLowerAlnum(rune(bucket[0])) || !isLowerAlnum(rune(bucket[len(bucket)-1])) {
		return fmt.Errorf("bucket %q must start and end with a lowercase letter or digit", bucket)
	}
	return nil
}

func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("prefix %q must not start or end with /: e.g. dokploy/backups", prefix)
	}
	if len(prefix) > 512 {
		return errors.New("prefix is too long: at most 512 characters")
	}
	if err := checkPath(prefix); err != nil {
		return fmt.Errorf("prefix %q %s", prefix, err)
	}
	return nil
}

// checkPath refuses the parts of a slash-separated path that would escape
// the prefix or that some S3 servers and tools mangle.
func checkPath(p string) error {
	if !utf8.ValidString(p) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return errors.New("must not contain control characters (tabs, line breaks)")
		}
		if r == '\\' {
			return errors.New(`must not contain \: use / between folders`)
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return errors.New("must not contain an empty folder (//)")
		case ".", "..":
			return errors.New(`must not contain "." or ".." as a folder`)
		}
	}
	return nil
}

// validateKey checks an access or secret key without ever quoting it.
func validateKey(name, key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%s is required", name)
	case strings.TrimSpace(key) != key:
		return fmt.Errorf("%s starts or ends with a space or line break: paste it again without them", name)
	case strings.ContainsFunc(key, unicode.IsControl):
		return fmt.Errorf("%s contains a control character: paste it again", name)
	}
	return nil
}

// objectKey joins the store's prefix and a caller's key. Callers build keys
// from names the user chose, so a key that could climb out of the prefix is
// refused rather than cleaned.
func objectKey(prefix, key string) (string, error) {
	switch {
	case key == "":
		return "", errors.New("object key is empty")
	case strings.HasPrefix(key, "/"), strings.HasSuffix(key, "/"):
		return "", fmt.Errorf("object key %q must not start or end with /", key)
	}
	if err := checkPath(key); err != nil {
		return "", fmt.Errorf("object key %q %s", key, err)
	}
	full := joinPrefix(prefix, key)
	if len(full) > maxKeyLen {
		return "", fmt.Errorf("object key %q is too long: S3 allows %d bytes with the prefix", key, maxKeyLen)
	}
	return full, nil
}

// listPrefix is objectKey for a listing prefix: it may be empty (everything
// under the store's prefix) or end with / (one folder).
func listPrefix(prefix, p string) (string, error) {
	folder := strings.TrimSuffix(p, "/")
	if folder == "" {
		if p != "" {
			return "", fmt.Errorf("list prefix %q must not start with /", p)
		}
		if prefix == "" {
			return "", nil
		}
		return prefix + "/", nil
	}
	full, err := objectKey(prefix, folder)
	if err != nil {
		return "", err
	}
	if folder != p {
		full += "/"
	}
	return full, nil
}

func joinPrefix(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}

// relativeKey undoes joinPrefix for keys the server lists.
func relativeKey(prefix, full string) string {
	if prefix == "" {
		return full
	}
	return strings.TrimPrefix(full, prefix+"/")
}

func isASCIIAlnum(r rune) bool {
	return isLowerAlnum(r) || (r >= 'A' && r <= 'Z')
}

func isLowerAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
}
