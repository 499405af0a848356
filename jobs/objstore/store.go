package objstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"dokploy/jobs/netguard"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	// partSize is the size of one part of a streamed upload. minio-go holds
	// one part in memory at a time, so this bounds Put's memory; with S3's
	// 10,000 parts it also bounds an object to about 156 GiB.
	partSize = 16 << 20
	// listLimit bounds List so a bucket full of objects cannot exhaust memory.
	listLimit = 10_000
	// maxRetries is minio-go's attempts per request. Its default of 10 makes
	// an unreachable endpoint take many seconds to report.
	maxRetries = 4
)

// ObjectInfo describes one stored object. Key is relative to Config.Prefix.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Store is one S3 destination. It is safe for concurrent use.
type Store struct {
	cfg      Config
	endpoint string // scheme://host[:port], for messages
	client   *minio.Client
}

// Open validates c and prepares a client. It does not contact the server:
// Test does.
func Open(c Config) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	u, err := endpointURL(c.Endpoint)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupDNS
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Transport:    newTransport(),
		Region:       c.Region,
		BucketLookup: lookup,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", u.Scheme+"://"+u.Host, err)
	}
	return &Store{cfg: c, endpoint: u.Scheme + "://" + u.Host, client: client}, nil
}

// guard checks the addresses endpoints dial; until SetGuard it refuses only
// link-local and metadata addresses.
var guard atomic.Pointer[netguard.Guard]

// SetGuard makes later Opens refuse the control plane's own services too.
func SetGuard(g *netguard.Guard) { guard.Store(g) }

// newTransport bounds the phases of a request that have no natural end: a
// silent host would otherwise hang a backup until its ctx ends. Bodies have
// no timeout, since a large part on a slow link takes long.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// Through the guard: an endpoint is user input, and must not lead to
		// the metadata service or the control plane's own services.
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
			Control:   guard.Load().Control,
		}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		// Completing a large multipart upload can take the server a while.
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
		// Go would otherwise ask for gzip and silently decompress, and
		// sizes and signatures would no longer match what S3 stored.
		DisableCompression: true,
	}
}

// Put streams r to key as a multipart upload of unknown size, holding one
// 16 MiB part in memory at a time and nothing on disk, and returns the
// number of bytes stored. If r fails or ctx ends, the upload is aborted and
// no object exists under key (if even the abort cannot reach the server,
// AbortIncomplete removes the parts later). r should itself stop when ctx
// ends; Put checks ctx between reads.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, contentType string) (int64, error) {
	full, err := objectKey(s.cfg.Prefix, key)
	if err != nil {
		return 0, err
	}
	src := &sourceReader{ctx: ctx, r: r}
	info, err := s.client.PutObject(ctx, s.cfg.Bucket, full, src, -1, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    partSize,
	})
	if err != nil {
		return 0, s.putError(key, src, err)
	}
	return info.Size, nil
}

// putError tells a failure of the data source apart from one of the server.
func (s *Store) putError(key string, src *sourceReader, err error) error {
	if src.err != nil && errors.Is(err, src.err) && !errors.Is(err, src.ctx.Err()) {
		return fmt.Errorf("upload %s: reading the data failed after %d bytes: %w", key, src.n, src.err)
	}
	return fmt.Errorf("upload %s: %w", key, s.explain(err, "write to"))
}

// sourceReader counts what Put read and stops at ctx's end, so a cancelled
// upload does not first read the rest of a 16 MiB part.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	err error // the first error other than io.EOF
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// PutBytes stores a small object (a sidecar such as a backup's metadata)
// in one request.
func (s *Store) PutBytes(ctx context.Context, key string, b []byte, contentType string) error {
	full, err := objectKey(s.cfg.Prefix, key)
	if err != nil {
		return err
	}
	if err := s.putBytes(ctx, full, b, contentType); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

func (s *Store) putBytes(ctx context.Context, full string, b []byte, contentType string) error {
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, full, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{
		ContentType:      contentType,
		DisableMultipart: true,
	})
	return s.explain(err, "write to")
}

// Get opens key for reading. A missing object is ErrNotFound, reported
// here rather than at the first Read.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	full, err := objectKey(s.cfg.Prefix, key)
	if err != nil {
		return nil, err
	}
	rc, err := s.get(ctx, key, full)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", key, err)
	}
	return rc, nil
}

func (s *Store) get(ctx context.Context, key, full string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, full, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.explainObject(err, key, "read")
	}
	// minio-go sends the request on first use; Stat makes that happen now.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.explainObject(err, key, "read")
	}
	return &objectReader{obj: obj, store: s, key: key}, nil
}

