package api

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// basicAuthJSON is a basic-auth user as the API shows it: never the hash.
type basicAuthJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// routed answers a routing operation: a change that was saved but not
// applied to Traefik keeps its success status, with the reason in
// "routing_error" (the UI shows the same "Saved, but…" warning); any other
// error goes to the error funnel.
func routed(c echo.Context, err error, status int, body map[string]any) error {
	if ops.IsNotRouted(err) {
		body["routing_error"] = err.Error()
	} else if err != nil {
		return err
	}
	return c.JSON(status, body)
}

func (h *Handler) ListBasicAuth(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	users, err := h.Store.AppBasicAuth(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	items := make([]basicAuthJSON, 0, len(users))
	for _, u := range users {
		items = append(items, basicAuthJSON{ID: u.ID, Username: u.Username})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) AddBasicAuth(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	u, err := h.Ops.AddBasicAuthUser(c.Request().Context(), a, in.Username, in.Password)
	if u == nil {
		return err
	}
	return routed(c, err, http.StatusCreated, map[string]any{"id": u.ID, "username": u.Username})
}

// childID parses a path parameter naming a row that belongs to the app.
func childID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, web.Error(http.StatusNotFound, "", "not found")
	}
	return id, nil
}

func (h *Handler) DeleteBasicAuth(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	uid, err := childID(c, "uid")
	if err != nil {
		return err
	}
	err = h.Ops.DeleteBasicAuthUser(c.Request().Context(), a, uid)
	return routed(c, err, http.StatusOK, map[string]any{"deleted": uid})
}

func (h *Handler) ListRedirects(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	rds, err := h.Store.AppRedirects(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	if rds == nil {
		rds = []db.Redirect{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": rds})
}

func (h *Handler) AddRedirect(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in struct {
		Regex       string `json:"regex"`
		Replacement string `json:"replacement"`
		Permanent   bool   `json:"permanent"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	rd := &db.Redirect{ServiceID: a.ID, Regex: in.Regex, Replacement: in.Replacement, Permanent: in.Permanent}
	err = h.Ops.AddRedirect(c.Request().Context(), rd)
	if rd.ID == 0 {
		return err
	}
	return routed(c, err, http.StatusCreated, map[string]any{"id": rd.ID, "regex": rd.Regex,
		"replacement": rd.Replacement, "permanent": rd.Permanent})
}

func (h *Handler) DeleteRedirect(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	rid, err := childID(c, "rid")
	if err != nil {
		return err
	}
	err = h.Ops.DeleteRedirect(c.Request().Context(), a, rid)
	return routed(c, err, http.StatusOK, map[string]any{"deleted": rid})
}

// headersBody is the body and answer of /applications/{id}/headers.
type headersBody struct {
	Response map[string]string `json:"response"`
	Request  map[string]string `json:"request"`
}

func (h *Handler) GetHeaders(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	out, err := h.headers(c, a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// headers loads the app's headers as the API shows them.
func (h *Handler) headers(c echo.Context, a *db.App) (*headersBody, error) {
	hs, err := h.Store.AppHeaders(c.Request().Context(), a.ID)
	if err != nil {
		return nil, err
	}
	out := &headersBody{Response: map[string]string{}, Request: map[string]string{}}
	for _, hd := range hs {
		if hd.Kind == db.HeaderRequest {
			out.Request[hd.Name] = hd.Value
		} else {
			out.Response[hd.Name] = hd.Value
		}
	}
	return out, nil
}

// headerLines turns a JSON header map into the UI's "Name: value" lines so
// both go through one validator (ops.ParseHeaderLines). Names with a colon and
// anything with a line break would change the line structure, so they are
// refused here.
func headerLines(field string, m map[string]string) (string, error) {
	names := make([]string, 0, len(m))
	for n, v := range m {
		if strings.ContainsAny(n, ":\r\n") || strings.ContainsAny(v, "\r\n") {
			return "", web.Error(http.StatusUnprocessableEntity, field, fmt.Sprintf("header %q: names cannot contain a colon and nothing may contain a line break", n))
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + ": " + m[n] + "\n")
	}
	return b.String(), nil
}

// parseHeaderMap validates one kind of headers from an API body.
func parseHeaderMap(field, kind string, m map[string]string) ([]db.Header, error) {
	lines, err := headerLines(field, m)
	if err != nil {
		return nil, err
	}
	hs, err := ops.ParseHeaderLines(lines, kind)
	if err != nil {
		return nil, web.Error(http.StatusUnprocessableEntity, field, err.Error())
	}
	return hs, nil
}

func (h *Handler) PutHeaders(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	var in headersBody
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	resp, err := parseHeaderMap("response", db.HeaderResponse, in.Response)
	if err != nil {
		return err
	}
	req, err := parseHeaderMap("request", db.HeaderRequest, in.Request)
	if err != nil {
		return err
	}
	err = h.Ops.SetHeaders(c.Request().Context(), a, resp, req)
	if err != nil && !ops.IsNotRouted(err) {
		return err
	}
	out, lerr := h.headers(c, a)
	if lerr != nil {
		return lerr
	}
	return routed(c, err, http.StatusOK, map[string]any{"response": out.Response, "request": out.Request})
}
