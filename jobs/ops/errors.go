package ops

import (
	"errors"
	"fmt"
	"sort"
)

// FieldErrors lists one message per invalid input field. Nothing was
// written when an operation returns it.
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "invalid input"
	}
	return keys[0] + ": " + e[keys[0]]
}

// First returns the first field (in name order) and its message.
func (e FieldErrors) First() (field, msg string) {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "", "invalid input"
	}
	return keys[0], e[keys[0]]
}

// fieldError is a FieldErrors with one entry.
func fieldError(field, msg string) FieldErrors { return FieldErrors{field: msg} }

// ConflictError is a write refused because it clashes with existing data
// (a taken name, a deployment that already finished). Field may be empty.
type ConflictError struct {
	Field string
	Msg   string
}

func (e *ConflictError) Error() string { return e.Msg }

func conflict(field, format string, args ...any) error {
	return &ConflictError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// NotRoutedError reports a change that was saved but that Traefik's
// configuration could not fully take; the next sync retries it.
type NotRoutedError struct{ Err error }

func (e *NotRoutedError) Error() string {
	return "Saved, but Traefik's configuration could not be fully updated: " + e.Err.Error()
}

func (e *NotRoutedError) Unwrap() error { return e.Err }

// IsNotRouted reports whether err is (or wraps) a NotRoutedError.
func IsNotRouted(err error) bool {
	var nr *NotRoutedError
	return errors.As(err, &nr)
}

// EngineError is a Docker Engine refusal of a runtime action; nothing in
// the database changed.
type EngineError struct {
	Msg string
	Err error
}

func (e *EngineError) Error() string { return e.Msg }

func (e *EngineError) Unwrap() error { return e.Err }

// errRoutingOff refuses routing settings where this process has no
// routing service (tests, a worker).
var errRoutingOff = &EngineError{Msg: "Routing is not configured."}

// ForbiddenError is an action the caller's role does not allow (an admin
// changing an owner, say); handlers answer 403 with Msg.
type ForbiddenError struct{ Msg string }

func (e *ForbiddenError) Error() string { return e.Msg }

func forbidden(format string, args ...any) error {
	return &ForbiddenError{Msg: fmt.Sprintf(format, args...)}
}
