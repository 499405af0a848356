package db

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Cipher seals secrets (env values, tokens, passwords, keys) with AES-256-GCM.
// The 32-byte key is derived from the operator's secret key with SHA-256 so any
// sufficiently random string of any length works as DOKPLOY_SECRET_KEY.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher derives the AES key from secret.
func NewCipher(secret []byte) (*Cipher, error) {
	if len(secret) < 16 {
		return nil, errors.New("secret key must be at least 16 bytes")
	}
	key := sha256.Sum256(secret)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead}, nil
}

// Seal encrypts plaintext; the random nonce is prepended to the result.
func (c *Cipher) Seal(plaintext string) []byte {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS is broken; nothing safe to do
	}
	return c.aead.Seal(nonce, nonce, []byte(plaintext), nil)
}

// Open decrypts what Seal produced. Empty input is an empty secret.
func (c *Cipher) Open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	n := c.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed value too short")
	}
	plain, err := c.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", errors.New("cannot decrypt secret: was DOKPLOY_SECRET_KEY changed?")
	}
	return string(plain), nil
}

// sealOptional returns nil for an empty secret so "not set" stays NULL.
func (c *Cipher) sealOptional(plaintext string) []byte {
	if plaintext == "" {
		return nil
	}
	return c.Seal(plaintext)
}
