package db

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MinSecretKey is the shortest secret key an operator may set.
const MinSecretKey = 32

// A key file holds the key ring, one key per line, newest first: the first
// line is the current key (it seals), the others are previous keys that
// only open values sealed before a rotation. A file of one line is the
// plain secret key it always was. Blank lines and lines starting with #
// are ignored.

// ParseKeys splits a key file's content into its keys, newest first.
func ParseKeys(data []byte) [][]byte {
	var keys [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		keys = append(keys, line)
	}
	return keys
}

// ReadKeyFile reads a key file; every key must be at least MinSecretKey
// characters.
func ReadKeyFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	keys := ParseKeys(data)
	if len(keys) == 0 {
		return nil, fmt.Errorf("secret key in %s is empty (shorter than %d characters)", path, MinSecretKey)
	}
	for i, k := range keys {
		if len(k) < MinSecretKey {
			if i == 0 {
				return nil, fmt.Errorf("secret key in %s is shorter than %d characters", path, MinSecretKey)
			}
			return nil, fmt.Errorf("previous secret key %d in %s is shorter than %d characters", i, path, MinSecretKey)
		}
	}
	return keys, nil
}

// FormatKeys is the content of a key file holding keys, newest first.
func FormatKeys(keys [][]byte) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		b.Write(k)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// WriteKeyFile replaces path with keys (newest first), mode 0600: written
// beside it, synced and renamed, so a reader sees the old ring or the new
// one, never half a file.
func WriteKeyFile(path string, keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("write secret key: no key")
	}
	for _, k := range keys {
		if bytes.ContainsAny(k, "\r\n") || strings.TrimSpace(string(k)) != string(k) {
			return errors.New("write secret key: a key holds a line break or surrounding spaces")
		}
	}
	dir := filepath.Dir(path)
	// The .tmp suffix keeps a leftover out of control-plane backups.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("write secret key: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write secret key: %w", err)
	}
	if _, err := f.Write(FormatKeys(keys)); err != nil {
		f.Close()
		return fmt.Errorf("write secret key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write secret key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write secret key: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write secret key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the file system allows
		d.Close()
	}
	return nil
}
