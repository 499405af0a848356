package objstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
)

// ErrNotFound is wrapped by the errors of Get and Stat when no object has
// the key.
var ErrNotFound = errors.New("object not found")

// notFoundError names the missing object and matches ErrNotFound.
type notFoundError struct{ bucket, key string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("no object %q in bucket %q", e.key, e.bucket)
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// StepError is the failure of Test: the step that failed ("connect",
// "write", "read" or "delete") and why.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	if e.Step == "connect" {
		return "connect: " + e.Err.Error()
	}
	return e.Step + " test object: " + e.Err.Error()
}

func (e *StepError) Unwrap() error { return e.Err }

// storeError is an S3 failure rewritten as advice. Its message never holds
// the secret key; Unwrap keeps the original for errors.Is (context.Canceled).
type storeError struct {
	msg         string
	err         error
	unreachable bool // the server never answered
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.err }

// explain turns an error from minio-go into a sentence saying what to
// change. action ("write to", "read", "delete", "list") completes "the key
// may not ... bucket X".
func (s *Store) explain(err error, action string) error {
	if err == nil {
		return nil
	}
	msg, unreachable := s.advice(err, action)
	if s.cfg.SecretKey != "" {
		// Servers do not echo the secret, but a message is shown to users
		// and logged, so make sure of it.
		msg = strings.ReplaceAll(msg, s.cfg.SecretKey, "[secret key]")
	}
	return &storeError{msg: msg, err: err, unreachable: unreachable}
}

// advice returns the message for err and whether the server was never
// reached.
func (s *Store) advice(err error, action string) (string, bool) {
	var resp minio.ErrorResponse
	var netErr net.Error
	switch {
	case errors.As(err, &resp) && (resp.Code != "" || resp.StatusCode != 0):
		return s.s3Problem(resp, action), false
	case errors.Is(err, context.Canceled):
		return "cancelled", false
	}
	if msg, ok := s.networkProblem(err); ok {
		return msg, true
	}
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return fmt.Sprintf("timed out waiting for %s", s.endpoint), false
	}
	return err.Error(), false
}

func (s *Store) s3Problem(resp minio.ErrorResponse, action string) string {
	bucket := s.cfg.Bucket
	switch resp.Code {
	case "InvalidAccessKeyId":
		return fmt.Sprintf("access key %s is not known to %s: check the access key and secret key", s.cfg.AccessKey, s.endpoint)
	case "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidSecurity":
		return "the server rejected the request signature: check the access key and secret key"
	case "AccessDenied", "AllAccessDisabled":
		return fmt.Sprintf("access denied: the key may not %s bucket %q, or the keys are wrong: check the access key, the secret key and the key's permissions", action, bucket)
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q does not exist at %s: create it, or fix the bucket name", bucket, s.endpoint)
	case "AuthorizationHeaderMalformed", "InvalidRegion", "IllegalLocationConstraintException":
		return s.regionProblem(resp)
	case "PermanentRedirect", "TemporaryRedirect", "301 Moved Permanently":
		return fmt.Sprintf("bucket %q is served by another endpoint or region: check the endpoint and the region", bucket)
	case "InvalidBucketName":
		return fmt.Sprintf("%s refuses the bucket name %q", s.endpoint, bucket)
	case "SlowDown", "ServiceUnavailable", "InternalError", "XMinioServerNotInitialized":
		return fmt.Sprintf("%s has a temporary problem (%s): try again in a few minutes", s.endpoint, resp.Code)
	}
	return s.unexpectedAnswer(resp)
}

func (s *Store) regionProblem(resp minio.ErrorResponse) string {
	if resp.Region != "" {
		return fmt.Sprintf("wrong region: bucket %q is in %s: set the region to %s, or leave it empty", s.cfg.Bucket, resp.Region, resp.Region)
	}
	return fmt.Sprintf("wrong region (%s): set the bucket's region, or leave it empty", resp.Message)
}

func (s *Store) unexpectedAnswer(resp minio.ErrorResponse) string {
	code := resp.Code
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := fmt.Sprintf("%s answered %s", s.endpoint, code)
	if resp.StatusCode != 0 && code != http.StatusText(resp.StatusCode) {
		msg += fmt.Sprintf(" (HTTP %d)", resp.StatusCode)
	}
	if resp.Message != "" {
		msg += ": " + resp.Message
	}
	return msg
}

// networkProblem explains failures to reach the endpoint at all.
func (s *Store) networkProblem(err error) (string, bool) {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var badCert *tls.CertificateVerificationError
	var notTLS tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot reach %s: the host name %s does not resolve: check the endpoint", s.endpoint, dnsErr.Name), true
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach %s: connection refused: check the endpoint's host and port, and that the server runs", s.endpoint), true
	case errors.As(err, &badCert):
		return fmt.Sprintf("cannot reach %s: its TLS certificate is not trusted: %v", s.endpoint, badCert.Err), true
	case errors.As(err, &notTLS), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("cannot reach %s: the server does not speak HTTPS: try an http:// endpoint", s.endpoint), true
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if opErr.Timeout() {
			return fmt.Sprintf("cannot reach %s: no answer in time: check the endpoint and the firewall", s.endpoint), true
		}
		return fmt.Sprintf("cannot reach %s: %v", s.endpoint, opErr.Err), true
	}
	return "", false
}
