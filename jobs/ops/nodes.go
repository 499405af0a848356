package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/docker"
)

// Limits of node labels. Docker sets none; these keep a typo (a pasted
// file) from landing in the swarm's store, and match what constraints
// (node.labels.<key>==<value>) can sensibly use.
const (
	maxLabelKey    = 128
	maxLabelValue  = 256
	maxLabelChange = 32
)

// labelKeyRe is Docker's documented label key format: lowercase letters,
// digits, dots and dashes, starting with a letter and ending with a letter
// or digit, no two separators in a row (checked apart).
var labelKeyRe = regexp.MustCompile(`^[a-z]([a-z0-9.-]*[a-z0-9])?$`)

// reservedLabelPrefixes are the namespaces Docker keeps for itself.
var reservedLabelPrefixes = []string{"com.docker.", "io.docker.", "org.dockerproject."}

// NodeUpdate is a change to a node. Empty fields change nothing. Version
// is the node's version the change was made against (the page's, or the
// API client's); 0 applies it to whatever the node is now.
type NodeUpdate struct {
	Availability string
	SetLabels    map[string]string
	RemoveLabels []string
	Version      uint64
}

func (s *Service) nodeEngine() (jobs.NodeEngine, error) {
	if s.runner == nil {
		return nil, &EngineError{Msg: "This process has no Docker engine."}
	}
	e, err := s.runner.NodeEngine()
	if err != nil {
		return nil, &EngineError{Msg: err.Error(), Err: err}
	}
	return e, nil
}

// nodeError turns the engine's errors into the ones the front-ends answer.
func nodeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, docker.ErrNodeNotFound):
		return fmt.Errorf("%w: %w", db.ErrNotFound, err)
	case errors.Is(err, docker.ErrNodeChanged):
		return conflict("", "This node changed meanwhile (someone else updated it). Reload and try again; nothing was changed.")
	}
	return &EngineError{Msg: "Docker refused: " + err.Error(), Err: err}
}

// Nodes lists the swarm's nodes with the platform's tasks on each.
func (s *Service) Nodes(ctx context.Context) ([]docker.Node, error) {
	e, err := s.nodeEngine()
	if err != nil {
		return nil, err
	}
	nodes, err := e.Nodes(ctx)
	if err != nil {
		return nil, nodeError(err)
	}
	return nodes, s.nameTasks(ctx, nodes...)
}

// nameTasks fills in which of the product's services each task is of, so
// pages can link to them.
func (s *Service) nameTasks(ctx context.Context, nodes ...docker.Node) error {
	var names []string
	for _, n := range nodes {
		for _, t := range n.Tasks {
			names = append(names, t.Owner())
		}
	}
	if len(names) == 0 || s.store == nil {
		return nil
	}
	byName, err := s.store.ServicesByNames(ctx, names)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		for i, t := range n.Tasks {
			if svc, ok := byName[t.Owner()]; ok {
				n.Tasks[i].Kind, n.Tasks[i].ServiceID = svc.Kind, svc.ID
			}
		}
	}
	return nil
}

// Node is one node by id or hostname; unknown ones are db.ErrNotFound.
func (s *Service) Node(ctx context.Context, id string) (docker.Node, error) {
	e, err := s.nodeEngine()
	if err != nil {
		return docker.Node{}, err
	}
	n, err := e.Node(ctx, id)
	if err != nil {
		return docker.Node{}, nodeError(err)
	}
	return n, s.nameTasks(ctx, n)
}

