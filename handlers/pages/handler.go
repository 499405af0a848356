package pages

import "dokploy/handlers/web"

// Handler serves the dashboard pages and their HTMX partials.
type Handler struct{ *web.Deps }

// New builds a Handler.
func New(d *web.Deps) *Handler { return &Handler{Deps: d} }
