package db

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// Actor types of audit events.
const (
	ActorUser    = "user"    // a browser session
	ActorToken   = "token"   // an API token (its user is the actor too)
	ActorWebhook = "webhook" // a git host, registry or CI calling a deploy webhook
	ActorCLI     = "cli"     // the dokploy command at the server's console
	ActorSystem  = "system"
)

// SecretChanged is what the audit log says of a secret's value: that it
// changed, never what it was or became.
const SecretChanged = "changed"

// AuditChange is a plain field's old and new value.
type AuditChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// AuditChanges maps a field name to its AuditChange, or to a word for a
// secret ("changed") or an env variable ("added", "changed", "removed").
type AuditChanges map[string]any

// Value stores the changes as jsonb (NULL when there are none).
func (c AuditChanges) Value() (driver.Value, error) {
	if len(c) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(map[string]any(c))
	return string(b), err
}

// Scan reads the jsonb column.
func (c *AuditChanges) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c = nil
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("audit changes: cannot scan %T", src)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = m
	return nil
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID             int64        `db:"id" json:"id"`
	At             time.Time    `db:"at" json:"at"`
	ActorType      string       `db:"actor_type" json:"actor_type"`
	ActorUserID    *int64       `db:"actor_user_id" json:"actor_user_id"`
	ActorEmail     string       `db:"actor_email" json:"actor_email"`
	ActorTokenID   *int64       `db:"actor_token_id" json:"actor_token_id"`
	ActorTokenName string       `db:"actor_token_name" json:"actor_token_name"`
	IP             string       `db:"ip" json:"ip"`
	Action         string       `db:"action" json:"action"`
	Resource       string       `db:"resource" json:"resource"`
	ResourceID     *int64       `db:"resource_id" json:"resource_id"`
	ProjectID      *int64       `db:"project_id" json:"project_id"`
	Route          string       `db:"route" json:"route"`
	Status         int          `db:"status" json:"status"`
	Detail         string       `db:"detail" json:"detail"`
	Changes        AuditChanges `db:"changes" json:"changes"`
	RequestID      string       `db:"request_id" json:"request_id"`

	// Joined for display.
	ProjectName *string `db:"project_name" json:"-"`
}

// Actor names who acted, for pages: the email, the token's name, or the
// webhook's provider.
func (e *AuditEvent) Actor() string {
	switch e.ActorType {
	case ActorWebhook:
		return "webhook"
	case ActorCLI:
		if e.ActorEmail != "" {
			return "console (" + e.ActorEmail + ")"
		}
		return "console"
	case ActorSystem:
		return "system"
	}
	if e.ActorEmail == "" {
		return "unknown"
	}
	return e.ActorEmail
}

// RecordAuditEvent appends e to the audit log. It runs outside any
// transaction of the caller's, so an event of a refused change is kept.
func (s *Store) RecordAuditEvent(ctx context.Context, e *AuditEvent) error {
	e.ActorEmail = ClipText(e.ActorEmail, 254)
	e.Detail = ClipText(e.Detail, 500)
	err := s.conn.QueryRowxContext(ctx, `
		INSERT INTO audit_events (actor_type, actor_user_id, actor_email, actor_token_id, actor_token_name, ip,
			action, resource, resource_id, project_id, route, status, detail, changes, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		RETURNING id, at`,
		e.ActorType, e.ActorUserID, e.ActorEmail, e.ActorTokenID, e.ActorTokenName, e.IP,
		e.Action, e.Resource, e.ResourceID, e.ProjectID, e.Route, e.Status, e.Detail, e.Changes, e.RequestID).Scan(&e.ID, &e.At)
	return opError("record audit event", err)
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	ActorUserID int64
	ActorEmail  string // exact, case-insensitive
	ProjectID   int64
	Resource    string
	// Action matches the action and the ones under it: "app" matches
	// "app.deploy", "sign_in" matches "sign_in.failed".
	Action       string
	Since, Until time.Time
	// BeforeID pages back (id < BeforeID); AfterID asks for what is newer
	// than what a page shows (id > AfterID).
	BeforeID, AfterID int64
	Limit             int

	// Visible limits a member to the events of their projects (nil: all)
	// and, outside projects, their own (ViewerID's).
	Visible  []int64
	ViewerID int64
}

