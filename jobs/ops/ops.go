// Package ops holds the writes both front-ends offer, one function per
// operation: it validates, writes in one transaction, then does the side
// effects (routing sync, enqueue) and returns typed errors. The pages and
// the JSON API only translate their input into an operation's arguments
// and its errors into their responses, so the two cannot drift.
package ops

import (
	"dokploy/db"
	"dokploy/jobs"
	"dokploy/jobs/routing"
)

// Service runs operations.
type Service struct {
	store    *db.Store
	runner   *jobs.Runner
	routing  *routing.Service // nil routes nothing (tests)
	reserved map[int]string   // host ports the platform uses → what uses them
}

// New builds a Service; routing may be nil. Published ports may not take
// DefaultReservedPorts until SetReservedPorts names the real ones.
func New(store *db.Store, runner *jobs.Runner, routing *routing.Service) *Service {
	if runner != nil {
		runner.SetReservedPorts(DefaultReservedPorts)
	}
	return &Service{store: store, runner: runner, routing: routing, reserved: DefaultReservedPorts}
}

// SetReservedPorts names the host ports the platform uses (port → what),
// which no app may publish.
func (s *Service) SetReservedPorts(ports map[int]string) {
	s.reserved = ports
	if s.runner != nil {
		s.runner.SetReservedPorts(ports)
	}
}
