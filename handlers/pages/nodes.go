package pages

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
	"dokploy/jobs/docker"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// ---- Nodes page: the swarm's nodes, their labels and availability ----

// nodesList is the data of the "nodes_list" partial. Error is why Docker
// could not list the nodes (not a swarm manager, engine down).
type nodesList struct {
	Nodes []nodeCard
	Error string
	CSRF  string
}

// nodeCard is the data of the "node_card" partial: one node, what the
// last action on it did or why it was refused, and the add-label form.
type nodeCard struct {
	Node    docker.Node
	Message string
	Problem string
	Form    *views.Form
	CSRF    string
}

// nodesPage is the data of the Nodes page.
type nodesPage struct {
	List        nodesList
	Addr        string // where new nodes join; the tokens only on request
	AddrProblem string
	CSRF        string
}

// nodeJoin is the data of the "node_join" partial: the join command for
// a worker or a manager. It holds a join token, so it is only ever the
// answer to a click. (The page itself warns of an unreachable address.)
type nodeJoin struct {
	Manager bool
	Command string
	CSRF    string
}

func (h *Handler) nodesList(c echo.Context) (nodesList, error) {
	out := nodesList{CSRF: web.CSRF(c)}
	nodes, err := h.Ops.Nodes(c.Request().Context())
	var engineErr *ops.EngineError
	if errors.As(err, &engineErr) {
		// The page still renders: it says what is wrong instead.
		out.Error = engineErr.Msg
		return out, nil
	}
	if err != nil {
		return out, err
	}
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, h.card(c, n))
	}
	return out, nil
}

func (h *Handler) card(c echo.Context, n docker.Node) nodeCard {
	return nodeCard{Node: n, Form: views.NewForm(), CSRF: web.CSRF(c)}
}

// ShowNodesPage lists every node of the swarm.
func (h *Handler) ShowNodesPage(c echo.Context) error {
	list, err := h.nodesList(c)
	if err != nil {
		return err
	}
	p := nodesPage{List: list, CSRF: web.CSRF(c)}
	if list.Error == "" {
		if p.Addr, err = h.Ops.AdvertiseAddr(c.Request().Context()); err == nil {
			p.AddrProblem = ops.JoinAddrProblem(p.Addr)
		}
	}
	return h.Page(c, http.StatusOK, "nodes", &views.Page{Title: "Nodes", Active: "nodes", Data: &p})
}

// ShowNodesList re-renders the list (the Refresh button).
func (h *Handler) ShowNodesList(c echo.Context) error {
	list, err := h.nodesList(c)
	if err != nil {
		return err
	}
	return h.Partial(c, http.StatusOK, "nodes_list", &list)
}

// SetNodeAvailability drains, pauses or activates a node.
func (h *Handler) SetNodeAvailability(c echo.Context) error {
	a := c.FormValue("availability")
	n, err := h.Ops.UpdateNode(c.Request().Context(), c.Param("id"), ops.NodeUpdate{Availability: a, Version: formVersion(c)})
	return h.nodeOutcome(c, n, err, nil, availabilityDone(a))
}

// AddNodeLabel sets one label on a node.
func (h *Handler) AddNodeLabel(c echo.Context) error {
	form := views.NewForm()
	key, value := strings.TrimSpace(c.FormValue("key")), c.FormValue("value")
	form.Values["key"], form.Values["value"] = key, value
	n, err := h.Ops.UpdateNode(c.Request().Context(), c.Param("id"), ops.NodeUpdate{
		SetLabels: map[string]string{key: value}, Version: formVersion(c)})
	return h.nodeOutcome(c, n, err, form, "Label "+key+" set.")
}

// RemoveNodeLabel removes one label from a node.
func (h *Handler) RemoveNodeLabel(c echo.Context) error {
	key := c.FormValue("key")
	n, err := h.Ops.UpdateNode(c.Request().Context(), c.Param("id"), ops.NodeUpdate{
		RemoveLabels: []string{key}, Version: formVersion(c)})
	return h.nodeOutcome(c, n, err, nil, "Label "+key+" removed.")
}

// RemoveNode removes a node from the swarm; the card is replaced by what
// is left to do on that machine.
func (h *Handler) RemoveNode(c echo.Context) error {
	n, err := h.Ops.RemoveNode(c.Request().Context(), c.Param("id"))
	if err != nil {
		return h.nodeOutcome(c, docker.Node{}, err, nil, "")
	}
	return h.Partial(c, http.StatusOK, "node_removed", n)
}

// ShowNodeJoin answers the join command the user asked for. It carries a
// join token: never cached, and posted (CSRF-checked) rather than linked.
func (h *Handler) ShowNodeJoin(c echo.Context) error {
	j, err := h.Ops.JoinInfo(c.Request().Context())
	if err != nil {
		return err
	}
	manager := c.FormValue("role") == "manager"
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.Partial(c, http.StatusOK, "node_join", &nodeJoin{Manager: manager, Command: strings.Join(j.Command(manager), " "),
		CSRF: web.CSRF(c)})
}

// nodeOutcome renders the node's card after an action: with done on
// success, or with the refusal (422 bad input, 409 refused) on the node
// as it is now. Other errors go to the error funnel.
func (h *Handler) nodeOutcome(c echo.Context, n docker.Node, err error, form *views.Form, done string) error {
	var fields ops.FieldErrors
	var conflict *ops.ConflictError
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.As(err, &fields):
		status = http.StatusUnprocessableEntity
	case errors.As(err, &conflict):
		status = http.StatusConflict
	default:
		return err
	}
	card := nodeCard{Form: form, CSRF: web.CSRF(c)}
	if card.Form == nil {
		card.Form = views.NewForm()
	}
	if status == http.StatusOK {
		card.Node, card.Message = n, done
		card.Form = views.NewForm() // the label went in: an empty form for the next
		return h.Partial(c, status, "node_card", &card)
	}
	// A refused label shows at its form; anything else above the card.
	if form == nil || !formErrors(form, err) {
		_, card.Problem, _ = outcome(err, "")
	}
	if card.Node, err = h.Ops.Node(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return h.Partial(c, status, "node_card", &card)
}

// formVersion is the node version the page was showing, 0 when absent.
func formVersion(c echo.Context) uint64 {
	v, _ := strconv.ParseUint(c.FormValue("version"), 10, 64)
	return v
}

func availabilityDone(a string) string {
	switch a {
	case docker.NodeDrain:
		return "Draining: its tasks are moving to other nodes, and no new ones are placed here."
	case docker.NodePause:
		return "Paused: its tasks keep running, and no new ones are placed here."
	}
	return "Active: tasks may be placed here again."
}
