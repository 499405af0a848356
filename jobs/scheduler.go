package jobs

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"dokploy/db"
	"dokploy/jobs/notify"
	"dokploy/jobs/schedule"
)

// schedulePeriod is how often due backup plans are looked for: a run
// starts within this long of its cron time.
const schedulePeriod = 15 * time.Second

// scheduleLoop queues the backups and drills whose time has come and
// reports plans that missed their schedule. Every process may run it:
// AdvanceSchedule lets exactly one of them queue each due run.
func (r *Runner) scheduleLoop(ctx context.Context) {
	period := r.opts.SchedulePeriod
	if period == 0 {
		period = schedulePeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := r.scheduleRound(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Warn("backup scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) scheduleRound(ctx context.Context, now time.Time) error {
	plans, err := r.store.EnabledBackups(ctx)
	if err != nil {
		return err
	}
	for i := range plans {
		p := &plans[i]
		if p.Cron != "" && p.NextRunAt != nil && !p.NextRunAt.After(now) {
			r.fire(ctx, p, false, now)
		}
		if p.DrillCron != "" && p.NextDrillAt != nil && !p.NextDrillAt.After(now) {
			r.fire(ctx, p, true, now)
		}
		r.checkMissed(ctx, p, now)
	}
	return nil
}

// fire queues one due backup (or drill) of a plan, once across processes.
// A run missed while the control plane was down is queued once, not once
// per missed time.
func (r *Runner) fire(ctx context.Context, p *db.Backup, drill bool, now time.Time) {
	expr, due := p.Cron, p.NextRunAt
	if drill {
		expr, due = p.DrillCron, p.NextDrillAt
	}
	if due == nil {
		return
	}
	s, _, err := schedule.Parse(expr, p.Timezone)
	if err != nil {
		r.log.Warn("backup plan has a bad schedule", "plan", p.ID, "err", err)
		return
	}
	next := s.Next(now)
	won, err := r.store.AdvanceSchedule(ctx, p.ID, drill, *due, &next)
	if err != nil || !won {
		return
	}
	if drill {
		run, err := r.store.LatestRestorableRun(ctx, p.ServiceID)
		if err != nil {
			r.log.Info("scheduled drill skipped: no backup to restore yet", "plan", p.ID)
			return
		}
		d, err := r.store.QueueArtifactOperation(ctx, p.ServiceID, db.ActionDrill, run, "schedule")
		if err == nil {
			err = r.Enqueue(ctx, d.ID)
		}
		if err != nil {
			r.log.Warn("queue scheduled drill", "plan", p.ID, "err", err)
		}
		return
	}
	run, err := r.store.QueueBackup(ctx, p, db.BackupSchedule, "schedule")
	if err == nil {
		err = r.Enqueue(ctx, run.DeploymentID)
	}
	if err != nil {
		r.log.Warn("queue scheduled backup", "plan", p.ID, "err", err)
	}
}

// checkMissed records an event the first time a plan goes more than twice
// its interval without a successful backup, and clears the mark once one
// succeeds.
func (r *Runner) checkMissed(ctx context.Context, p *db.Backup, now time.Time) {
	if p.Cron == "" {
		return
	}
	s, _, err := schedule.Parse(p.Cron, p.Timezone)
	if err != nil {
		return
	}
	missed := s.Missed(now, p.UpdatedAt, p.LastSuccessAt)
	switch {
	case missed && p.MissedAt == nil:
		at := now
		if err := r.store.SetBackupMissed(ctx, p.ID, &at); err != nil {
			return
		}
		last := "never"
		if p.LastSuccessAt != nil {
			last = p.LastSuccessAt.UTC().Format(time.DateTime) + " UTC"
		}
		msg := fmt.Sprintf("Backups of %s to %s missed their schedule (%s): last successful backup %s", p.ServiceName, p.DestinationName, p.Cron, last)
		r.log.Warn(msg, "plan", p.ID)
		_ = r.store.AddEvent(ctx, "backup.missed", &p.ServiceID, msg)
		r.notifyMissed(ctx, p, at, last)
	case !missed && p.MissedAt != nil:
		_ = r.store.SetBackupMissed(ctx, p.ID, nil)
	}
}

// notifyMissed queues backup.missed for a plan that just missed its
// schedule; the key is the episode, so it notifies once however many
// processes saw it.
func (r *Runner) notifyMissed(ctx context.Context, p *db.Backup, at time.Time, last string) {
	subject := r.subject(ctx, p.ServiceID)
	var lastAt any
	if p.LastSuccessAt != nil {
		lastAt = p.LastSuccessAt.UTC().Format(time.RFC3339)
	}
	e := notify.Event{Name: notify.EventBackupMissed, Severity: notify.SeverityError,
		Title: fmt.Sprintf("Backups of %s missed their schedule", p.ServiceName),
		Body: fmt.Sprintf("Backups of %s to %s run on the schedule %q (%s), but none succeeded for more than two intervals. Last successful backup: %s.",
			p.ServiceName, p.DestinationName, p.Cron, p.Timezone, last),
		URL:       r.notifier.Link(servicePage(&db.Service{ID: p.ServiceID, Kind: subject.ServiceKind}, "backups")),
		DedupeKey: notify.EventBackupMissed + ":" + strconv.FormatInt(p.ID, 10) + ":" + strconv.FormatInt(at.Unix(), 10),
		Subject:   subject,
		Data: map[string]any{"plan_id": p.ID, "cron": p.Cron, "timezone": p.Timezone, "destination": p.DestinationName,
			"last_success_at": lastAt},
	}
	if _, err := r.notifier.Notify(ctx, e); err != nil {
		r.log.Warn("queue notification", "plan", p.ID, "event", e.Name, "err", err)
	}
}
