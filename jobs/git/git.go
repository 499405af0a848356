// Package git clones repositories for builds (go-git, no git binary),
// validates user-supplied URLs and branch names, and makes deploy keys.
package git

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"dokploy/db"
	"dokploy/jobs/internal/linewriter"
	"dokploy/jobs/netguard"
)

// DefaultTokenUsername is the basic-auth user sent with an access token over
// HTTPS. GitHub, GitLab and Gitea all accept "oauth2" with an OAuth or
// installation token; Bitbucket wants "x-token-auth" (set Source.Username).
const DefaultTokenUsername = "oauth2"

// Source describes where to clone from. Token is used only for http(s)
// URLs and SSHPrivateKey only for ssh URLs; neither is ever logged.
type Source struct {
	URL           string
	Branch        string
	Token         string
	Username      string // basic-auth user for Token; DefaultTokenUsername when empty
	SSHPrivateKey []byte // OpenSSH or PEM private key (deploy key)
}

// Commit is the HEAD commit of a fresh clone.
type Commit struct {
	SHA     string
	Message string
	Author  string // "Name <email>"
}

// Errors returned by Clone, wrapped with details; test with errors.Is.
var (
	ErrRepoNotFound   = errors.New("repository not found or not reachable")
	ErrBranchNotFound = errors.New("branch not found")
	ErrAuth           = errors.New("authentication failed")
	// ErrRefused: the URL leads to a link-local address or to one of the
	// control plane's own services.
	ErrRefused = netguard.ErrRefused
)

// Clone makes a shallow, single-branch clone (depth 1) of src into dir,
// which must not exist or be empty; on failure go-git removes what it wrote.
// It needs no git binary. Progress lines go to log. Cancelling ctx aborts the
// transfer and the returned error satisfies errors.Is(err, ctx.Err()).
func Clone(ctx context.Context, src Source, dir string, log LogFunc) (Commit, error) {
	if err := ValidateURL(src.URL); err != nil {
		return Commit{}, err
	}
	if err := ValidateBranch(src.Branch); err != nil {
		return Commit{}, err
	}
	auth, err := authMethod(src)
	if err != nil {
		return Commit{}, err
	}
	safeURL := db.RedactURL(src.URL)
	log.printf("Cloning %s (branch %s)", safeURL, src.Branch)

	opts := &gogit.CloneOptions{
		URL:           src.URL,
		Auth:          auth,
		ReferenceName: plumbing.NewBranchReferenceName(src.Branch),
		SingleBranch:  true,
		Depth:         1,
		Tags:          gogit.NoTags,
	}
	if err := guardTransport(ctx, opts); err != nil {
		return Commit{}, cloneError(ctx, err, safeURL, src.Branch)
	}
	progress := linewriter.New(log, time.Second)
	opts.Progress = progress
	repo, err := gogit.PlainCloneContext(ctx, dir, false, opts)
	progress.Flush()
	if err != nil {
		return Commit{}, cloneError(ctx, err, safeURL, src.Branch)
	}
	commit, err := headCommit(repo)
	if err != nil {
		return Commit{}, err
	}
	log.printf("Checked out %s: %s", shortID(commit.SHA), firstLine(commit.Message))
	return commit, nil
}

// authMethod picks the auth method for the URL's transport.
func authMethod(src Source) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(src.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid git URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		if src.Token == "" {
			return nil, nil // public repo, or credentials embedded in the URL
		}
		user := src.Username
		if user == "" {
			user = DefaultTokenUsername
		}
		return &githttp.BasicAuth{Username: user, Password: src.Token}, nil
	case "ssh":
		if len(src.SSHPrivateKey) == 0 {
			// Without this go-git would fall back to an SSH agent, which a
			// server does not have, and fail with a confusing message.
			return nil, fmt.Errorf("%w: an SSH URL needs a deploy key", ErrAuth)
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, src.SSHPrivateKey, "")
		if err != nil {
			return nil, fmt.Errorf("invalid SSH private key: %w", err)
		}
		// Host keys are not verified: accept-any is a known gap until we store
		// a known_hosts entry per git provider (trust on first use). The deploy
		// key is read-only, so a MITM could serve wrong code but learns nothing
		// reusable beyond the public key.
		keys.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // see comment above
		return keys, nil
	default: // git://
		return nil, nil
	}
}

// cloneError turns go-git errors into messages a user can act on.
func cloneError(ctx context.Context, err error, safeURL, branch string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("clone %s: %w", safeURL, ctxErr)
	}
	detail := redactError(err)
	switch {
	case errors.Is(err, netguard.ErrRefused) || strings.Contains(detail, netguard.ErrRefused.Error()):
		// go-git flattens some transport errors to text, so match both.
		return &gitError{kind: ErrRefused, msg: fmt.Sprintf("clone %s refused: %s", safeURL, detail)}
	case errors.Is(err, gogit.NoMatchingRefSpecError{}),
		errors.Is(err, plumbing.ErrReferenceNotFound):
		return &gitError{kind: ErrBranchNotFound, msg: fmt.Sprintf("branch %q not found in %s", branch, safeURL)}
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return &gitError{kind: ErrBranchNotFound, msg: fmt.Sprintf("branch %q not found: %s is empty", branch, safeURL)}
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		strings.Contains(detail, "unable to authenticate"):
		return &gitError{kind: ErrAuth, msg: fmt.Sprintf("authentication failed: %s (%s)", safeURL, detail)}
	case errors.Is(err, transport.ErrRepositoryNotFound), isNetError(err):
		return &gitError{kind: ErrRepoNotFound, msg: fmt.Sprintf("repository not found or not reachable: %s (%s)", safeURL, detail)}
	}
	return fmt.Errorf("clone %s: %s", safeURL, detail)
}

// gitError carries a user-facing message and a sentinel for errors.Is.
type gitError struct {
	kind error
	msg  string
}

func (e *gitError) Error() string { return e.msg }
func (e *gitError) Unwrap() error { return e.kind }

func isNetError(err error) bool {
	var netErr net.Error
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr)
}

// redactError strips credentials that a transport error may echo back
// (go-git includes the URL, userinfo and all, in some messages) and folds
// the server's multi-line answers into one line.
func redactError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.TrimRight(msg, ": ")
	for _, field := range strings.Fields(msg) {
		field = strings.Trim(field, `"'(),;`)
		if strings.Contains(field, "://") && strings.Contains(field, "@") {
			msg = strings.ReplaceAll(msg, field, db.RedactURL(field))
		}
	}
	return msg
}

func headCommit(repo *gogit.Repository) (Commit, error) {
	head, err := repo.Head()
	if err != nil {
		return Commit{}, fmt.Errorf("read HEAD of clone: %w", err)
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		return Commit{}, fmt.Errorf("read HEAD commit %s: %w", head.Hash(), err)
	}
	return Commit{
		SHA:     c.Hash.String(),
		Message: strings.TrimSpace(c.Message),
		Author:  fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
	}, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// shortID is the first 12 characters of a hash.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// LogFunc receives one line of human-readable progress (no trailing
// newline). Lines never contain secret values. A nil LogFunc discards
// everything.
type LogFunc func(line string)

// printf formats a line and sends it to the log, tolerating a nil LogFunc.
func (l LogFunc) printf(format string, args ...any) {
	if l != nil {
		l(fmt.Sprintf(format, args...))
	}
}
