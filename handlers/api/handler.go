package api

import (
	"context"

	"dokploy/db"
	"dokploy/handlers/web"
)

// Handler serves the JSON API under /api/v1, its OpenAPI document and the deploy webhooks.
type Handler struct {
	*web.Deps
	rejects *rejectLimiter // refused webhook deliveries recorded per webhook
	pushes  *pushBatcher   // accepted webhook pushes, queued in batches per service
	lookups *lookupGroup   // webhooks found by token, one query at a time per token
}

// New builds a Handler.
func New(d *web.Deps) *Handler {
	h := &Handler{Deps: d, rejects: newRejectLimiter()}
	h.pushes = newPushBatcher(h.writePushes)
	h.lookups = newLookupGroup(func(ctx context.Context, token string) (*db.WebhookTarget, error) {
		return h.Store.WebhookByToken(ctx, token)
	})
	return h
}
