package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// handleError is the one place errors become responses and get logged:
// JSON for routes of the API group, a flash message for HTMX requests and
// an error page otherwise.
func (h *Handler) handleError(err error, c echo.Context) {
	if c.Response().Committed || errors.Is(err, context.Canceled) {
		return
	}
	status, msg, field := errorResponse(err)
	if status >= 500 {
		slog.Error("request failed", "request_id", c.Get(web.CtxRequestID), "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	if web.IsAPI(c) {
		_ = c.JSON(status, &web.APIError{Message: msg, Field: field})
		return
	}
	if web.IsHTMX(c) {
		// Show the message in the page's flash area instead of replacing content.
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		if err := h.Partial(c, status, "flash_error", msg); err != nil {
			slog.Error("rendering an error failed", "request_id", c.Get(web.CtxRequestID), "err", err)
		}
		return
	}
	if err := h.Page(c, status, "error", &views.Page{Title: http.StatusText(status), Data: map[string]any{"Status": status, "Message": msg}}); err != nil {
		slog.Error("rendering an error page failed", "request_id", c.Get(web.CtxRequestID), "err", err)
		_ = c.String(http.StatusInternalServerError, msg)
	}
}

// errorResponse maps an error to its status, message and field. Unknown
// errors are a 500 whose detail stays in the log.
func errorResponse(err error) (status int, msg, field string) {
	var apiErr *web.APIError
	var httpErr *echo.HTTPError
	var fields ops.FieldErrors
	var conflict *ops.ConflictError
	var notRouted *ops.NotRoutedError
	var engineErr *ops.EngineError
	var forbidden *ops.ForbiddenError
	switch {
	case errors.As(err, &apiErr):
		return apiErr.Status, apiErr.Message, apiErr.Field
	case errors.As(err, &fields):
		field, msg = fields.First()
		return http.StatusUnprocessableEntity, msg, field
	case errors.As(err, &conflict):
		return http.StatusConflict, conflict.Msg, conflict.Field
	case errors.As(err, &forbidden):
		return http.StatusForbidden, forbidden.Msg, ""
	case errors.As(err, &notRouted):
		return http.StatusBadGateway, notRouted.Error(), ""
	case errors.As(err, &engineErr):
		return http.StatusBadGateway, engineErr.Msg, ""
	case errors.As(err, &httpErr):
		if m, ok := httpErr.Message.(string); ok {
			return httpErr.Code, m, ""
		}
		return httpErr.Code, http.StatusText(httpErr.Code), ""
	case errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound, "Not found.", ""
	case errors.Is(err, db.ErrConflict), errors.Is(err, db.ErrNotEmpty):
		return http.StatusConflict, err.Error(), ""
	}
	return http.StatusInternalServerError, "Something went wrong on our side. Try again; if it persists, check the server log.", ""
}
