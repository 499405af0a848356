package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// The one error funnel answers each typed error with its status, as a page
// for the UI and as JSON for routes of the API group, and a failure of
// our own as a 500 that keeps its detail out of the response.
func TestErrorFunnel_StatusesAndFrontEnds(t *testing.T) {
	renderer, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{PublicURL: "http://dokploy.test", Version: "test"}, nil, renderer, nil)
	cases := []struct {
		err    error
		status int
		text   string
	}{
		{ops.FieldErrors{"name": "name is required"}, http.StatusUnprocessableEntity, "name is required"},
		{&ops.ConflictError{Field: "app_name", Msg: `app name "web" is taken`}, http.StatusConflict, "is taken"},
		{&ops.NotRoutedError{Err: errors.New("disk full")}, http.StatusBadGateway, "Saved, but"},
		{&ops.EngineError{Msg: "Docker refused: no such service"}, http.StatusBadGateway, "Docker refused"},
		{errors.New("pq: connection refused"), http.StatusInternalServerError, "Something went wrong"},
	}
	for _, tc := range cases {
		for _, api := range []bool{false, true} {
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/anything", nil), rec)
			c.Set(web.CtxRequestID, "req-1")
			if api {
				_ = web.APIFrontEnd(func(echo.Context) error { return nil })(c)
			}
			h.handleError(tc.err, c)
			if rec.Code != tc.status {
				t.Errorf("%T (api %v): status %d, want %d", tc.err, api, rec.Code, tc.status)
			}
			body := rec.Body.String()
			wantType := "text/html"
			if api {
				wantType = "application/json"
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), wantType) {
				t.Errorf("%T (api %v): content type %q, want %s", tc.err, api, rec.Header().Get("Content-Type"), wantType)
			}
			if !strings.Contains(body, tc.text) {
				t.Errorf("%T (api %v): body does not say %q: %.300s", tc.err, api, tc.text, body)
			}
			if strings.Contains(body, "connection refused") {
				t.Errorf("%T (api %v): an internal error's detail reached the response", tc.err, api)
			}
		}
	}
}
