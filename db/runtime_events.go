package db

import (
	"context"
	"time"
)

// NotificationQueuedSince reports whether a notification with dedupeKey
// was queued (for any channel, whatever became of it) after since. Checks
// that run long after the global cooldown (a certificate's expiry, looked
// at every hour) use it to tell each stage once.
func (s *Store) NotificationQueuedSince(ctx context.Context, dedupeKey string, since time.Time) (bool, error) {
	var found bool
	err := s.db.GetContext(ctx, &found, `
		SELECT EXISTS (SELECT 1 FROM notification_outbox WHERE dedupe_key = $1 AND created_at > $2)`, dedupeKey, since)
	return found, opError("notification queued since", err)
}
