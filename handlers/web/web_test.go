package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/views"
)

// A template that fails to render writes nothing, so the error funnel can
// still answer with a logged 500 instead of an empty 200.
func TestRender_TemplateErrorWritesNothing(t *testing.T) {
	renderer, err := views.New()
	if err != nil {
		t.Fatal(err)
	}
	d := &web.Deps{Views: renderer, Version: "test"}
	for name, render := range map[string]func(echo.Context) error{
		"partial": func(c echo.Context) error { return d.Partial(c, http.StatusOK, "no_such_partial", nil) },
		"page":    func(c echo.Context) error { return d.Page(c, http.StatusOK, "no_such_page", &views.Page{}) },
	} {
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		if err := render(c); err == nil {
			t.Errorf("%s: a missing template rendered without error", name)
		}
		if c.Response().Committed || rec.Body.Len() != 0 {
			t.Errorf("%s: a failed render wrote %d bytes (committed %v)", name, rec.Body.Len(), c.Response().Committed)
		}
	}
}

func TestPublicAddressMismatch(t *testing.T) {
	tests := []struct {
		public, host string
		want         bool
	}{
		{"https://dokploy.example.com", "dokploy.example.com", false},
		{"https://dokploy.example.com/", "DOKPLOY.example.com", false},
		{"http://localhost:3000", "localhost:3000", false},
		{"http://localhost:3000", "203.0.113.7:3000", true},
		{"https://dokploy.example.com", "dokploy.example.com:8443", true},
		{"", "203.0.113.7:3000", false},
	}
	for _, tc := range tests {
		d := &web.Deps{PublicURL: tc.public}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tc.host
		got := d.PublicAddressMismatch(echo.New().NewContext(req, httptest.NewRecorder()))
		if (got != nil) != tc.want {
			t.Errorf("PublicURL %q, Host %q: mismatch %+v, want %v", tc.public, tc.host, got, tc.want)
		}
		if got != nil && (got.Browsing != tc.host || got.Configured != strings.TrimSuffix(tc.public, "/")) {
			t.Errorf("PublicURL %q, Host %q: %+v", tc.public, tc.host, got)
		}
	}
}
