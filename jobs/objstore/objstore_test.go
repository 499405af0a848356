package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"dokploy/e2e/testkit"
	"dokploy/jobs/netguard"
)

func validConfig() Config {
	return Config{
		Endpoint:  "https://s3.eu-west-1.amazonaws.com",
		Region:    "eu-west-1",
		Bucket:    "my-backups",
		Prefix:    "dokploy/prod",
		AccessKey: "AKIAEXAMPLE",
		SecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	}
}

func TestValidate_Accepts(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"aws", func(*Config) {}},
		{"minio with port", func(c *Config) { c.Endpoint = "http://127.0.0.1:9000"; c.PathStyle = true }},
		{"trailing slash", func(c *Config) { c.Endpoint = "https://minio.example.com/" }},
		{"no region, no prefix", func(c *Config) { c.Region = ""; c.Prefix = "" }},
		{"dotted bucket", func(c *Config) { c.Bucket = "backups.example.com" }},
		{"prefix with safe punctuation", func(c *Config) { c.Prefix = "team_a/db-1/v1.2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidate_Refuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint is required"},
		{"no scheme", func(c *Config) { c.Endpoint = "s3.amazonaws.com" }, "must start with https:// or http://"},
		{"ftp", func(c *Config) { c.Endpoint = "ftp://s3.example.com" }, "must start with https://"},
		{"path", func(c *Config) { c.Endpoint = "https://s3.example.com/my-backups" }, "must be only scheme, host and port"},
		{"query", func(c *Config) { c.Endpoint = "https://s3.example.com?x=1" }, "must be only scheme, host and port"},
		{"userinfo", func(c *Config) { c.Endpoint = "https://key:secret@s3.example.com" }, "must not contain a user name or password"},
		{"bad port", func(c *Config) { c.Endpoint = "http://127.0.0.1:99999" }, "invalid port"},
		{"region chars", func(c *Config) { c.Region = "eu west" }, "region"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket is required"},
		{"short bucket", func(c *Config) { c.Bucket = "ab" }, "3 to 63 characters"},
		{"long bucket", func(c *Config) { c.Bucket = strings.Repeat("a", 64) }, "3 to 63 characters"},
		{"uppercase bucket", func(c *Config) { c.Bucket = "MyBackups" }, "lowercase letters, digits, dots and hyphens"},
		{"underscore bucket", func(c *Config) { c.Bucket = "my_backups" }, "lowercase letters"},
		{"bucket edge hyphen", func(c *Config) { c.Bucket = "-backups" }, "start and end with"},
		{"bucket double dot", func(c *Config) { c.Bucket = "a..b" }, "two dots"},
		{"bucket ip", func(c *Config) { c.Bucket = "192.168.1.1" }, "IP address"},
		{"prefix leading slash", func(c *Config) { c.Prefix = "/backups" }, "must not start or end with /"},
		{"prefix trailing slash", func(c *Config) { c.Prefix = "backups/" }, "must not start or end with /"},
		{"prefix dotdot", func(c *Config) { c.Prefix = "backups/../other" }, `".."`},
		{"prefix empty folder", func(c *Config) { c.Prefix = "a//b" }, "empty folder"},
		{"prefix control", func(c *Config) { c.Prefix = "a\nb" }, "control characters"},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "access key is required"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "secret key is required"},
		{"secret with newline", func(c *Config) { c.SecretKey += "\n" }, "secret key starts or ends with a space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(c.SecretKey)) && c.SecretKey != "" {
				t.Errorf("error quotes the secret key: %v", err)
			}
			if _, err := Open(c); err == nil {
				t.Error("Open accepted a config Validate refuses")
			}
		})
	}
}

