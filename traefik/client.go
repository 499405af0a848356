package traefik

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxPages bounds Routers' pagination loop against a misbehaving server.
const maxPages = 1000

// Client reads router state from Traefik's API (api.insecure on the
// "traefik" entry point). YAML errors never show up there (Traefik only logs
// them), which is why Dir refuses invalid files; the API does report
// semantic errors such as a missing service or a bad rule.
type Client struct {
	// BaseURL is the API entry point, e.g. "http://traefik:8080".
	BaseURL string
	// HTTP is the client to use; nil means http.DefaultClient. Set a timeout
	// on it or pass a context with a deadline.
	HTTP *http.Client
	// Username and Password authenticate to the API router (APIRouterFile);
	// without them /api answers 401.
	Username, Password string
}

// RouterStatus is one router as reported by GET /api/http/routers.
type RouterStatus struct {
	Name        string     `json:"name"`     // with provider suffix, e.g. "shop-d7-web@file"
	Provider    string     `json:"provider"` // e.g. "file"
	Status      string     `json:"status"`   // "enabled", "disabled" or "warning"
	Errors      []string   `json:"error"`    // why the router is disabled or in warning
	Rule        string     `json:"rule"`
	Service     string     `json:"service"`
	EntryPoints []string   `json:"entryPoints"`
	Middlewares []string   `json:"middlewares"`
	TLS         *RouterTLS `json:"tls"`
}

// RouterTLS is a router's TLS section as reported by the API.
type RouterTLS struct {
	CertResolver string `json:"certResolver"`
	Options      string `json:"options"`
}

// RouterState summarizes one expected router for health checks.
type RouterState string

// Router states returned by Client.RouterState.
const (
	StateEnabled RouterState = "enabled" // loaded and serving
	StateWarning RouterState = "warning" // loaded and serving, with errors (e.g. TLS)
	StateError   RouterState = "error"   // loaded but disabled, see RouterStatus.Errors
	StateMissing RouterState = "missing" // not loaded: file absent, or the provider is frozen
)

// Ping returns nil when GET /ping answers 200.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.get(ctx, "/ping", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Routers returns every HTTP router from all providers, following the
// API's X-Next-Page pagination (which answers 1 on the last page).
func (c *Client) Routers(ctx context.Context) ([]RouterStatus, error) {
	var all []RouterStatus
	page := 1
	for range maxPages {
		batch, next, err := c.routerPage(ctx, page)
		if err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if next <= page {
			return all, nil
		}
		page = next
	}
	return nil, fmt.Errorf("traefik api: more than %d pages of routers", maxPages)
}

func (c *Client) routerPage(ctx context.Context, page int) ([]RouterStatus, int, error) {
	q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {"100"}}
	resp, err := c.get(ctx, "/api/http/routers", q)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var batch []RouterStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&batch); err != nil {
		return nil, 0, fmt.Errorf("traefik api: decode routers: %w", err)
	}
	next, err := strconv.Atoi(resp.Header.Get("X-Next-Page"))
	if err != nil {
		next = 0 // header absent: a single page
	}
	return batch, next, nil
}

// RouterState returns the state of each named router. Names without a
// provider suffix get "@file", the provider of rendered files; the result
// is keyed by the names as given.
func (c *Client) RouterState(ctx context.Context, names []string) (map[string]RouterState, error) {
	routers, err := c.Routers(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]RouterStatus, len(routers))
	for _, r := range routers {
		byName[r.Name] = r
	}
	states := make(map[string]RouterState, len(names))
	for _, name := range names {
		full := name
		if !strings.Contains(full, "@") {
			full += "@file"
		}
		r, ok := byName[full]
		switch {
		case !ok:
			states[name] = StateMissing
		case r.Status == "enabled" && len(r.Errors) == 0:
			states[name] = StateEnabled
		case r.Status == "warning":
			states[name] = StateWarning
		default:
			states[name] = StateError
		}
	}
	return states, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("traefik api: %w", err)
	}
	if c.Password != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("traefik api: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("traefik api: GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}
