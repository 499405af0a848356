package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

type componentHealth struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Swarm *bool  `json:"swarm_active,omitempty"`
}

// health reports PostgreSQL, Redis and Docker: 200 when all are up, 503
// naming what is down. It needs no authentication and reveals no secrets.
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
	return c.JSON(status, map[string]any{"status": map[bool]string{true: "ok", false: "degraded"}[status == http.StatusOK], "down": down, "components": out, "version": h.Version})
}
