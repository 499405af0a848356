package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// WebhookPush is one accepted push delivery waiting to be queued by
// QueueWebhookPushes.
type WebhookPush struct {
	// Delivery is recorded as deployed with the reason the caller set;
	// QueueWebhookPushes fills its ID, CreatedAt and DeploymentID.
	Delivery *Delivery
	// DeliveryID is the provider's id of the delivery, "" when it sends none.
	DeliveryID string
	// Duplicate is set when DeliveryID was already received: nothing of
	// this push is recorded.
	Duplicate bool
}

// QueueWebhookPushes records accepted pushes for one service in one
// transaction: it claims their delivery ids, queues one deployment showing
// the newest fresh push's commit (older queued deploys collapse into it as
// with CreateDeployment), and records every fresh delivery pointing at it.
// It returns the deployment id, 0 when every push was a duplicate. pushes
// are in arrival order, the newest last.
func (s *Store) QueueWebhookPushes(ctx context.Context, serviceID int64, pushes []*WebhookPush) (int64, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// The row lock first: the inserts below take a share lock on the
	// service row through their foreign keys.
	if err := s.lockServiceQueue(ctx, tx, serviceID); err != nil {
		return 0, err
	}
	if err := s.claimPushIDs(ctx, tx.Tx, serviceID, pushes); err != nil {
		return 0, err
	}
	var fresh []*WebhookPush
	for _, p := range pushes {
		if !p.Duplicate {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return 0, tx.Commit()
	}
	newest := fresh[len(fresh)-1].Delivery
	dep := &Deployment{
		ServiceID: serviceID, Trigger: "webhook", TriggeredBy: newest.Provider, Action: ActionDeploy,
		// Shown while queued; the runner overwrites them with what it cloned.
		CommitSHA: ClipText(newest.CommitSHA, 80), CommitMessage: ClipText(newest.CommitMessage, 500),
	}
	n := len(fresh)
	provider, event, ref, commit, message, reason := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	for i, p := range fresh {
		d := p.Delivery
		provider[i], event[i], ref[i] = ClipText(d.Provider, 40), ClipText(d.Event, 100), ClipText(d.Ref, 300)
		commit[i], message[i], reason[i] = ClipText(d.CommitSHA, 80), ClipText(d.CommitMessage, 500), ClipText(d.Reason, 500)
	}
	var rows []struct {
		DeploymentID int64     `db:"deployment_id"`
		Ord          int       `db:"ord"`
		ID           int64     `db:"id"`
		CreatedAt    time.Time `db:"created_at"`
	}
	st, err := s.prepared(ctx, tx.Tx, queuePushesSQL)
	if err == nil {
		err = st.SelectContext(ctx, &rows,
			dep.ServiceID, dep.Trigger, dep.TriggeredBy, dep.RollbackOf, dep.Image, dep.CommitSHA, dep.CommitMessage, dep.Action, dep.SecretEnc, dep.BackupRunID,
			pqStringArray(supersedes[dep.Action]),
			pq.StringArray(provider), pq.StringArray(event), pq.StringArray(ref),
			pq.StringArray(commit), pq.StringArray(message), pq.StringArray(reason), DeliveryDeployed)
	}
	if err != nil {
		return 0, fmt.Errorf("db: queue webhook deployment of service %d: %w", serviceID, err)
	}
	if len(rows) != n {
		return 0, fmt.Errorf("db: record webhook deliveries of service %d: %d of %d rows", serviceID, len(rows), n)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	depID := rows[0].DeploymentID
	for _, r := range rows {
		d := fresh[r.Ord-1].Delivery
		d.ID, d.CreatedAt, d.DeploymentID, d.Outcome = r.ID, r.CreatedAt, &depID, DeliveryDeployed
	}
	return depID, nil
}

// queuePushesSQL queues a batch's deployment (queuedCTEs, $1-$11) and
// records its deliveries ($12-$18), all pointing at it, in one statement:
// one round trip less per batch. Delivery ids are drawn first so each row
// maps back to its push by ordinality.
const queuePushesSQL = queuedCTEs + `,
	src AS (
		SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id')) AS id, u.*
		FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
			WITH ORDINALITY AS u(provider, event, ref, commit_sha, commit_message, reason, ord)),
	recorded AS (
		INSERT INTO webhook_deliveries (id, service_id, provider, event, ref, commit_sha, commit_message, outcome, reason, deployment_id)
		SELECT src.id, $1, provider, event, ref, commit_sha, commit_message, $18, reason, ins.id FROM src, ins ORDER BY ord
		RETURNING id, created_at)
	SELECT ins.id AS deployment_id, src.ord, recorded.id, recorded.created_at
	FROM recorded JOIN src USING (id), ins`

// SetDeliveryReasons replaces the reasons of recorded deliveries, by id.
func (s *Store) SetDeliveryReasons(ctx context.Context, ids []int64, reasons []string) error {
	clipped := make([]string, len(reasons))
	for i, r := range reasons {
		clipped[i] = ClipText(r, 500)
	}
	_, err := s.db.ExecContext(ctx, `
		UPDATE webhook_deliveries d SET reason = u.reason
		FROM unnest($1::bigint[], $2::text[]) AS u(id, reason) WHERE d.id = u.id`,
		pq.Int64Array(ids), pq.StringArray(clipped))
	return opError("set delivery reasons", err)
}

// RecordDeliveryOnce claims the provider's delivery id (see
// ClaimDeliveryID) and records d in one transaction. It reports false, and
// records nothing, when the id was already received. An empty id records d.
func (s *Store) RecordDeliveryOnce(ctx context.Context, d *Delivery, deliveryID string) (bool, error) {
	if deliveryID == "" {
		return true, s.RecordDelivery(ctx, d)
	}
	fresh := false
	err := s.InTx(ctx, func(tx *Store) error {
		p := &WebhookPush{Delivery: d, DeliveryID: deliveryID}
		if err := tx.claimPushIDs(ctx, nil, d.ServiceID, []*WebhookPush{p}); err != nil {
			return err
		}
		if fresh = !p.Duplicate; !fresh {
			return nil
		}
		return tx.RecordDelivery(ctx, d)
	})
	return fresh, err
}

// claimPushIDs claims the delivery ids of pushes in one statement and
// marks the pushes whose id was already received (before, or earlier in
// pushes) as Duplicate. An id last seen more than 7 days ago counts as
// new again, as it would have been pruned; other such ids of the service
// are pruned on the way.
//
// tx is the transaction to run in; nil means the Store's own (InTx) or none.
func (s *Store) claimPushIDs(ctx context.Context, tx *sqlx.Tx, serviceID int64, pushes []*WebhookPush) error {
	type key struct{ provider, id string }
	seen := map[key]*WebhookPush{}
	var providers, ids []string
	for _, p := range pushes {
		if p.DeliveryID == "" {
			continue
		}
		k := key{ClipText(p.Delivery.Provider, 40), ClipText(p.DeliveryID, 200)}
		if seen[k] != nil {
			p.Duplicate = true
			continue
		}
		seen[k] = p
		p.Duplicate = true // until the statement says it is new
		providers, ids = append(providers, k.provider), append(ids, k.id)
	}
	if len(ids) == 0 {
		return nil
	}
	var claimed []struct {
		Provider string `db:"provider"`
		ID       string `db:"delivery_id"`
	}
	st, err := s.prepared(ctx, tx, claimPushIDsSQL)
	if err == nil {
		err = st.SelectContext(ctx, &claimed, serviceID, pq.StringArray(providers), pq.StringArray(ids))
	}
	if err != nil {
		return fmt.Errorf("db: claim delivery ids of service %d: %w", serviceID, err)
	}
	for _, c := range claimed {
		if p := seen[key{c.Provider, c.ID}]; p != nil {
			p.Duplicate = false
		}
	}
	return nil
}

// claimPushIDsSQL is claimPushIDs' statement, prepared: a push with a
// delivery id runs it.
const claimPushIDsSQL = `
		WITH batch AS (SELECT * FROM unnest($2::text[], $3::text[]) AS u(provider, delivery_id)),
		pruned AS (
			DELETE FROM webhook_delivery_ids w
			WHERE w.service_id = $1 AND w.created_at < now() - interval '7 days'
				AND NOT EXISTS (SELECT 1 FROM batch b WHERE b.provider = w.provider AND b.delivery_id = w.delivery_id))
		INSERT INTO webhook_delivery_ids (service_id, provider, delivery_id)
		SELECT $1, provider, delivery_id FROM batch
		ON CONFLICT (service_id, provider, delivery_id) DO UPDATE SET created_at = now()
			WHERE webhook_delivery_ids.created_at < now() - interval '7 days'
		RETURNING provider, delivery_id`
