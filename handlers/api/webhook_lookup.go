package api

import (
	"context"

	"dokploy/db"
)

// lookupGroup finds webhooks by URL token, one query at a time per token:
// the pushes of a burst (50 for one app at once) arriving while a lookup
// of their token runs share the next one instead of each holding a
// database connection for its own. A push is only answered from a lookup
// that started after it arrived, so a rotated token or a changed secret
// applies to every push that arrives after the change committed, as
// without grouping.
type lookupGroup = batcher[string, struct{}, *db.WebhookTarget]

func newLookupGroup(lookup func(ctx context.Context, token string) (*db.WebhookTarget, error)) *lookupGroup {
	return newBatcher(func(ctx context.Context, token string, _ []struct{}) (*db.WebhookTarget, error) {
		return lookup(ctx, token)
	}, maxPushesWaiting)
}

// webhookByToken is Store.WebhookByToken through the lookup group. Each
// caller gets its own copy of the webhook, which the pushes of one lookup
// share.
func (h *Handler) webhookByToken(ctx context.Context, token string) (*db.WebhookTarget, error) {
	t, err := h.lookups.submit(ctx, token, struct{}{})
	if err != nil {
		return nil, err
	}
	own := *t
	return &own, nil
}
