package git

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dokploy/e2e/testkit"

	"golang.org/x/crypto/ssh"
)

func TestGitClone_SSHDeployKey(t *testing.T) {
	fx := newGitFixture(t)
	priv, authorized, err := GenerateDeployKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorized))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveGitSSH(t, fx.root, pub)
	url := "ssh://git@" + addr + "/app.git"

	commit, err := Clone(context.Background(), Source{URL: url, Branch: "main", SSHPrivateKey: priv}, t.TempDir()+"/c", nil)
	if err != nil {
		t.Fatalf("clone with deploy key: %v", err)
	}
	if commit.SHA != fx.mainSHA {
		t.Errorf("SHA = %s, want %s", commit.SHA, fx.mainSHA)
	}

	other, _, err := GenerateDeployKey()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Clone(context.Background(), Source{URL: url, Branch: "main", SSHPrivateKey: other}, t.TempDir()+"/c", nil)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("unknown key: err = %v, want ErrAuth", err)
	}
	_, err = Clone(context.Background(), Source{URL: url, Branch: "main", SSHPrivateKey: []byte("not a key")}, t.TempDir()+"/c", nil)
	if err == nil || !strings.Contains(err.Error(), "invalid SSH private key") {
		t.Fatalf("garbage key: err = %v", err)
	}
}

// serveGitSSH runs a minimal SSH server on 127.0.0.1 that accepts only the
// given key and answers "git-upload-pack '<path>'" with the real git binary
// on root/<path>. It returns host:port.
func serveGitSSH(t *testing.T, root string, allowed ssh.PublicKey) string {
	t.Helper()
	gitBin := testkit.RequireBinary(t, "git")
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), allowed.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	cfg.AddHostKey(hostKey)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go serveSSHConn(conn, cfg, gitBin, root)
		}
	}()
	return l.Addr().String()
}

func serveSSHConn(conn net.Conn, cfg *ssh.ServerConfig, gitBin, root string) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for newCh := range chans {
		if newCh.ChannelType() != "session" {
			_ = newCh.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := newCh.Accept()
		if err != nil {
			return
		}
		go serveUploadPack(ch, chReqs, gitBin, root)
	}
}

func serveUploadPack(ch ssh.Channel, reqs <-chan *ssh.Request, gitBin, root string) {
	defer ch.Close()
	for req := range reqs {
		var payload struct{ Command string }
		if req.Type != "exec" || ssh.Unmarshal(req.Payload, &payload) != nil {
			_ = req.Reply(false, nil)
			continue
		}
		name, path, _ := strings.Cut(payload.Command, " ")
		if name != "git-upload-pack" {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		cmd := exec.Command(gitBin, "upload-pack", filepath.Join(root, strings.Trim(path, "'/")))
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, _ := cmd.StdinPipe()
		status := uint32(0)
		if err := cmd.Start(); err != nil {
			status = 127
		} else {
			go func() { _, _ = io.Copy(stdin, ch); stdin.Close() }()
			if cmd.Wait() != nil {
				status = 1
			}
		}
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
		return
	}
}
