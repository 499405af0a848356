package pages

import "dokploy/handlers/web"

// Handler serves the dashboard pages and their HTMX partials.
type Handler struct {
	*web.Deps
	logs *logFollowers // the shared pollers of followed deployment logs
}

// New builds a Handler.
func New(d *web.Deps) *Handler {
	return &Handler{Deps: d, logs: newLogFollowers(d.Store, defaultFollow)}
}
