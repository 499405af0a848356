package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
)

// rule is what a route needs, declared next to the route in routes.go.
// Every route has one: routeGroup takes it as an argument, and
// TestAuthorization_EveryRouteHasARule fails on a route registered
// around it.
type rule struct {
	public bool     // no sign-in: login, set-up, webhooks, static files
	admin  bool     // owners and admins only (server settings, users, nodes)
	level  db.Level // the least level needed; with admin, the token scope
	// res and param find the project of a project-scoped route: the
	// resource its :param names.
	res   db.Resource
	param string
}

var (
	public   = rule{public: true}
	signedIn = rule{}                                   // any user; what they list is filtered
	adminGet = rule{admin: true, level: db.LevelView}   // reading server-wide settings
	adminSet = rule{admin: true, level: db.LevelManage} // changing them
)

func view(res db.Resource) rule   { return rule{level: db.LevelView, res: res, param: "id"} }
func deploy(res db.Resource) rule { return rule{level: db.LevelDeploy, res: res, param: "id"} }
func manage(res db.Resource) rule { return rule{level: db.LevelManage, res: res, param: "id"} }

// String is how the route-table test and error logs name a rule.
func (r rule) String() string {
	switch {
	case r.public:
		return "public"
	case r.admin:
		return "admin:" + r.level.String()
	case r.res != "":
		return fmt.Sprintf("%s:%s(:%s)", r.level, r.res, r.param)
	}
	return "signed-in"
}

// routeGroup registers routes with their rule: the only way routes.go
// adds one.
type routeGroup struct {
	h      *Handler
	g      *echo.Group
	prefix string
}

func (h *Handler) group(g *echo.Group, prefix string) routeGroup {
	return routeGroup{h: h, g: g, prefix: prefix}
}

func (r routeGroup) add(method, path string, fn echo.HandlerFunc, need rule, mw ...echo.MiddlewareFunc) {
	r.h.rules[method+" "+r.prefix+path] = need
	r.g.Add(method, path, fn, append([]echo.MiddlewareFunc{r.h.authorize(need)}, mw...)...)
}

func (r routeGroup) GET(path string, fn echo.HandlerFunc, need rule, mw ...echo.MiddlewareFunc) {
	r.add(http.MethodGet, path, fn, need, mw...)
}

func (r routeGroup) POST(path string, fn echo.HandlerFunc, need rule, mw ...echo.MiddlewareFunc) {
	r.add(http.MethodPost, path, fn, need, mw...)
}

func (r routeGroup) PUT(path string, fn echo.HandlerFunc, need rule, mw ...echo.MiddlewareFunc) {
	r.add(http.MethodPut, path, fn, need, mw...)
}

func (r routeGroup) PATCH(path string, fn echo.HandlerFunc, need rule, mw ...echo.MiddlewareFunc) {
	r.add(http.MethodPatch, path, fn, need, mw...)
}

func (r routeGroup) DELETE(path string, fn echo.HandlerFunc, need rule, mw ...echo.MiddlewareFunc) {
	r.add(http.MethodDelete, path, fn, need, mw...)
}

// authorize enforces a route's rule after sign-in has put the request's
// access in the context. Owners and admins pass project rules without a
// query; members and viewers cost one indexed lookup of the project.
func (h *Handler) authorize(need rule) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if need.public {
			return next
		}
		return func(c echo.Context) error {
			a := web.Access(c)
			if a == nil { // the sign-in middleware runs first; this is a wiring bug
				return errors.New("authorize: no access in the context")
			}
			switch {
			case need.admin:
				if !a.Role.Administers() {
					return web.Error(http.StatusForbidden, "", "Only owners and admins can do this.")
				}
				if a.Everywhere() < need.level {
					return web.Error(http.StatusForbidden, "", fmt.Sprintf("This API token's scope allows %s access; this needs %s.", a.Everywhere(), need.level))
				}
			case need.res != "":
				if a.Everywhere() >= need.level {
					break
				}
				id, err := web.PathID(c, need.param)
				if err != nil {
					return err
				}
				projectID, err := h.Store.ProjectOf(c.Request().Context(), need.res, id)
				if errors.Is(err, db.ErrNotFound) {
					return echo.NewHTTPError(http.StatusNotFound, "Not found.")
				}
				if err != nil {
					return err
				}
				if err := web.NeedLevel(c, projectID, need.level); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}
