package pages

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"dokploy/handlers/web"
	"dokploy/jobs/ops"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// UpdateAppEnv saves the variable list read by envFromForm.
func (h *Handler) UpdateAppEnv(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	vars, problem, err := h.envFromForm(c, a.ID)
	if err != nil {
		return err
	}
	if problem == "" {
		if _, problem, err = outcome(h.Ops.SetEnv(ctx, a, vars), ""); err != nil {
			return err
		}
	}
	p, err := h.loadAppTab(c, a, "environment", nil)
	if err != nil {
		return err
	}
	if problem != "" {
		p.EnvError = problem + ". Nothing was saved; your input is kept below."
		p.EnvForm = typedEnv(c, p.EnvForm)
		return h.Partial(c, http.StatusUnprocessableEntity, "app_env", p)
	}
	p.Saved = "Variables saved. Deploy to apply them."
	return h.Partial(c, http.StatusOK, "app_env", p)
}

// envInput is the env editor's rows: the stored names (values masked) or,
// after a refusal, exactly what the user had typed, so one bad line of a
// pasted block costs no retyping.
type envInput struct {
	Rows             []envRow
	NewKey, NewValue string
	Dotenv           string
}

type envRow struct {
	Key, Value string
	Stored     bool // a stored variable: "Reveal" works, empty keeps it
	Remove     bool
}

// storedEnvForm is a service's env editor as stored: the names only, read
// without decrypting any value.
func (h *Handler) storedEnvForm(ctx context.Context, serviceID int64) (*envInput, error) {
	keys, err := h.Store.AppVariableKeys(ctx, serviceID, db.VarEnv)
	if err != nil {
		return nil, err
	}
	return storedEnv(keys), nil
}

// storedEnv is the editor of the stored variables (names only).
func storedEnv(vars []db.Variable) *envInput {
	in := &envInput{}
	for _, v := range vars {
		in.Rows = append(in.Rows, envRow{Key: v.Key, Stored: true})
	}
	return in
}

// typedEnv rebuilds the editor from the submitted form: one row per
// key/value pair, the last pair being the "new" row, and the pasted block.
func typedEnv(c echo.Context, stored *envInput) *envInput {
	known := map[string]bool{}
	for _, r := range stored.Rows {
		known[r.Key] = true
	}
	params, _ := c.FormParams()
	removed := map[string]bool{}
	for _, k := range params["delete"] {
		removed[k] = true
	}
	keys, values := params["key"], params["value"]
	in := &envInput{Dotenv: c.FormValue("dotenv")}
	for i, k := range keys {
		v := at(values, i, "")
		if i == len(keys)-1 {
			in.NewKey, in.NewValue = k, v
			break
		}
		in.Rows = append(in.Rows, envRow{Key: k, Value: v, Stored: known[k], Remove: removed[k]})
	}
	return in
}

// envFromForm reads the env editor of a service: edited rows (a blank
// value keeps the stored one), removed rows, and an optional pasted .env
// block merged last. problem is a parse error of the block.
func (h *Handler) envFromForm(c echo.Context, serviceID int64) (vars []db.Variable, problem string, err error) {
	current, err := h.Store.AppVariables(c.Request().Context(), serviceID, db.VarEnv)
	if err != nil {
		return nil, "", err
	}
	old := map[string]string{}
	for _, v := range current {
		old[v.Key] = v.Value
	}
	params, err := c.FormParams()
	if err != nil {
		return nil, "", err
	}
	removed := map[string]bool{}
	for _, k := range params["delete"] {
		removed[k] = true
	}
	keys, values := params["key"], params["value"]
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || removed[k] {
			continue
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		if prev, ok := old[k]; ok && v == "" {
			v = prev
		}
		vars = append(vars, db.Variable{Key: k, Value: v})
	}
	pasted, perr := ops.ParseDotEnv(c.FormValue("dotenv"))
	if perr != nil {
		return nil, perr.Error(), nil
	}
	return mergeVariables(vars, pasted), "", nil
}

// mergeVariables sets each of extra on base, keeping base's order.
func mergeVariables(base, extra []db.Variable) []db.Variable {
	idx := map[string]int{}
	for i, v := range base {
		idx[v.Key] = i
	}
	for _, v := range extra {
		if i, ok := idx[v.Key]; ok {
			base[i].Value = v.Value
			continue
		}
		idx[v.Key] = len(base)
		base = append(base, v)
	}
	return base
}