// UpdateNode validates u, then changes the node's availability and labels
// in one update against the node's version. Bad input changes nothing.
// Draining or pausing the last active node is refused: every service
// would stop (or could not be placed), the control plane's own included.
func (s *Service) UpdateNode(ctx context.Context, id string, u NodeUpdate) (docker.Node, error) {
	if err := validateNodeUpdate(u); err != nil {
		return docker.Node{}, err
	}
	e, err := s.nodeEngine()
	if err != nil {
		return docker.Node{}, err
	}
	nodes, err := e.Nodes(ctx)
	if err != nil {
		return docker.Node{}, nodeError(err)
	}
	n, ok := findNode(nodes, id)
	if !ok {
		return docker.Node{}, nodeError(fmt.Errorf("node %s: %w", id, docker.ErrNodeNotFound))
	}
	for _, k := range u.RemoveLabels {
		if _, has := n.Labels[k]; !has {
			return docker.Node{}, fieldError("remove_labels", fmt.Sprintf("%s has no label %q; nothing was changed", n.Hostname, k))
		}
	}
	if (u.Availability == docker.NodeDrain || u.Availability == docker.NodePause) && u.Availability != n.Availability && !otherActiveNode(nodes, n.ID) {
		return docker.Node{}, conflict("availability", "%s is the only active node: %sing it would leave no node for the services (the control plane's own included). Add a node first, then %s this one.",
			n.Hostname, strings.TrimSuffix(u.Availability, "e"), u.Availability)
	}
	ch := docker.NodeChange{Availability: u.Availability, SetLabels: u.SetLabels, RemoveLabels: u.RemoveLabels}
	err = e.UpdateNode(ctx, n.ID, u.Version, ch)
	// Without a version from the caller the read-modify-write is ours
	// alone, so a race with another writer is retried on a fresh read.
	for try := 0; u.Version == 0 && errors.Is(err, docker.ErrNodeChanged) && try < 3; try++ {
		err = e.UpdateNode(ctx, n.ID, 0, ch)
	}
	if err != nil {
		return docker.Node{}, nodeError(err)
	}
	return s.Node(ctx, n.ID)
}

// RemoveNode removes a node from the swarm. It refuses the last manager
// (the swarm would be lost), any other manager until it is demoted
// (Docker would refuse it too, with a raft message), and a worker that is
// still ready and not drained: its tasks would stop without being
// rescheduled first. A drained node that is still up is removed by force,
// and the answer says to run docker swarm leave on that machine.
func (s *Service) RemoveNode(ctx context.Context, id string) (docker.Node, error) {
	e, err := s.nodeEngine()
	if err != nil {
		return docker.Node{}, err
	}
	nodes, err := e.Nodes(ctx)
	if err != nil {
		return docker.Node{}, nodeError(err)
	}
	n, ok := findNode(nodes, id)
	if !ok {
		return docker.Node{}, nodeError(fmt.Errorf("node %s: %w", id, docker.ErrNodeNotFound))
	}
	if n.IsManager() {
		managers := 0
		for _, m := range nodes {
			if m.IsManager() {
				managers++
			}
		}
		if managers == 1 {
			return docker.Node{}, conflict("", "%s is the swarm's only manager and cannot be removed: the swarm and every service would be lost. Add another manager first (Add a node, manager token).", n.Hostname)
		}
		return docker.Node{}, conflict("", "%s is a manager. Demote it first (docker node demote %s on a manager), then drain and remove it.", n.Hostname, n.Hostname)
	}
	if n.State == "ready" && n.Availability != docker.NodeDrain {
		return docker.Node{}, conflict("", "%s is still ready and can run tasks. Drain it first so its tasks move to other nodes, then remove it (or stop its engine, so it is down).", n.Hostname)
	}
	if err := e.RemoveNode(ctx, n.ID, n.State != "down"); err != nil {
		return docker.Node{}, nodeError(err)
	}
	return n, nil
}

// JoinInfo reads the join tokens and the manager's advertised address.
// The tokens are secrets: callers show them only when asked, and never log them.
func (s *Service) JoinInfo(ctx context.Context) (docker.JoinInfo, error) {
	e, err := s.nodeEngine()
	if err != nil {
		return docker.JoinInfo{}, err
	}
	j, err := e.JoinInfo(ctx)
	return j, nodeError(err)
}

// AdvertiseAddr is the address (host:port) new nodes join this manager at.
func (s *Service) AdvertiseAddr(ctx context.Context) (string, error) {
	e, err := s.nodeEngine()
	if err != nil {
		return "", err
	}
	a, err := e.AdvertiseAddr(ctx)
	return a, nodeError(err)
}

