package db

import (
	"context"
	"time"
)

// TerminalSession records one web terminal: who opened it, into which
// container, from where, when, and the bytes each way. What was typed or
// shown is never stored.
type TerminalSession struct {
	ID          int64      `db:"id" json:"id"`
	UserID      *int64     `db:"user_id" json:"user_id"`
	UserEmail   string     `db:"user_email" json:"user_email"`
	TokenID     *int64     `db:"token_id" json:"token_id"`
	TokenName   string     `db:"token_name" json:"token_name,omitempty"`
	ServiceKind string     `db:"service_kind" json:"service_kind"`
	ServiceID   int64      `db:"service_id" json:"service_id"`
	ServiceName string     `db:"service_name" json:"service_name"`
	ContainerID string     `db:"container_id" json:"container_id"`
	Replica     int        `db:"replica" json:"replica"`
	Node        string     `db:"node" json:"node"`
	Shell       string     `db:"shell" json:"shell"`
	RemoteAddr  string     `db:"remote_addr" json:"remote_addr"`
	StartedAt   time.Time  `db:"started_at" json:"started_at"`
	EndedAt     *time.Time `db:"ended_at" json:"ended_at"`
	BytesIn     int64      `db:"bytes_in" json:"bytes_in"`   // typed by the user
	BytesOut    int64      `db:"bytes_out" json:"bytes_out"` // printed by the shell
	EndReason   string     `db:"end_reason" json:"end_reason,omitempty"`
}

// Duration is how long the session lasted (so far, while open).
func (t TerminalSession) Duration() time.Duration {
	end := time.Now()
	if t.EndedAt != nil {
		end = *t.EndedAt
	}
	return end.Sub(t.StartedAt).Round(time.Second)
}

// CreateTerminalSession records a session as it starts; ID and StartedAt
// are filled in.
func (s *Store) CreateTerminalSession(ctx context.Context, t *TerminalSession) error {
	err := s.db.GetContext(ctx, t, `
		INSERT INTO terminal_sessions (user_id, user_email, token_id, token_name, service_kind, service_id,
			service_name, container_id, replica, node, shell, remote_addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
		t.UserID, t.UserEmail, t.TokenID, truncate(t.TokenName, 200), t.ServiceKind, t.ServiceID,
		t.ServiceName, t.ContainerID, t.Replica, t.Node, t.Shell, truncate(t.RemoteAddr, 100))
	return opError("create terminal session", err)
}

// EndTerminalSession records the end of a session and its byte counts.
func (s *Store) EndTerminalSession(ctx context.Context, id, bytesIn, bytesOut int64, reason string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE terminal_sessions SET ended_at = now(), bytes_in = $2, bytes_out = $3, end_reason = $4
		WHERE id = $1 AND ended_at IS NULL`, id, bytesIn, bytesOut, truncate(reason, 300))
	return opError("end terminal session", err)
}

// TerminalSessionFilter narrows TerminalSessions: a kind and id of
// service (empty: all services), and at most Limit rows.
type TerminalSessionFilter struct {
	Kind  string
	ID    int64
	Limit int
}

// TerminalSessions lists sessions, newest first.
func (s *Store) TerminalSessions(ctx context.Context, f TerminalSessionFilter) ([]TerminalSession, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	out := []TerminalSession{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT * FROM terminal_sessions
		WHERE ($1 = '' OR service_kind = $1 AND service_id = $2)
		ORDER BY started_at DESC, id DESC LIMIT $3`, f.Kind, f.ID, f.Limit)
	return out, opError("terminal sessions", err)
}
