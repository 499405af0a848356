package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"dokploy/db"
	"dokploy/jobs/routing"
	"dokploy/traefik"
)

// AddBasicAuthUser hashes and stores a basic-auth user of the app, then
// applies routing: every domain of the app asks for a password.
func (s *Service) AddBasicAuthUser(ctx context.Context, a *db.App, user, password string) (*db.BasicAuthUser, error) {
	user = strings.TrimSpace(user)
	if len(password) < 8 || len(password) > 72 {
		return nil, fieldError("password", "The password must be 8 to 72 characters (at most 72 bytes: accented letters and emoji count as 2 to 4).")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	if err := traefik.ValidateBasicAuthUser(traefik.BasicAuthUser{Username: user, PasswordHash: string(hash)}); err != nil {
		return nil, fieldError("username", "Username "+FieldMessage(err)+".")
	}
	if err := s.store.AddBasicAuthUser(ctx, a.ID, user, string(hash)); errors.Is(err, db.ErrConflict) {
		return nil, conflict("username", "User %s already exists.", user)
	} else if err != nil {
		return nil, err
	}
	users, err := s.store.AppBasicAuth(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for i := range users {
		if users[i].Username == user {
			return &users[i], s.syncRouting(ctx)
		}
	}
	return nil, fmt.Errorf("basic-auth user %s not found after saving", user)
}

// DeleteBasicAuthUser removes one basic-auth user of the app and applies routing.
func (s *Service) DeleteBasicAuthUser(ctx context.Context, a *db.App, id int64) error {
	if err := s.store.DeleteBasicAuthUser(ctx, a.ID, id); err != nil {
		return err
	}
	return s.syncRouting(ctx)
}

// AddRedirect validates and stores a regex redirect, then applies routing.
func (s *Service) AddRedirect(ctx context.Context, rd *db.Redirect) error {
	rd.Regex, rd.Replacement = strings.TrimSpace(rd.Regex), strings.TrimSpace(rd.Replacement)
	if err := traefik.ValidateRedirect(routing.ToTraefikRedirect(db.Redirect{ID: 1, Regex: rd.Regex, Replacement: rd.Replacement})); err != nil {
		return fieldError(redirectField(err), "Redirect not saved: "+err.Error())
	}
	if err := s.store.CreateRedirect(ctx, rd); err != nil {
		return err
	}
	return s.syncRouting(ctx)
}

// redirectField names the input a redirect's validation error is about.
func redirectField(err error) string {
	var fe *traefik.FieldError
	if errors.As(err, &fe) && strings.Contains(strings.ToLower(fe.Field), "replacement") {
		return "replacement"
	}
	return "regex"
}

// DeleteRedirect removes one redirect of the app and applies routing.
func (s *Service) DeleteRedirect(ctx context.Context, a *db.App, id int64) error {
	if err := s.store.DeleteRedirect(ctx, a.ID, id); err != nil {
		return err
	}
	return s.syncRouting(ctx)
}

// SetHeaders replaces the app's response and request headers in one
// transaction, then applies routing.
func (s *Service) SetHeaders(ctx context.Context, a *db.App, response, request []db.Header) error {
	err := s.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.SetAppHeaders(ctx, a.ID, db.HeaderResponse, response); err != nil {
			return err
		}
		return tx.SetAppHeaders(ctx, a.ID, db.HeaderRequest, request)
	})
	if err != nil {
		return err
	}
	return s.syncRouting(ctx)
}

// ParseHeaderLines reads "Name: value" lines; an empty value removes the
// header from the message.
func ParseHeaderLines(text, kind string) ([]db.Header, error) {
	var out []db.Header
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok {
			return nil, fmt.Errorf("line %d: expected Name: value", i+1)
		}
		if err := traefik.ValidateHeader(name, value); err != nil {
			return nil, fmt.Errorf("line %d: %s", i+1, FieldMessage(err))
		}
		key := strings.ToLower(name)
		if seen[key] {
			return nil, fmt.Errorf("line %d: header %s is listed twice", i+1, name)
		}
		seen[key] = true
		out = append(out, db.Header{Kind: kind, Name: name, Value: value})
	}
	if len(out) > 50 {
		return nil, errors.New("at most 50 headers")
	}
	return out, nil
}
