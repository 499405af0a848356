package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"
)

// ServiceLogs answers GET /api/v1/services/{kind}/{id}/logs: the last lines
// of an app's, database's or compose service's output, as JSON or, with
// download=1, as a text attachment.
func (h *Handler) ServiceLogs(c echo.Context) error {
	kind, id, err := serviceParams(c)
	if err != nil {
		return err
	}
	f, err := ops.ParseLogFilter(c.QueryParam, time.Now())
	if err != nil {
		return err
	}
	download := c.QueryParam("download")
	if download != "" && download != "0" && download != "1" && download != "true" && download != "false" {
		return web.Error(http.StatusUnprocessableEntity, "download", "download must be 1 or 0")
	}
	ctx := c.Request().Context()
	name, label, err := h.Ops.LogTarget(ctx, kind, id, f)
	if err != nil {
		return err
	}
	lines := []docker.LogLine{}
	err = h.Ops.RuntimeLogs(ctx, name, f, false, func(l docker.LogLine) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil && !strings.Contains(err.Error(), "not found") {
		return &ops.EngineError{Msg: "Docker did not answer: " + err.Error(), Err: err}
	}
	if download == "1" || download == "true" {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(f.Format(l) + "\n")
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+label+`-logs.txt"`)
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(b.String()))
	}
	if !f.Timestamps {
		for i := range lines {
			lines[i].TS = time.Time{}
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"lines": lines, "truncated": len(lines) >= f.Tail})
}
