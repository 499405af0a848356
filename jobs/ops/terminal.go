package ops

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"dokploy/db"
	"dokploy/jobs/docker"
)

// Terminal limits.
const (
	TerminalIdleTimeout   = 30 * time.Minute
	TerminalMaxMessage    = 64 << 10 // one message from the browser
	TerminalRecentListing = 20
)

// TerminalTarget names the container a terminal opens in: a service by
// kind and id, the compose service for stacks, and a replica (task slot,
// 0: the first running one on this node).
type TerminalTarget struct {
	Kind    string
	ID      int64
	Service string
	Replica int
}

// ParseTerminalTarget reads kind and id (path) and replica and service
// (query, through get); errors name the field.
func ParseTerminalTarget(kind, id string, get func(string) string) (TerminalTarget, error) {
	t := TerminalTarget{Kind: kind}
	if kind != db.KindApp && kind != db.KindDatabase && kind != db.KindCompose {
		return t, db.ErrNotFound
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 {
		return t, db.ErrNotFound
	}
	t.ID = n
	f, err := ParseLogFilter(func(k string) string {
		if k == "replica" || k == "service" {
			return get(k)
		}
		return ""
	}, time.Now())
	if err != nil {
		return t, err
	}
	t.Service, t.Replica = f.Service, f.Replica
	return t, nil
}

// TerminalService resolves the target to its Swarm service name and the
// label shown to people (an unknown service is db.ErrNotFound).
func (s *Service) TerminalService(ctx context.Context, t TerminalTarget) (name, label string, err error) {
	return s.LogTarget(ctx, t.Kind, t.ID, LogFilter{Service: t.Service})
}

// TerminalReplicas lists the running replicas of the target's service,
// for the picker.
func (s *Service) TerminalReplicas(ctx context.Context, t TerminalTarget) ([]docker.Replica, error) {
	name, _, err := s.TerminalService(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.runner.ServiceReplicas(ctx, name)
}

// TerminalUser is who opens a terminal: the user, the API token when it
// came with one, and the client's address.
type TerminalUser struct {
	User       *db.User
	TokenID    *int64
	TokenName  string
	RemoteAddr string
}

// TerminalSession is an open terminal whose session is recorded: reads
// and writes are counted, and Close ends the shell and the record.
type TerminalSession struct {
	*docker.Terminal
	Record   db.TerminalSession
	store    *db.Store
	in, out  atomic.Int64
	closed   atomic.Bool
	finished chan struct{}
}

// OpenTerminal picks the target's replica, starts a shell in its
// container and records the session. Errors are for the person at the
// terminal: docker.ErrNoShell, docker.ErrReplicaElsewhere (with the node),
// docker.ErrNoRunningTask.
func (s *Service) OpenTerminal(ctx context.Context, t TerminalTarget, who TerminalUser, cols, rows uint) (*TerminalSession, error) {
	name, label, err := s.TerminalService(ctx, t)
	if err != nil {
		return nil, err
	}
	reps, err := s.runner.ServiceReplicas(ctx, name)
	if err != nil {
		return nil, &EngineError{Msg: "Docker did not answer: " + err.Error(), Err: err}
	}
	rep, err := docker.PickReplica(label, reps, t.Replica)
	if err != nil {
		return nil, err
	}
	term, err := s.runner.OpenTerminal(ctx, rep.Container, cols, rows)
	if err != nil {
		return nil, err
	}
	rec := db.TerminalSession{UserEmail: who.User.Email, TokenID: who.TokenID, TokenName: who.TokenName,
		ServiceKind: t.Kind, ServiceID: t.ID, ServiceName: label, ContainerID: rep.Container, Replica: rep.Slot,
		Node: rep.Node, Shell: term.Shell, RemoteAddr: who.RemoteAddr}
	uid := who.User.ID
	rec.UserID = &uid
	if err := s.store.CreateTerminalSession(ctx, &rec); err != nil {
		_ = term.Close() // no shell without its record
		return nil, err
	}
	return &TerminalSession{Terminal: term, Record: rec, store: s.store, finished: make(chan struct{})}, nil
}

// Read reads what the shell printed, counting it.
func (ts *TerminalSession) Read(p []byte) (int, error) {
	n, err := ts.Terminal.Read(p)
	ts.out.Add(int64(n))
	return n, err
}

// Write types p, counting it.
func (ts *TerminalSession) Write(p []byte) (int, error) {
	n, err := ts.Terminal.Write(p)
	ts.in.Add(int64(n))
	return n, err
}

// Close ends the shell (waiting until the engine says it ended) and
// records the end, its reason and the byte counts. Only the first call
// counts.
func (ts *TerminalSession) Close(reason string) error {
	if ts.closed.Swap(true) {
		<-ts.finished
		return nil
	}
	defer close(ts.finished)
	err := ts.Terminal.Close()
	if err != nil {
		reason = strings.TrimSpace(reason + "; " + err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rerr := ts.store.EndTerminalSession(ctx, ts.Record.ID, ts.in.Load(), ts.out.Load(), reason); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// TerminalSessions lists the recorded sessions, of one service when
// kind is set, newest first.
func (s *Service) TerminalSessions(ctx context.Context, kind string, id int64, limit int) ([]db.TerminalSession, error) {
	return s.store.TerminalSessions(ctx, db.TerminalSessionFilter{Kind: kind, ID: id, Limit: limit})
}
