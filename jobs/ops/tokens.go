package ops

import (
	"context"
	"strings"

	"dokploy/db"
)

// CreateAPIToken validates the name and creates a token for the user; the
// token in clear is returned this once and stored only as a hash.
func (s *Service) CreateAPIToken(ctx context.Context, userID int64, name string) (*db.APIToken, string, error) {
	name = strings.TrimSpace(name)
	if err := ValidateDisplayName(name); err != nil {
		return nil, "", fieldError("name", "Token "+err.Error())
	}
	return s.store.CreateAPIToken(ctx, userID, name)
}

// RevokeAPIToken ends one of the user's tokens at once.
func (s *Service) RevokeAPIToken(ctx context.Context, userID, id int64) error {
	return s.store.RevokeAPIToken(ctx, userID, id)
}

// RotateWebhookToken gives the app a new deploy webhook URL; the old one
// stops working at once.
func (s *Service) RotateWebhookToken(ctx context.Context, a *db.App) (*db.Webhook, error) {
	return s.store.RotateWebhookToken(ctx, a.ID)
}