// objectReader rewrites errors in the middle of a download as advice too.
type objectReader struct {
	obj   *minio.Object
	store *Store
	key   string
}

func (r *objectReader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("download %s: %w", r.key, r.store.explain(err, "read"))
	}
	return n, err
}

func (r *objectReader) Close() error { return r.obj.Close() }

// Stat describes key. A missing object is ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	full, err := objectKey(s.cfg.Prefix, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, full, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, s.explainObject(err, key, "read"))
	}
	return ObjectInfo{Key: key, Size: info.Size, Modified: info.LastModified}, nil
}

// explainObject is explain that turns S3's "no such key" into ErrNotFound.
func (s *Store) explainObject(err error, key, action string) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == "NoSuchKey" {
		return &notFoundError{bucket: s.cfg.Bucket, key: key}
	}
	return s.explain(err, action)
}

// Delete removes key. A missing object is not an error, so retention can
// run again after a partial failure.
func (s *Store) Delete(ctx context.Context, key string) error {
	full, err := objectKey(s.cfg.Prefix, key)
	if err != nil {
		return err
	}
	if err := s.delete(ctx, full); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *Store) delete(ctx context.Context, full string) error {
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, full, minio.RemoveObjectOptions{})
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == "NoSuchKey" {
		return nil
	}
	return s.explain(err, "delete from")
}

// List returns the objects under prefix (relative to Config.Prefix; ""
// for all), recursively, in key order. More than 10,000 is an error rather
// than a silently short list, so retention never acts on part of a folder.
func (s *Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	full, err := listPrefix(s.cfg.Prefix, prefix)
	if err != nil {
		return nil, err
	}
	// Cancelling stops minio-go's listing goroutine when we stop early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []ObjectInfo
	for obj := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", s.where(prefix), s.explain(obj.Err, "list"))
		}
		if len(out) == listLimit {
			return nil, fmt.Errorf("list %s: more than %d objects: list a narrower prefix", s.where(prefix), listLimit)
		}
		out = append(out, ObjectInfo{Key: relativeKey(s.cfg.Prefix, obj.Key), Size: obj.Size, Modified: obj.LastModified})
	}
	return out, nil
}

// where names a listing prefix for messages.
func (s *Store) where(prefix string) string {
	if p := joinPrefix(s.cfg.Prefix, prefix); p != "" {
		return fmt.Sprintf("%s/%s", s.cfg.Bucket, p)
	}
	return s.cfg.Bucket
}

// AbortIncomplete removes the multipart uploads under prefix (relative to
// Config.Prefix) that were never completed, such as those of a process
// that died mid-backup; their parts are billed but invisible otherwise.
func (s *Store) AbortIncomplete(ctx context.Context, prefix string) error {
	full, err := listPrefix(s.cfg.Prefix, prefix)
	if err != nil {
		return err
	}
	uploads, err := s.incompleteUploads(ctx, full)
	if err != nil {
		return fmt.Errorf("list unfinished uploads in %s: %w", s.where(prefix), err)
	}
	core := &minio.Core{Client: s.client}
	var errs []error
	for _, up := range uploads {
		err := core.AbortMultipartUpload(ctx, s.cfg.Bucket, up.Key, up.UploadID)
		var resp minio.ErrorResponse
		if err != nil && !(errors.As(err, &resp) && resp.Code == "NoSuchUpload") {
			errs = append(errs, fmt.Errorf("abort unfinished upload of %s: %w", relativeKey(s.cfg.Prefix, up.Key), s.explain(err, "delete from")))
		}
	}
	return errors.Join(errs...)
}

// incompleteUploads lists the unfinished uploads whose key starts with
// full. AWS filters by prefix; MinIO lists by prefix only the uploads of
// exactly that key, but lists all of a bucket's recent uploads for an
// empty prefix. Asking both ways and filtering here works on either.
func (s *Store) incompleteUploads(ctx context.Context, full string) ([]minio.ObjectMultipartInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := map[string]bool{}
	var out []minio.ObjectMultipartInfo
	for _, p := range uniq("", full) {
		for up := range s.client.ListIncompleteUploads(ctx, s.cfg.Bucket, p, true) {
			if up.Err != nil {
				return nil, s.explain(up.Err, "list")
			}
			if strings.HasPrefix(up.Key, full) && !seen[up.UploadID] {
				seen[up.UploadID] = true
				out = append(out, up)
			}
		}
	}
	return out, nil
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}
