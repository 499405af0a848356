package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
)

type componentHealth struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Swarm *bool  `json:"swarm_active,omitempty"`
}

// health reports PostgreSQL, Redis and Docker: 200 when all are up, 503
// naming what is down. It needs no authentication, so anonymous callers
// (load balancers, uptime checks) learn only up/down per dependency; the
// error texts, which can name hosts and ports, and the version are for a
// signed-in user or a valid API token.
func (h *Handler) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	out := map[string]componentHealth{}
	check := func(name string, err error) {
		if err != nil {
			out[name] = componentHealth{Error: err.Error()}
			return
		}
		out[name] = componentHealth{OK: true}
	}
	check("postgres", h.Store.Ping(ctx))
	check("redis", h.Runner.PingRedis(ctx))
	swarm, err := h.Runner.PingDocker(ctx)
	dh := componentHealth{OK: err == nil, Swarm: &swarm}
	if err != nil {
		dh.Error = err.Error()
	} else if !swarm {
		dh.OK, dh.Error = false, "swarm mode is not active: run docker swarm init"
	}
	out["docker"] = dh
	status, down := http.StatusOK, []string{}
	for _, name := range []string{"postgres", "redis", "docker"} {
		if !out[name].OK {
			status = http.StatusServiceUnavailable
			down = append(down, name)
		}
	}
	body := map[string]any{"status": map[bool]string{true: "ok", false: "degraded"}[status == http.StatusOK], "down": down, "components": out}
	if h.healthDetailsAllowed(c) {
		body["version"] = h.Version
	} else {
		for name, comp := range out {
			comp.Error = ""
			out[name] = comp
		}
	}
	return c.JSON(status, body)
}

// healthDetailsAllowed reports whether the caller is signed in or sends a
// valid API token; an invalid token is simply anonymous here.
func (h *Handler) healthDetailsAllowed(c echo.Context) bool {
	if web.CurrentUser(c) != nil {
		return true
	}
	tok := apiToken(c.Request())
	if tok == "" {
		return false
	}
	_, _, err := h.Store.APITokenUser(c.Request().Context(), tok)
	return err == nil
}
