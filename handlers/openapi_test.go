package handlers

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"dokploy/e2e/testkit"
	"dokploy/handlers/api"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"
)

var echoParamRe = regexp.MustCompile(`:([A-Za-z_]+)`)

// registeredRoutes lists "METHOD /path" of every route the router serves,
// with Echo's :param written as OpenAPI's {param}.
func registeredRoutes(t *testing.T, h *Handler) map[string]bool {
	t.Helper()
	e, ok := h.Router().(*echo.Echo)
	if !ok {
		t.Fatal("Router is not an *echo.Echo")
	}
	out := map[string]bool{}
	for _, r := range e.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue // Echo's internal not-found routes of groups
		}
		out[r.Method+" "+echoParamRe.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return out
}

// documentedRoutes lists "METHOD /path" of every operation in the document.
func documentedRoutes(t *testing.T, doc map[string]any) map[string]bool {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("document has no paths object")
	}
	out := map[string]bool{}
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for method := range ops {
			out[strings.ToUpper(method)+" "+p] = true
		}
	}
	return out
}

func missingFrom(have map[string]bool, want map[string]bool, prefix string) []string {
	var out []string
	for k := range want {
		if strings.HasPrefix(strings.SplitN(k, " ", 2)[1], prefix) && !have[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPI_MatchesRoutes keeps the document true: every /api/v1 route
// is documented, and every documented operation is a route. It needs no
// services, so it runs in every `go test`.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	h := New(Options{PublicURL: "http://dokploy.test", Version: "test"}, nil, nil, nil)
	// Round-trip through JSON: what clients get, not the Go values.
	raw, err := json.Marshal(h.api.Spec())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	routes, documented := registeredRoutes(t, h), documentedRoutes(t, doc)
	if missing := missingFrom(documented, routes, "/api/v1/"); len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document (add them to Operations in api/openapi.go):\n  %s", strings.Join(missing, "\n  "))
	}
	if extra := missingFrom(routes, documented, "/"); len(extra) > 0 {
		t.Errorf("documented operations that are not routes:\n  %s", strings.Join(extra, "\n  "))
	}
	if !documented["POST /api/deploy/{token}"] {
		t.Error("the deploy webhook is not documented")
	}

	if doc["openapi"] != "3.0.3" {
		t.Errorf("openapi version: %v", doc["openapi"])
	}
	ids := map[string]string{}
	for p, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("operationId %q of %s %s is empty or also used by %s", id, method, p, prev)
			}
			ids[id] = method + " " + p
			if _, ok := o["responses"].(map[string]any); !ok {
				t.Errorf("%s %s has no responses", method, p)
			}
			for _, m := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(p, -1) {
				if !strings.Contains(string(mustMarshal(t, o["parameters"])), `"name":"`+m[1]+`"`) {
					t.Errorf("%s %s does not declare path parameter %s", method, p, m[1])
				}
			}
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenAPI_ServedAndListedOnAPIPage(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	res, body := app.apiJSON(http.MethodGet, "/api/openapi.json", "", nil)
	wantStatus(t, res, http.StatusOK)
	if body["openapi"] != "3.0.3" {
		t.Fatalf("served document: %.200s", res.Body)
	}
	b := app.setupAdmin()
	res = b.get("/api-docs")
	wantStatus(t, res, http.StatusOK)
	doc := res.doc(t)
	if doc.Find(`header nav a[href="/api-docs"].active`).Length() != 1 {
		t.Error("no active API link in the navigation")
	}
	listed := map[string]bool{}
	doc.Find(".api-op").Each(func(_ int, s *goquery.Selection) {
		listed[strings.TrimSpace(s.Find(".api-method").Text())+" "+strings.TrimSpace(s.Find(".api-path").Text())] = true
	})
	for _, op := range api.Operations() {
		if !listed[op.Method+" "+op.Path] {
			t.Errorf("API page does not list %s %s", op.Method, op.Path)
		}
	}
	testkit.MustContain(t, res.Body, "&#34;app_name&#34;", "Authorization: Bearer")
}
