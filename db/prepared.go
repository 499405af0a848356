package db

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache holds the statements of hot paths prepared on the pool, by
// query text. lib/pq runs a query with arguments as two round trips
// (parse and describe, then bind and execute); a prepared statement is
// one. Under load each round trip is two wake-ups of two processes, so a
// webhook push's half a dozen statements paid for this twice over.
// database/sql prepares a statement again on each connection it lands
// on, and keeps it there.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt
}

// prepared returns query prepared on the pool, bound to tx when tx is
// not nil, or else to the Store's InTx transaction if any. Use it only
// for statements on a hot path with a fixed text, and name their result
// columns (no *): a prepared statement fails with "cached plan must not
// change result type" once a migration changes what * expands to.
func (s *Store) prepared(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	st, err := s.stmts.get(ctx, s.conn, query)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		tx = s.tx
	}
	if tx != nil {
		return tx.StmtxContext(ctx, st), nil
	}
	return st, nil
}

func (c *stmtCache) get(ctx context.Context, pool *sqlx.DB, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[query]; st != nil {
		return st, nil
	}
	st, err := pool.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[string]*sqlx.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}
