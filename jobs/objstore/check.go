package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// testTimeout bounds Test when the caller's ctx has no deadline: a user is
// waiting for the answer.
const testTimeout = 30 * time.Second

// Test writes a small object under the prefix, reads it back, compares it
// and deletes it: the three things backups need. It fails with a
// *StepError naming the step: "connect" when the endpoint cannot be
// reached at all, else "write", "read" or "delete". Listing is not tested,
// so a key that may only write, read and delete passes.
func (s *Store) Test(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	full, want := s.testObject()
	if err := s.putBytes(ctx, full, want, "text/plain"); err != nil {
		return &StepError{Step: writeOrConnect(err), Err: err}
	}
	readErr := s.readBack(ctx, full, want)
	// Remove the object even when reading failed, so tests leave nothing.
	deleteErr := s.delete(ctx, full)
	if readErr != nil {
		return &StepError{Step: "read", Err: readErr}
	}
	if deleteErr != nil {
		return &StepError{Step: "delete", Err: deleteErr}
	}
	return nil
}

// testObject returns a unique key under the prefix, so concurrent tests of
// one destination do not collide, and content naming its purpose for
// anyone who finds a leftover.
func (s *Store) testObject() (string, []byte) {
	id := make([]byte, 8)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	name := ".dokploy-test-" + hex.EncodeToString(id)
	body := fmt.Sprintf("Dokploy connection test %s; safe to delete\n", name)
	return joinPrefix(s.cfg.Prefix, name), []byte(body)
}

func (s *Store) readBack(ctx context.Context, full string, want []byte) error {
	rc, err := s.get(ctx, relativeKey(s.cfg.Prefix, full), full)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.ReadAll(io.LimitReader(rc, int64(len(want))+1))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read back %d bytes that differ from the %d written: the server or a proxy changes objects", len(got), len(want))
	}
	return nil
}

// writeOrConnect names the step of a failed first request: "connect" when
// the server was never reached, "write" when it answered.
func writeOrConnect(err error) string {
	var se *storeError
	if errors.As(err, &se) && se.unreachable {
		return "connect"
	}
	return "write"
}
