package db

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// A sealed value is
//
//	0x01 | key id (4 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// where the key id names the key that sealed it, so Open picks the right key
// of the ring. Values sealed before key ids existed are nonce | ciphertext;
// they still open with any key of the ring, so old rows need no migration.
const (
	sealVersion = 0x01
	keyIDLen    = 4
	headerLen   = 1 + keyIDLen
)

// KeyRecheck is how often a Cipher made by OpenKeyFile looks at its key file
// (one stat) before sealing, so a server started before a rotation seals
// with the new key at most this long after the file changed.
const KeyRecheck = time.Second

// sealKey is one key of the ring.
type sealKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

func newSealKey(secret []byte) (sealKey, error) {
	if len(secret) < 16 {
		return sealKey{}, errors.New("secret key must be at least 16 bytes")
	}
	key := sha256.Sum256(secret)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return sealKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealKey{}, err
	}
	k := sealKey{aead: aead}
	copy(k.id[:], keyIDBytes(secret))
	return k, nil
}

func keyIDBytes(secret []byte) []byte {
	h := sha256.Sum256(append([]byte("dokploy-key-id"), secret...))
	return h[:keyIDLen]
}

// KeyID names a secret key without revealing it: 8 hex characters of
// sha256("dokploy-key-id" || key). It is what sealed values carry.
func KeyID(secret []byte) string { return hex.EncodeToString(keyIDBytes(secret)) }

// SealedKeyID returns the id of the key that sealed a value, or "" for an
// empty value or one sealed before key ids existed.
func SealedKeyID(sealed []byte) string {
	if len(sealed) < headerLen || sealed[0] != sealVersion {
		return ""
	}
	return hex.EncodeToString(sealed[1:headerLen])
}

// Cipher seals secrets (env values, tokens, passwords, keys) with AES-256-GCM
// under a key ring: the newest key seals, every key opens. Each 32-byte AES
// key is derived from an operator's secret key with SHA-256, so any
// sufficiently random string of any length works as DOKPLOY_SECRET_KEY.
//
// A Cipher made by OpenKeyFile follows its file: Seal stats it at most once
// per KeyRecheck and reloads it when it changed, and Open reloads it when it
// meets a key id it does not know, so a running server keeps working while
// another process rotates the key.
type Cipher struct {
	mu   sync.Mutex
	keys []sealKey // newest first, never empty

	path     string // the key file; "" for a fixed ring
	stat     os.FileInfo
	checked  time.Time // last stat
	reloaded time.Time // last read
}

// NewCipher is a ring of one key.
func NewCipher(secret []byte) (*Cipher, error) { return NewKeyRing([][]byte{secret}) }

// NewKeyRing is a fixed ring, newest key first.
func NewKeyRing(secrets [][]byte) (*Cipher, error) {
	keys, err := sealKeys(secrets)
	if err != nil {
		return nil, err
	}
	return &Cipher{keys: keys}, nil
}

// OpenKeyFile is the ring held by a key file (see ReadKeyFile), reloaded
// when the file changes.
func OpenKeyFile(path string) (*Cipher, error) {
	c := &Cipher{path: path}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func sealKeys(secrets [][]byte) ([]sealKey, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no secret key")
	}
	keys := make([]sealKey, 0, len(secrets))
	for _, s := range secrets {
		k, err := newSealKey(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// load reads the key file; on error the ring in use stays.
func (c *Cipher) load() error {
	st, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("read secret key: %w", err)
	}
	secrets, err := ReadKeyFile(c.path)
	if err != nil {
		return err
	}
	keys, err := sealKeys(secrets)
	if err != nil {
		return fmt.Errorf("secret key in %s: %w", c.path, err)
	}
	c.keys, c.stat, c.checked, c.reloaded = keys, st, time.Now(), time.Now()
	return nil
}

// refresh reloads the key file when it changed since the last look, or,
// with force, when it was not read within KeyRecheck (a file replaced
// within the file system's timestamp granularity looks unchanged).
// The caller holds c.mu.
func (c *Cipher) refresh(force bool) {
	if c.path == "" {
		return
	}
	c.checked = time.Now()
	st, err := os.Stat(c.path)
	if err != nil {
		return // keep the ring in use; a key file being replaced reappears
	}
	changed := !os.SameFile(st, c.stat) || !st.ModTime().Equal(c.stat.ModTime()) || st.Size() != c.stat.Size()
	if changed || (force && time.Since(c.reloaded) >= KeyRecheck) {
		_ = c.load() // a half-edited file keeps the ring in use
	}
}

// current is the key that seals.
func (c *Cipher) current() sealKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path != "" && time.Since(c.checked) >= KeyRecheck {
		c.refresh(false)
	}
	return c.keys[0]
}

// ring returns the keys; with reload, the key file is read again first.
func (c *Cipher) ring(reload bool) []sealKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reload {
		c.refresh(true)
	}
	return c.keys
}

