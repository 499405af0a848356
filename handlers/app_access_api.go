package handlers

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// basicAuthJSON is a basic-auth user as the API shows it: never the hash.
type basicAuthJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// routingAnswer adds the outcome of applying the change to Traefik's files.
func (h *Handler) routingAnswer(c echo.Context, status int, body map[string]any) error {
	if failed := h.syncRouting(c.Request().Context()); failed != "" {
		body["routing_error"] = failed
	}
	return c.JSON(status, body)
}

func (h *Handler) apiListBasicAuth(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	users, err := h.store.AppBasicAuth(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	items := make([]basicAuthJSON, 0, len(users))
	for _, u := range users {
		items = append(items, basicAuthJSON{ID: u.ID, Username: u.Username})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) apiAddBasicAuth(c echo.Context) error {
	a, err := h.loadApp(c)
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
	user := strings.TrimSpace(in.Username)
	problem, err := h.saveBasicAuthUser(c.Request().Context(), a, user, in.Password)
	if err != nil {
		return err
	}
	if problem != "" {
		field := "username"
		if strings.Contains(problem, "password") {
			field = "password"
		}
		status := http.StatusUnprocessableEntity
		if strings.Contains(problem, "already exists") {
			status = http.StatusConflict
		}
		return apiError(status, field, problem)
	}
	users, err := h.store.AppBasicAuth(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Username == user {
			return h.routingAnswer(c, http.StatusCreated, map[string]any{"id": u.ID, "username": u.Username})
		}
	}
	return fmt.Errorf("basic-auth user %s not found after saving", user)
}

// childID parses a path parameter naming a row that belongs to the app.
func childID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apiError(http.StatusNotFound, "", "not found")
	}
	return id, nil
}

func (h *Handler) apiDeleteBasicAuth(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	uid, err := childID(c, "uid")
	if err != nil {
		return err
	}
	if err := h.store.DeleteBasicAuthUser(c.Request().Context(), a.ID, uid); err != nil {
		return err
	}
	return h.routingAnswer(c, http.StatusOK, map[string]any{"deleted": uid})
}

func (h *Handler) apiListRedirects(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	rds, err := h.store.AppRedirects(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	if rds == nil {
		rds = []db.Redirect{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": rds})
}

func (h *Handler) apiAddRedirect(c echo.Context) error {
	a, err := h.loadApp(c)
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
	rd := &db.Redirect{AppID: a.ID, Regex: strings.TrimSpace(in.Regex), Replacement: strings.TrimSpace(in.Replacement), Permanent: in.Permanent}
	problem, err := h.saveRedirect(c.Request().Context(), rd)
	if err != nil {
		return err
	}
	if problem != "" {
		return apiError(http.StatusUnprocessableEntity, "regex", problem)
	}
	return h.routingAnswer(c, http.StatusCreated, map[string]any{"id": rd.ID, "regex": rd.Regex,
		"replacement": rd.Replacement, "permanent": rd.Permanent})
}

func (h *Handler) apiDeleteRedirect(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	rid, err := childID(c, "rid")
	if err != nil {
		return err
	}
	if err := h.store.DeleteRedirect(c.Request().Context(), a.ID, rid); err != nil {
		return err
	}
	return h.routingAnswer(c, http.StatusOK, map[string]any{"deleted": rid})
}

// headersBody is the body and answer of /applications/{id}/headers.
type headersBody struct {
	Response map[string]string `json:"response"`
	Request  map[string]string `json:"request"`
}

func (h *Handler) apiGetHeaders(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	hs, err := h.store.AppHeaders(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	out := headersBody{Response: map[string]string{}, Request: map[string]string{}}
	for _, hd := range hs {
		if hd.Kind == db.HeaderRequest {
			out.Request[hd.Name] = hd.Value
		} else {
			out.Response[hd.Name] = hd.Value
		}
	}
	return c.JSON(http.StatusOK, out)
}

// headerLines turns a JSON header map into the UI's "Name: value" lines so
// both go through one validator (parseHeaderLines). Names with a colon and
// anything with a line break would change the line structure, so they are
// refused here.
func headerLines(field string, m map[string]string) (string, error) {
	names := make([]string, 0, len(m))
	for n, v := range m {
		if strings.ContainsAny(n, ":\r\n") || strings.ContainsAny(v, "\r\n") {
			return "", apiError(http.StatusUnprocessableEntity, field, fmt.Sprintf("header %q: names cannot contain a colon and nothing may contain a line break", n))
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
	hs, err := parseHeaderLines(lines, kind)
	if err != nil {
		return nil, apiError(http.StatusUnprocessableEntity, field, err.Error())
	}
	return hs, nil
}

func (h *Handler) apiPutHeaders(c echo.Context) error {
	a, err := h.loadApp(c)
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
	ctx := c.Request().Context()
	if err := h.store.SetAppHeaders(ctx, a.ID, db.HeaderResponse, resp); err != nil {
		return err
	}
	if err := h.store.SetAppHeaders(ctx, a.ID, db.HeaderRequest, req); err != nil {
		return err
	}
	if failed := h.syncRouting(ctx); failed != "" {
		return apiError(http.StatusUnprocessableEntity, "", "headers saved but not applied: "+failed)
	}
	return h.apiGetHeaders(c)
}
