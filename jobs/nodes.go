package jobs

import (
	"context"
	"fmt"

	"dokploy/jobs/docker"
)

// NodeEngine is what the Nodes page and API need of the engine: Swarm
// nodes, their updates and removal, and the join tokens. *docker.Docker
// has it; the engine fakes of other tests need not.
type NodeEngine interface {
	Nodes(ctx context.Context) ([]docker.Node, error)
	Node(ctx context.Context, id string) (docker.Node, error)
	UpdateNode(ctx context.Context, id string, version uint64, ch docker.NodeChange) error
	RemoveNode(ctx context.Context, id string, force bool) error
	JoinInfo(ctx context.Context) (docker.JoinInfo, error)
	AdvertiseAddr(ctx context.Context) (string, error)
}

var _ NodeEngine = (*docker.Docker)(nil)

// NodeEngine is the engine's Swarm node management, or an error where the
// engine has none (a fake).
func (r *Runner) NodeEngine() (NodeEngine, error) {
	e, ok := r.docker.(NodeEngine)
	if !ok {
		return nil, fmt.Errorf("this engine cannot manage swarm nodes")
	}
	return e, nil
}