func (h *Handler) RevealAppEnv(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	return h.revealVariable(c, a.ID)
}

// revealVariable shows the value of the form's key among a service's env
// variables in its row (the one explicit way a page shows a value).
func (h *Handler) revealVariable(c echo.Context, serviceID int64) error {
	vars, err := h.Store.AppVariables(c.Request().Context(), serviceID, db.VarEnv)
	if err != nil {
		return err
	}
	key := c.FormValue("key")
	for _, v := range vars {
		if v.Key == key {
			web.RecordReveal(c, "env "+key, serviceID, 1)
			return h.Partial(c, http.StatusOK, "env_revealed", v)
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, "No variable "+key+".")
}

func (h *Handler) UpdateAppPorts(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	var ports []db.Port
	var perr error
	pub, tgt, proto, mode := params["published"], params["target"], params["protocol"], params["mode"]
	for i := range pub {
		if strings.TrimSpace(pub[i]) == "" {
			continue
		}
		p := db.Port{Protocol: at(proto, i, "tcp"), Mode: at(mode, i, "host")}
		var e1, e2 error
		p.Published, e1 = strconv.Atoi(strings.TrimSpace(pub[i]))
		p.Target, e2 = strconv.Atoi(strings.TrimSpace(at(tgt, i, "")))
		if e1 != nil || e2 != nil {
			perr = errors.New("ports must be whole numbers")
			break
		}
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Published < ports[j].Published })
	problem := ""
	if perr != nil {
		problem = perr.Error()
	} else if _, problem, err = outcome(h.Ops.SetPorts(c.Request().Context(), a, ports), ""); err != nil {
		return err
	}
	p, err := h.loadAppTab(c, a, "advanced", nil)
	if err != nil {
		return err
	}
	if problem != "" {
		p.PortsError = problem + ". Nothing was saved."
		p.PortRows = typedPorts(pub, tgt, proto, mode)
		return h.Partial(c, http.StatusUnprocessableEntity, "app_ports", p)
	}
	p.Saved = "Ports saved. Deploy to apply them."
	return h.Partial(c, http.StatusOK, "app_ports", p)
}

// portRow is one row of the ports editor, as typed.
type portRow struct{ Published, Target, Protocol, Mode string }

func storedPorts(ports []db.Port) []portRow {
	rows := make([]portRow, len(ports))
	for i, p := range ports {
		rows[i] = portRow{strconv.Itoa(p.Published), strconv.Itoa(p.Target), p.Protocol, p.Mode}
	}
	return rows
}

// typedPorts is the submitted rows, minus the empty "new" row.
func typedPorts(pub, tgt, proto, mode []string) []portRow {
	var rows []portRow
	for i := range pub {
		r := portRow{strings.TrimSpace(pub[i]), strings.TrimSpace(at(tgt, i, "")), at(proto, i, "tcp"), at(mode, i, "host")}
		if r.Published == "" && r.Target == "" {
			continue
		}
		rows = append(rows, r)
	}
	return rows
}

func at(s []string, i int, def string) string {
	if i < len(s) && s[i] != "" {
		return s[i]
	}
	return def
}

// UpdateAppVolumes saves the Volumes panel: rows with an empty name are
// dropped; the volumes apply on the next deploy.
func (h *Handler) UpdateAppVolumes(c echo.Context) error {
	a, err := h.LoadApp(c)
	if err != nil {
		return err
	}
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	var vols []db.AppVolume
	names, paths := params["volume_name"], params["volume_path"]
	for i := range names {
		if strings.TrimSpace(names[i]) == "" {
			continue
		}
		vols = append(vols, db.AppVolume{Name: names[i], Path: at(paths, i, "")})
	}
	_, problem, err := outcome(h.Ops.SetVolumes(c.Request().Context(), a, vols), "")
	if err != nil {
		return err
	}
	p, err := h.loadAppTab(c, a, "advanced", nil)
	if err != nil {
		return err
	}
	if problem != "" {
		p.VolumeError = problem + ". Nothing was saved."
		p.Volumes = vols
		return h.Partial(c, http.StatusUnprocessableEntity, "app_volumes", p)
	}
	p.Saved = "Volumes saved. Deploy to mount them."
	return h.Partial(c, http.StatusOK, "app_volumes", p)
}
