package handlers

import (
	"net/http"
	"strings"
	"time"
)

// maxAnonymousBody caps the body of the unauthenticated forms (sign-in,
// setup) before anything parses it: they hold an email, a password, a name
// and the CSRF token.
const maxAnonymousBody = "64K"

// isStream tells the routes whose responses stay open (SSE deployment logs,
// runtime log streams, terminal WebSockets): they get no write deadline.
func isStream(r *http.Request) bool {
	p := r.URL.Path
	return r.Method == http.MethodGet && (strings.HasSuffix(p, "/stream") || strings.HasSuffix(p, "/runtime-logs") ||
		strings.HasSuffix(p, "/logs") || strings.HasSuffix(p, "/terminal") || strings.HasSuffix(p, "/terminal/ws") ||
		strings.Contains(r.Header.Get("Accept"), "text/event-stream"))
}

// WithWriteDeadline gives every response but streams d to be written, the
// per-route form of http.Server.WriteTimeout (which the server leaves 0 so
// log streams are not cut).
func WithWriteDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}
