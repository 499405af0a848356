package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// idParam parses the :id path parameter.
func idParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "Not found.")
	}
	return id, nil
}