// JoinAddrProblem says why other machines could not join at addr (a
// loopback address), or "".
func JoinAddrProblem(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return "This manager advertises " + host + ", which other machines cannot reach. Re-create the swarm with an address they can reach " +
			"(docker swarm init --advertise-addr <private address>) before adding nodes."
	}
	return ""
}

// findNode finds a node by id, or by hostname when exactly one node has
// it (machines cloned from one image often share one).
func findNode(nodes []docker.Node, id string) (docker.Node, bool) {
	var byName []docker.Node
	for _, n := range nodes {
		if n.ID == id {
			return n, true
		}
		if n.Hostname == id {
			byName = append(byName, n)
		}
	}
	if len(byName) == 1 {
		return byName[0], true
	}
	return docker.Node{}, false
}

func otherActiveNode(nodes []docker.Node, id string) bool {
	for _, n := range nodes {
		if n.ID != id && n.Availability == docker.NodeActive && n.State == "ready" {
			return true
		}
	}
	return false
}

// validateNodeUpdate checks a change before anything reaches Docker.
func validateNodeUpdate(u NodeUpdate) error {
	switch u.Availability {
	case "", docker.NodeActive, docker.NodePause, docker.NodeDrain:
	default:
		return fieldError("availability", "availability must be active, pause or drain")
	}
	if len(u.SetLabels)+len(u.RemoveLabels) > maxLabelChange {
		return fieldError("labels", fmt.Sprintf("change at most %d labels at once", maxLabelChange))
	}
	keys := make([]string, 0, len(u.SetLabels))
	for k := range u.SetLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidateLabelKey(k); err != nil {
			return fieldError("labels", err.Error())
		}
		if err := ValidateLabelValue(k, u.SetLabels[k]); err != nil {
			return fieldError("labels", err.Error())
		}
	}
	for _, k := range u.RemoveLabels {
		// Only printable text: a label set outside the product with
		// another key format can still be removed.
		if k == "" || len(k) > maxLabelKey || hasControl(k) || !utf8.ValidString(k) {
			return fieldError("remove_labels", fmt.Sprintf("%q is not a label key", k))
		}
		if _, both := u.SetLabels[k]; both {
			return fieldError("remove_labels", fmt.Sprintf("label %s is both set and removed", k))
		}
	}
	return nil
}

// ValidateLabelKey checks a node label key against Docker's key format.
func ValidateLabelKey(k string) error {
	switch {
	case strings.TrimSpace(k) == "":
		return errors.New("a label key is required")
	case len(k) > maxLabelKey:
		return fmt.Errorf("label key is longer than %d characters", maxLabelKey)
	case hasControl(k) || !utf8.ValidString(k):
		return fmt.Errorf("label key %q contains control characters (or is not UTF-8)", k)
	case !labelKeyRe.MatchString(k) || strings.Contains(k, "..") || strings.Contains(k, "--") || strings.Contains(k, ".-") || strings.Contains(k, "-."):
		return fmt.Errorf("label key %q: use lowercase letters, digits, dots and dashes, starting with a letter and ending with a letter or digit, with no two dots or dashes in a row (e.g. region or com.example.disk)", k)
	}
	for _, p := range reservedLabelPrefixes {
		if strings.HasPrefix(k, p) {
			return fmt.Errorf("label key %q: keys under %s are reserved for Docker", k, strings.TrimSuffix(p, "."))
		}
	}
	return nil
}

// ValidateLabelValue checks a node label's value.
func ValidateLabelValue(k, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("label %s needs a value (e.g. %s=true)", k, k)
	case len(v) > maxLabelValue:
		return fmt.Errorf("the value of label %s is longer than %d characters", k, maxLabelValue)
	case hasControl(v) || !utf8.ValidString(v):
		return fmt.Errorf("the value of label %s contains control characters (or is not UTF-8)", k)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