// AuditEvents lists the events f selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Visible != nil {
		where = append(where, fmt.Sprintf("(ev.project_id = ANY(%s) OR ev.project_id IS NULL AND ev.actor_user_id = %s)",
			arg(pqInt64Array(f.Visible)), arg(f.ViewerID)))
	}
	if f.ActorUserID > 0 {
		where = append(where, "ev.actor_user_id = "+arg(f.ActorUserID))
	}
	if f.ActorEmail != "" {
		where = append(where, "lower(ev.actor_email) = lower("+arg(f.ActorEmail)+")")
	}
	if f.ProjectID > 0 {
		where = append(where, "ev.project_id = "+arg(f.ProjectID))
	}
	if f.Resource != "" {
		where = append(where, "ev.resource = "+arg(f.Resource))
	}
	if f.Action != "" {
		a := strings.TrimSuffix(f.Action, ".")
		where = append(where, fmt.Sprintf("(ev.action = %s OR ev.action LIKE %s)", arg(a), arg(likeEscape(a)+".%")))
	}
	if !f.Since.IsZero() {
		where = append(where, "ev.at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "ev.at < "+arg(f.Until))
	}
	if f.BeforeID > 0 {
		where = append(where, "ev.id < "+arg(f.BeforeID))
	}
	if f.AfterID > 0 {
		where = append(where, "ev.id > "+arg(f.AfterID))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	q := `SELECT ev.*, p.name AS project_name FROM audit_events ev LEFT JOIN projects p ON p.id = ev.project_id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ev.id DESC LIMIT " + arg(f.Limit)
	out := []AuditEvent{}
	err := s.db.SelectContext(ctx, &out, q, args...)
	return out, opError("audit events", err)
}

// likeEscape quotes LIKE's wildcards.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// pruneAudit removes events older than days (none when days < 1).
func (s *Store) pruneAudit(ctx context.Context, days int) (int64, error) {
	if days < 1 {
		return 0, nil
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_events WHERE at < now() - make_interval(days => $1)`, days)
	if err != nil {
		return 0, fmt.Errorf("prune audit events: %w", err)
	}
	return res.RowsAffected()
}

// AuditNote is what the code handling a request adds to the request's
// audit event: the changes it made, or another action than the route's
// (a secret reveal, recorded even on a GET). The HTTP middleware puts one
// in the request's context and records it once the handler returned.
type AuditNote struct {
	mu      sync.Mutex
	action  string
	detail  string
	record  bool
	changes AuditChanges
	// resource, when set, replaces what the route names (a webhook's app).
	resource   Resource
	resourceID int64
}

type auditNoteKey struct{}

// WithAuditNote returns ctx carrying a new, empty note.
func WithAuditNote(ctx context.Context) (context.Context, *AuditNote) {
	n := &AuditNote{}
	return context.WithValue(ctx, auditNoteKey{}, n), n
}

// AuditNoteOf is the note of ctx's request, or nil outside one (its
// methods then do nothing).
func AuditNoteOf(ctx context.Context) *AuditNote {
	n, _ := ctx.Value(auditNoteKey{}).(*AuditNote)
	return n
}

// NoteChanges adds changes to the audit event of ctx's request.
func NoteChanges(ctx context.Context, changes AuditChanges) { AuditNoteOf(ctx).AddChanges(changes) }

// AddChanges merges changes into the note.
func (n *AuditNote) AddChanges(changes AuditChanges) {
	if n == nil || len(changes) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.changes == nil {
		n.changes = AuditChanges{}
	}
	for k, v := range changes {
		n.changes[k] = v
	}
}

// Record makes the request's event the action, with a detail, and has it
// recorded whatever the method.
func (n *AuditNote) Record(action, detail string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.action, n.detail, n.record = action, detail, true
}

// About names what the event is about when the route does not.
func (n *AuditNote) About(res Resource, id int64) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.resource, n.resourceID = res, id
}

// AuditNoted is what a note holds, for the middleware.
type AuditNoted struct {
	Action, Detail string
	Record         bool
	Changes        AuditChanges
	Resource       Resource
	ResourceID     int64
}

// Read returns what was noted.
func (n *AuditNote) Read() AuditNoted {
	if n == nil {
		return AuditNoted{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return AuditNoted{Action: n.action, Detail: n.detail, Record: n.record, Changes: n.changes,
		Resource: n.resource, ResourceID: n.resourceID}
}

// VariableChanges compares two lists of variables by key and says, per
// key (with prefix), "added", "changed" or "removed": never a value.
func VariableChanges(prefix string, before, after []Variable) AuditChanges {
	old := map[string]string{}
	for _, v := range before {
		old[v.Key] = v.Value
	}
	out := AuditChanges{}
	seen := map[string]bool{}
	for _, v := range after {
		seen[v.Key] = true
		switch prev, ok := old[v.Key]; {
		case !ok:
			out[prefix+v.Key] = "added"
		case prev != v.Value:
			out[prefix+v.Key] = SecretChanged
		}
	}
	for _, v := range before {
		if !seen[v.Key] {
			out[prefix+v.Key] = "removed"
		}
	}
	return out
}

// FieldChanges compares two values of one struct type field by field,
// named by their db tags: plain fields give {old, new}, byte slices
// (sealed secrets) give "changed". Fields named in skip are left out.
func FieldChanges(before, after any, skip ...string) AuditChanges {
	b, a := reflect.Indirect(reflect.ValueOf(before)), reflect.Indirect(reflect.ValueOf(after))
	out := AuditChanges{}
	if b.Kind() != reflect.Struct || b.Type() != a.Type() {
		return out
	}
	t := b.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("db"), ",")
		if !f.IsExported() || name == "" || name == "-" || slices.Contains(skip, name) {
			continue
		}
		ov, nv := b.Field(i).Interface(), a.Field(i).Interface()
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8 {
			if !reflect.DeepEqual(ov, nv) {
				out[strings.TrimSuffix(name, "_enc")] = SecretChanged
			}
			continue
		}
		if !reflect.DeepEqual(ov, nv) {
			out[name] = AuditChange{Old: ov, New: nv}
		}
	}
	return out
}
