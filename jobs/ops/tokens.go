package ops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"dokploy/db"
)

// NewToken is what a token is asked to be.
type NewToken struct {
	Name       string
	Scope      string  // read, deploy or manage; "" is manage
	ProjectIDs []int64 // nil: every project its user reaches
	// ExpiresInDays: 0 never expires.
	ExpiresInDays int
}

// maxTokenDays bounds an expiry: ten years is "never" in practice, and
// keeps the date arithmetic sane.
const maxTokenDays = 3650

// CreateAPIToken validates the request and creates a token for the
// actor's user; the token in clear is returned this once and stored only
// as a hash. A token may create tokens only within its own limits: no
// wider scope, no other projects, no later expiry.
func (s *Service) CreateAPIToken(ctx context.Context, actor *db.Access, in NewToken) (*db.APIToken, string, error) {
	name := strings.TrimSpace(in.Name)
	if err := ValidateDisplayName(name); err != nil {
		return nil, "", fieldError("name", "Token "+err.Error())
	}
	lim := db.TokenLimits{Scope: strings.ToLower(strings.TrimSpace(in.Scope)), ProjectIDs: in.ProjectIDs}
	if lim.Scope == "" {
		lim.Scope = db.ScopeManage
	}
	if db.ScopeLevel(lim.Scope) == db.LevelNone {
		return nil, "", fieldError("scope", "Scope must be read, deploy or manage.")
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > maxTokenDays {
		return nil, "", fieldError("expires_in_days", fmt.Sprintf("Expiry must be between 1 and %d days, or 0 for never.", maxTokenDays))
	}
	if in.ExpiresInDays > 0 {
		at := time.Now().Add(time.Duration(in.ExpiresInDays) * 24 * time.Hour)
		lim.ExpiresAt = &at
	}
	for _, id := range lim.ProjectIDs {
		if !actor.Sees(id) {
			return nil, "", fieldError("project_ids", fmt.Sprintf("There is no project %d.", id))
		}
	}
	if t := actor.Token; t != nil {
		if db.ScopeLevel(lim.Scope) > db.ScopeLevel(t.Scope) {
			return nil, "", forbidden("This token's scope is %s: it cannot create a token with scope %s.", t.Scope, lim.Scope)
		}
		if t.ProjectIDs != nil && lim.ProjectIDs == nil {
			lim.ProjectIDs = t.ProjectIDs // its own projects, not every one
		}
		if t.ExpiresAt != nil && (lim.ExpiresAt == nil || lim.ExpiresAt.After(*t.ExpiresAt)) {
			if in.ExpiresInDays > 0 {
				return nil, "", forbidden("This token expires on %s: it cannot create one that lasts longer.", t.ExpiresAt.UTC().Format("2006-01-02"))
			}
			lim.ExpiresAt = t.ExpiresAt
		}
	}
	return s.store.CreateAPIToken(ctx, actor.UserID, name, lim)
}

// RevokeAPIToken ends one of the user's tokens at once; owners and admins
// may end anyone's.
func (s *Service) RevokeAPIToken(ctx context.Context, actor *db.Access, id int64) error {
	if actor.Admin() {
		return s.store.RevokeAnyAPIToken(ctx, id)
	}
	return s.store.RevokeAPIToken(ctx, actor.UserID, id)
}

// RotateWebhookToken gives the app a new deploy webhook URL; the old one
// stops working at once.
func (s *Service) RotateWebhookToken(ctx context.Context, a *db.App) (*db.Webhook, error) {
	return s.store.RotateWebhookToken(ctx, a.ID)
}
