package cpbackup

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/scrypt"
)

// ErrWrongPassphrase is returned when the passphrase does not open the
// archive's secret key.
var ErrWrongPassphrase = errors.New("the passphrase is wrong: it does not decrypt the secret key in this backup (nothing was restored)")

// ErrPassphraseRequired is returned when the archive carries the secret
// key and no passphrase was given.
var ErrPassphraseRequired = errors.New("this backup carries the secret key encrypted with a passphrase: give the passphrase (DOKPLOY_RESTORE_PASSPHRASE) to restore it")

// scrypt cost: about 100 ms and 32 MiB, once per backup and restore.
const (
	scryptN   = 1 << 15
	scryptR   = 8
	scryptP   = 1
	keyAAD    = "dokploy control-plane secret key"
	saltBytes = 16
)

// sealedKey is secret-key.enc: the secret key under AES-256-GCM with a key
// derived from the passphrase by scrypt.
type sealedKey struct {
	KDF        string `json:"kdf"`
	N          int    `json:"n"`
	R          int    `json:"r"`
	P          int    `json:"p"`
	Salt       []byte `json:"salt"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

func passphraseAEAD(passphrase string, salt []byte, n, r, p int) (cipher.AEAD, error) {
	key, err := scrypt.Key([]byte(passphrase), salt, n, r, p, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealSecretKey(secretKey, passphrase string) ([]byte, error) {
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := passphraseAEAD(passphrase, salt, scryptN, scryptR, scryptP)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return json.MarshalIndent(sealedKey{KDF: "scrypt", N: scryptN, R: scryptR, P: scryptP, Salt: salt, Nonce: nonce,
		Ciphertext: aead.Seal(nil, nonce, []byte(secretKey), []byte(keyAAD))}, "", "  ")
}

func openSecretKey(data []byte, passphrase string) (string, error) {
	var s sealedKey
	if err := json.Unmarshal(data, &s); err != nil {
		return "", fmt.Errorf("%s: %w", secretKeyEntry, err)
	}
	// Bounds keep a crafted archive from asking for unbounded memory.
	if s.KDF != "scrypt" || s.N < 2 || s.N > 1<<20 || s.R < 1 || s.R > 32 || s.P < 1 || s.P > 16 {
		return "", fmt.Errorf("%s: unsupported key derivation %s (N=%d r=%d p=%d)", secretKeyEntry, s.KDF, s.N, s.R, s.P)
	}
	aead, err := passphraseAEAD(passphrase, s.Salt, s.N, s.R, s.P)
	if err != nil {
		return "", err
	}
	if len(s.Nonce) != aead.NonceSize() {
		return "", fmt.Errorf("%s: bad nonce", secretKeyEntry)
	}
	plain, err := aead.Open(nil, s.Nonce, s.Ciphertext, []byte(keyAAD))
	if err != nil {
		return "", ErrWrongPassphrase
	}
	return string(plain), nil
}
