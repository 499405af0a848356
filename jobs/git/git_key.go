package git

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// deployKeyComment is written into both halves of a generated key so users
// can recognise it in their git host's deploy key list.
const deployKeyComment = "dokploy-deploy-key"

// GenerateDeployKey creates an ed25519 key pair. privatePEM is an OpenSSH
// private key ("-----BEGIN OPENSSH PRIVATE KEY-----") to store encrypted and
// pass as Source.SSHPrivateKey; authorizedKey is the one-line public key
// ("ssh-ed25519 AAAA… dokploy-deploy-key") the user pastes into the git host.
func GenerateDeployKey() (privatePEM []byte, authorizedKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generate ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, deployKeyComment)
	if err != nil {
		return nil, "", fmt.Errorf("marshal private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("marshal public key: %w", err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + deployKeyComment
	return pem.EncodeToMemory(block), authorized, nil
}
