package testkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestStartMinIO_BucketSurvivesRestart checks the server helper end to end:
// a bucket and an object written before a SIGKILL are there after Restart.
func TestStartMinIO_BucketSurvivesRestart(t *testing.T) {
	m := StartMinIO(t)
	bucket := m.Bucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := []byte("hello")
	if _, err := m.Client(t).PutObject(ctx, bucket, "a/b.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}

	m.Kill()
	if resp, err := http.Get(m.Endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Fatal("MinIO still answers after Kill")
	}
	m.Restart(t)

	obj, err := m.Client(t).GetObject(ctx, bucket, "a/b.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after restart read %q, %v; want %q", got, err, body)
	}
}

func TestTailBuffer_KeepsLastLines(t *testing.T) {
	b := &tailBuffer{max: 2}
	_, _ = b.Write([]byte("one\ntwo\nthr"))
	_, _ = b.Write([]byte("ee\nfour"))
	if got, want := b.String(), "two\nthree\nfour"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
