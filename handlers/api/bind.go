package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"dokploy/db"
	"dokploy/handlers/web"

	"github.com/labstack/echo/v4"
)

// bindStrict decodes a JSON body, refusing unknown fields and trailing data.
func bindStrict(c echo.Context, v any) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ):
			return web.Error(http.StatusBadRequest, typ.Field, fmt.Sprintf("field %s must be %s", typ.Field, typ.Type))
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return web.Error(http.StatusBadRequest, "", "request body must be valid JSON")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return web.Error(http.StatusBadRequest, field, "unknown field "+field)
		}
		return web.Error(http.StatusBadRequest, "", err.Error())
	}
	if dec.More() {
		return web.Error(http.StatusBadRequest, "", "request body must hold one JSON object")
	}
	return nil
}

func pageParams(c echo.Context) (limit, offset int) {
	limit, _ = strconv.Atoi(c.QueryParam("limit"))
	offset, _ = strconv.Atoi(c.QueryParam("offset"))
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	if offset < 0 {
		offset = 0
	}
	return limit, offset
}

// pageOf answers one page of an already loaded list, never null.
func pageOf[T any](c echo.Context, items []T) map[string]any {
	limit, offset := pageParams(c)
	total := len(items)
	page := items[min(offset, total):min(offset+limit, total)]
	if page == nil {
		page = []T{}
	}
	return map[string]any{"items": page, "limit": limit, "offset": offset, "total": total}
}

// serviceParams reads the {kind}/{id} of /services/{kind}/{id}/…: app,
// database or compose, and a positive id; anything else is 404.
func serviceParams(c echo.Context) (string, int64, error) {
	kind := c.Param("kind")
	if kind != db.KindApp && kind != db.KindDatabase && kind != db.KindCompose {
		return "", 0, web.Error(http.StatusNotFound, "kind", "no such kind of service: use app, database or compose")
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return "", 0, web.Error(http.StatusNotFound, "id", "no such service")
	}
	return kind, id, nil
}