func TestValidate_ReportsEveryProblem(t *testing.T) {
	err := Config{Endpoint: "nope", Bucket: "X"}.Validate()
	for _, want := range []string{"endpoint", "bucket", "access key is required", "secret key is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestObjectKey(t *testing.T) {
	tests := []struct {
		prefix, key, want, wantErr string
	}{
		{"", "db/2024.dump", "db/2024.dump", ""},
		{"dokploy", "db/2024.dump", "dokploy/db/2024.dump", ""},
		{"a/b", ".dokploy-test-1", "a/b/.dokploy-test-1", ""},
		{"a", "", "", "empty"},
		{"a", "/etc/passwd", "", "must not start or end with /"},
		{"a", "db/", "", "must not start or end with /"},
		{"a", "../b", "", `".."`},
		{"a", "x/../../b", "", `".."`},
		{"a", "x/./b", "", `"."`},
		{"a", "x//b", "", "empty folder"},
		{"a", "x\x00b", "", "control characters"},
		{"a", `x\b`, "", `must not contain \`},
		{"a", strings.Repeat("k", maxKeyLen), "", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+"|"+tt.key, func(t *testing.T) {
			got, err := objectKey(tt.prefix, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("objectKey(%q, %q) = %q, %v; want an error containing %q", tt.prefix, tt.key, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("objectKey(%q, %q) = %q, %v; want %q", tt.prefix, tt.key, got, err, tt.want)
			}
		})
	}
}

func TestListPrefix(t *testing.T) {
	tests := []struct {
		prefix, p, want string
		wantErr         bool
	}{
		{"", "", "", false},
		{"pfx", "", "pfx/", false},
		{"pfx", "db/", "pfx/db/", false},
		{"pfx", "db", "pfx/db", false},
		{"", "db/", "db/", false},
		{"pfx", "/", "", true},
		{"pfx", "../x/", "", true},
	}
	for _, tt := range tests {
		got, err := listPrefix(tt.prefix, tt.p)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("listPrefix(%q, %q) = %q, %v; want %q (error %v)", tt.prefix, tt.p, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRelativeKey(t *testing.T) {
	if got := relativeKey("a/b", "a/b/c/d"); got != "c/d" {
		t.Errorf("relativeKey = %q, want c/d", got)
	}
	if got := relativeKey("", "c/d"); got != "c/d" {
		t.Errorf("relativeKey = %q, want c/d", got)
	}
}

// TestTest_ClosedPort needs no server: nothing listens on the port.
func TestTest_ClosedPort(t *testing.T) {
	c := validConfig()
	c.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	c.PathStyle = true
	s, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Test(context.Background())
	var se *StepError
	if !errors.As(err, &se) || se.Step != "connect" {
		t.Fatalf("Test() = %v, want a StepError in step connect", err)
	}
	t.Log(err)
	testkit.MustContain(t, err.Error(), "cannot reach "+c.Endpoint, "connection refused")
	testkit.MustNotContain(t, err.Error(), c.SecretKey)
}

// An endpoint at the control plane's own Redis (or the metadata address)
// is refused before anything connects to it.
func TestTest_GuardedEndpointIsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	SetGuard(netguard.New(netguard.Service{Name: "the control plane's Redis", Host: "127.0.0.1", Port: port}))
	t.Cleanup(func() { SetGuard(nil) })
	for _, endpoint := range []string{fmt.Sprintf("http://localhost:%d", port), "http://169.254.169.254"} {
		c := validConfig()
		c.Endpoint, c.PathStyle = endpoint, true
		s, err := Open(c)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Test(context.Background())
		if err == nil || !strings.Contains(err.Error(), "network guard") {
			t.Errorf("%s: Test() = %v, want a refusal by the network guard", endpoint, err)
		}
	}
	if len(accepted) != 0 {
		t.Errorf("the guarded service accepted %d connections", len(accepted))
	}
}

// --- integration tests against a real MinIO ---

// minioStore starts MinIO with a fresh bucket and opens a Store on it;
// edit may change the config (e.g. break a key) before Open.
func minioStore(t *testing.T, edit func(*Config)) (*Store, *testkit.MinIO, Config) {
	t.Helper()
	m := testkit.StartMinIO(t)
	c := Config{
		Endpoint:  m.Endpoint,
		Bucket:    m.Bucket(t),
		Prefix:    "dokploy/backups",
		AccessKey: m.AccessKey,
		SecretKey: m.SecretKey,
		PathStyle: true,
	}
	if edit != nil {
		edit(&c)
	}
	s, err := Open(c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, m, c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pseudoRandom returns n deterministic, incompressible bytes.
func pseudoRandom(seed byte, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), n)
}

func sha256Of(t *testing.T, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}

func TestPut_StreamsLargeObjectAndReadsItBack(t *testing.T) {
	s, _, _ := minioStore(t, nil)
	ctx := testContext(t)
	const size = 40 << 20 // three parts, the last one short
	want, _ := sha256Of(t, pseudoRandom(1, size))

	// Only an io.Reader: no Seek, no Len, so nothing tells minio-go the size.
	n, err := s.Put(ctx, "db/big.dump", struct{ io.Reader }{pseudoRandom(1, size)}, "application/octet-stream")
	if err != nil || n != size {
		t.Fatalf("Put = %d, %v; want %d bytes", n, err, size)
	}

	rc, err := s.Get(ctx, "db/big.dump")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	got, gotN := sha256Of(t, rc)
	if got != want || gotN != size {
		t.Fatalf("read back %d bytes with sha256 %x, want %d bytes with %x", gotN, got, size, want)
	}
	info, err := s.Stat(ctx, "db/big.dump")
	if err != nil || info.Size != size || info.Key != "db/big.dump" || time.Since(info.Modified) > time.Hour {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

// failAfter yields n bytes of data, then err.
func failAfter(n int64, err error) io.Reader {
	return io.MultiReader(pseudoRandom(2, n), &errReader{err})
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

func TestPut_ReaderErrorLeavesNothing(t *testing.T) {
	s, m, c := minioStore(t, nil)
	ctx := testContext(t)
	boom := errors.New("pg_dump exited with status 1")

	_, err := s.Put(ctx, "db/broken.dump", failAfter(20<<20, boom), "application/octet-stream")
	if !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	t.Log(err)
	testkit.MustContain(t, err.Error(), "reading the data failed", "pg_dump exited")
	assertNothingStored(t, ctx, s, m, c, "db/broken.dump")
}

// cancelAfter is a source that cancels the upload's ctx once it has
// yielded n bytes, and would go on forever.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
	src    io.Reader
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	n, err := r.src.Read(p)
	if r.n -= int64(n); r.n <= 0 {
		r.cancel()
	}
	return n, err
}

func TestPut_CancelLeavesNothing(t *testing.T) {
	s, m, c := minioStore(t, nil)
	ctx := testContext(t)
	putCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := &cancelAfter{n: 20 << 20, cancel: cancel, src: rand.NewChaCha8([32]byte{3})}

	start := time.Now()
	_, err := s.Put(putCtx, "db/cancelled.dump", src, "application/octet-stream")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	testkit.MustContain(t, err.Error(), "upload db/cancelled.dump: cancelled")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("cancelled Put took %s", d)
	}
	assertNothingStored(t, ctx, s, m, c, "db/cancelled.dump")
}

// TestPut_CancelDuringRequest cancels while a part is on the wire rather
// than between reads.
func TestPut_CancelDuringRequest(t *testing.T) {
	s, m, c := minioStore(t, nil)
	ctx := testContext(t)
	putCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)

	_, err := s.Put(putCtx, "db/cancelled.dump", slowReader{rand.NewChaCha8([32]byte{4})}, "application/octet-stream")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	assertNothingStored(t, ctx, s, m, c, "db/cancelled.dump")
}

// slowReader yields data in small steps, so an upload lasts long enough
// to cancel in the middle.
type slowReader struct{ r io.Reader }

func (r slowReader) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return r.r.Read(p[:min(len(p), 256<<10)])
}

// assertNothingStored checks that no object and no unfinished upload
// exists under key, asking MinIO directly.
func assertNothingStored(t *testing.T, ctx context.Context, s *Store, m *testkit.MinIO, c Config, key string) {
	t.Helper()
	if _, err := s.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after failed Put = %v, want ErrNotFound", err)
	}
	if ups := incomplete(t, ctx, m, c, joinPrefix(c.Prefix, key)); len(ups) != 0 {
		t.Errorf("unfinished uploads left after a failed Put: %v", ups)
	}
}

// incomplete lists unfinished uploads of exactly full (MinIO lists those
// by key) and, from its in-memory list, of the whole bucket.
func incomplete(t *testing.T, ctx context.Context, m *testkit.MinIO, c Config, full string) []string {
	t.Helper()
	seen := map[string]bool{}
	var keys []string
	for _, p := range []string{full, ""} {
		for up := range m.Client(t).ListIncompleteUploads(ctx, c.Bucket, p, true) {
			if up.Err != nil {
				t.Fatalf("list unfinished uploads: %v", up.Err)
			}
			if up.Key == full && !seen[up.UploadID] {
				seen[up.UploadID] = true
				keys = append(keys, up.Key+" "+up.UploadID)
			}
		}
	}
	return keys
}

// startUpload begins a multipart upload of full and sends one part, then
// walks away, as a backup process that died would.
func startUpload(t *testing.T, ctx context.Context, m *testkit.MinIO, c Config, full string) {
	t.Helper()
	core := &minio.Core{Client: m.Client(t)}
	id, err := core.NewMultipartUpload(ctx, c.Bucket, full, minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("start upload: %v", err)
	}
	part := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := core.PutObjectPart(ctx, c.Bucket, full, id, 1, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatalf("upload part: %v", err)
	}
}

func TestAbortIncomplete_RemovesUploadsUnderPrefixOnly(t *testing.T) {
	s, m, c := minioStore(t, nil)
	ctx := testContext(t)
	dead := joinPrefix(c.Prefix, "db/dead.dump")
	other := joinPrefix(c.Prefix, "web/other.dump")
	outside := "elsewhere/db/x.dump"
	for _, k := range []string{dead, other, outside} {
		startUpload(t, ctx, m, c, k)
	}

	if err := s.AbortIncomplete(ctx, "db/"); err != nil {
		t.Fatalf("AbortIncomplete: %v", err)
	}
	if ups := incomplete(t, ctx, m, c, dead); len(ups) != 0 {
		t.Errorf("upload under the prefix survived: %v", ups)
	}
	for _, k := range []string{other, outside} {
		if ups := incomplete(t, ctx, m, c, k); len(ups) != 1 {
			t.Errorf("upload of %s outside the prefix: %v, want it kept", k, ups)
		}
	}
	if err := s.AbortIncomplete(ctx, "db/"); err != nil {
		t.Errorf("second AbortIncomplete: %v", err)
	}
}

// TestAbortIncomplete_AfterServerCrash kills MinIO mid-upload, so Put cannot
// abort; once MinIO is back, AbortIncomplete on the key removes the parts.
func TestAbortIncomplete_AfterServerCrash(t *testing.T) {
	s, m, c := minioStore(t, nil)
	ctx := testContext(t)
	src := io.MultiReader(pseudoRandom(5, 20<<20), killReader{m.Kill}, pseudoRandom(6, 20<<20))

	_, err := s.Put(ctx, "db/crash.dump", src, "application/octet-stream")
	if err == nil {
		t.Fatal("Put succeeded against a killed server")
	}
	t.Log(err)
	testkit.MustContain(t, err.Error(), "cannot reach "+m.Endpoint)
	testkit.MustNotContain(t, err.Error(), m.SecretKey)

	m.Restart(t)
	full := joinPrefix(c.Prefix, "db/crash.dump")
	if ups := incomplete(t, ctx, m, c, full); len(ups) == 0 {
		t.Fatal("no unfinished upload after the crash: the test no longer exercises AbortIncomplete")
	}
	if err := s.AbortIncomplete(ctx, "db/crash.dump"); err != nil {
		t.Fatalf("AbortIncomplete: %v", err)
	}
	if ups := incomplete(t, ctx, m, c, full); len(ups) != 0 {
		t.Errorf("unfinished upload survived AbortIncomplete: %v", ups)
	}
}

// killReader kills the server when read, then reads as empty.
type killReader struct{ kill func() }

func (r killReader) Read([]byte) (int, error) { r.kill(); return 0, io.EOF }

func TestListStatDelete(t *testing.T) {
	s, _, _ := minioStore(t, nil)
	ctx := testContext(t)
	for _, k := range []string{"db/1.dump", "db/2.dump", "web/3.dump"} {
		if err := s.PutBytes(ctx, k, []byte(k), "text/plain"); err != nil {
			t.Fatalf("PutBytes %s: %v", k, err)
		}
	}

	all, err := s.List(ctx, "")
	if err != nil || len(all) != 3 || all[0].Key != "db/1.dump" || all[2].Key != "web/3.dump" {
		t.Fatalf("List(\"\") = %+v, %v", all, err)
	}
	db, err := s.List(ctx, "db/")
	if err != nil || len(db) != 2 || db[1].Key != "db/2.dump" || db[1].Size != int64(len("db/2.dump")) {
		t.Fatalf("List(db/) = %+v, %v", db, err)
	}

	if err := s.Delete(ctx, "db/1.dump"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, "db/1.dump"); err != nil {
		t.Errorf("Delete of a missing object = %v, want nil", err)
	}
	if _, err := s.Stat(ctx, "db/1.dump"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "db/1.dump"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	} else {
		testkit.MustContain(t, err.Error(), `no object "db/1.dump"`)
	}
	if db, _ := s.List(ctx, "db/"); len(db) != 1 {
		t.Errorf("List(db/) after Delete = %+v, want one object", db)
	}
}

func TestPrefix_ObjectsLandUnderPrefix(t *testing.T) {
	s, m, c := minioStore(t, nil)
	ctx := testContext(t)
	if err := s.PutBytes(ctx, "x.txt", []byte("x"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	root := m.Client(t)
	if _, err := root.StatObject(ctx, c.Bucket, "dokploy/backups/x.txt", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("object not under the prefix: %v", err)
	}
	// Neighbours whose names merely start like the prefix are not listed.
	for _, k := range []string{"dokploy/other.txt", "dokploy/backups-old/y.txt", "top.txt"} {
		if _, err := root.PutObject(ctx, c.Bucket, k, strings.NewReader("n"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(ctx, "")
	if err != nil || len(got) != 1 || got[0].Key != "x.txt" {
		t.Fatalf("List = %+v, %v; want only x.txt", got, err)
	}
}

func TestTest_PassesAndLeavesNothing(t *testing.T) {
	s, _, _ := minioStore(t, nil)
	ctx := testContext(t)
	if err := s.Test(ctx); err != nil {
		t.Fatalf("Test() = %v", err)
	}
	if left, err := s.List(ctx, ""); err != nil || len(left) != 0 {
		t.Errorf("Test left objects: %+v, %v", left, err)
	}
}

func TestTest_WrongSecretKey(t *testing.T) {
	wrong := "wrong-secret-" + strings.Repeat("z", 20)
	s, m, _ := minioStore(t, func(c *Config) { c.SecretKey = wrong })
	err := s.Test(testContext(t))
	var se *StepError
	if !errors.As(err, &se) || (se.Step != "write" && se.Step != "connect") {
		t.Fatalf("Test() = %v, want a StepError in step write", err)
	}
	t.Log(err)
	testkit.MustContain(t, err.Error(), "check the access key and secret key")
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), m.SecretKey) {
		t.Errorf("error shows a secret key: %v", err)
	}
}

func TestTest_UnknownAccessKey(t *testing.T) {
	s, _, _ := minioStore(t, func(c *Config) { c.AccessKey = "nobody-key" })
	err := s.Test(testContext(t))
	var se *StepError
	if !errors.As(err, &se) || se.Step != "write" {
		t.Fatalf("Test() = %v, want a StepError in step write", err)
	}
	t.Log(err)
	testkit.MustContain(t, err.Error(), "write test object: ", "nobody-key", "check the access key and secret key")
}

func TestTest_MissingBucket(t *testing.T) {
	s, _, _ := minioStore(t, func(c *Config) { c.Bucket = "no-such-bucket" })
	err := s.Test(testContext(t))
	var se *StepError
	if !errors.As(err, &se) || se.Step != "write" {
		t.Fatalf("Test() = %v, want a StepError in step write", err)
	}
	t.Log(err)
	testkit.MustContain(t, err.Error(), `bucket "no-such-bucket" does not exist`)
}

func TestErrors_NeverShowTheSecret(t *testing.T) {
	s, m, _ := minioStore(t, nil)
	ctx := testContext(t)
	m.Kill()
	for name, err := range map[string]error{
		"put":   func() error { _, err := s.Put(ctx, "a", strings.NewReader("x"), ""); return err }(),
		"get":   func() error { _, err := s.Get(ctx, "a"); return err }(),
		"list":  func() error { _, err := s.List(ctx, ""); return err }(),
		"abort": s.AbortIncomplete(ctx, ""),
	} {
		if err == nil {
			t.Errorf("%s against a killed server succeeded", name)
			continue
		}
		testkit.MustContain(t, err.Error(), "cannot reach")
		testkit.MustNotContain(t, err.Error(), m.SecretKey)
	}
}