// KeyID is the id of the key that seals.
func (c *Cipher) KeyID() string {
	k := c.current()
	return hex.EncodeToString(k.id[:])
}

// KeyIDs are the ids of the ring, newest first.
func (c *Cipher) KeyIDs() []string {
	var ids []string
	for _, k := range c.ring(false) {
		ids = append(ids, hex.EncodeToString(k.id[:]))
	}
	return ids
}

// Seal encrypts plaintext under the newest key: header, random nonce, ciphertext.
func (c *Cipher) Seal(plaintext string) []byte { return sealWith(c.current(), plaintext) }

func sealWith(k sealKey, plaintext string) []byte {
	out := make([]byte, headerLen, headerLen+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], k.id[:])
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS is broken; nothing safe to do
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, []byte(plaintext), nil)
}

// Open decrypts what Seal produced (or what it produced before key ids
// existed). Empty input is an empty secret.
func (c *Cipher) Open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	keys := c.ring(false)
	id := SealedKeyID(sealed)
	if id != "" {
		k, ok := findKey(keys, sealed[1:headerLen])
		if !ok {
			// Sealed by a key newer than this ring: another process rotated it.
			keys = c.ring(true)
			k, ok = findKey(keys, sealed[1:headerLen])
		}
		if ok {
			if plain, err := openWith(k.aead, sealed[headerLen:]); err == nil {
				return plain, nil
			}
		}
		// One legacy value in 2^40 starts like a header: try that too.
		if plain, err := openLegacy(keys, sealed); err == nil {
			return plain, nil
		}
		if !ok {
			return "", fmt.Errorf("cannot decrypt secret: it was sealed with key id %s, which is not in the key ring (current key id %s): was DOKPLOY_SECRET_KEY changed?",
				id, hex.EncodeToString(keys[0].id[:]))
		}
		return "", errors.New("cannot decrypt secret: the value is damaged")
	}
	plain, err := openLegacy(keys, sealed)
	if err != nil {
		return "", err
	}
	return plain, nil
}

func findKey(keys []sealKey, id []byte) (sealKey, bool) {
	for _, k := range keys {
		if bytes.Equal(k.id[:], id) {
			return k, true
		}
	}
	return sealKey{}, false
}

func openWith(aead cipher.AEAD, data []byte) (string, error) {
	n := aead.NonceSize()
	if len(data) < n {
		return "", errors.New("sealed value too short")
	}
	plain, err := aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// openLegacy opens a value sealed before key ids (nonce | ciphertext) with
// whichever key of the ring sealed it.
func openLegacy(keys []sealKey, sealed []byte) (string, error) {
	for _, k := range keys {
		if plain, err := openWith(k.aead, sealed); err == nil {
			return plain, nil
		}
	}
	return "", errors.New("cannot decrypt secret: was DOKPLOY_SECRET_KEY changed?")
}

// sealOptional returns nil for an empty secret so "not set" stays NULL.
func (c *Cipher) sealOptional(plaintext string) []byte {
	if plaintext == "" {
		return nil
	}
	return c.Seal(plaintext)
}
