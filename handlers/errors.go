package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/views"
)

// APIError is the JSON error body of every /api response.
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field,omitempty"`
}

func (e *APIError) Error() string { return e.Message }

func apiError(status int, field, msg string) error {
	return &APIError{Status: status, Field: field, Message: msg}
}

// handleError is the one place errors become responses and get logged.
func (h *Handler) handleError(err error, c echo.Context) {
	if c.Response().Committed || errors.Is(err, context.Canceled) {
		return
	}
	status, msg, field := http.StatusInternalServerError, "Something went wrong on our side. Try again; if it persists, check the server log.", ""
	var apiErr *APIError
	var httpErr *echo.HTTPError
	switch {
	case errors.As(err, &apiErr):
		status, msg, field = apiErr.Status, apiErr.Message, apiErr.Field
	case errors.As(err, &httpErr):
		status = httpErr.Code
		if m, ok := httpErr.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(status)
		}
	case errors.Is(err, db.ErrNotFound):
		status, msg = http.StatusNotFound, "Not found."
	case errors.Is(err, db.ErrConflict), errors.Is(err, db.ErrNotEmpty):
		status, msg = http.StatusConflict, err.Error()
	}
	if status >= 500 {
		slog.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = c.JSON(status, &APIError{Message: msg, Field: field})
		return
	}
	if isHTMX(c) {
		// Show the message in the page's flash area instead of replacing content.
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		_ = h.partial(c, status, "flash_error", msg)
		return
	}
	_ = h.page(c, status, "error", &views.Page{Title: http.StatusText(status), Data: map[string]any{"Status": status, "Message": msg}})
}
