package jobs

import (
	"context"
	"fmt"
	"strconv"

	"dokploy/db"
	"dokploy/jobs/notify"
)

// Notifier is the runner's notifier (the API's test button uses it).
func (r *Runner) Notifier() *notify.Notifier { return r.notifier }

// notifyOutcome queues the notification of a finished deployment or
// backup: deploy.succeeded/failed for deploys (apps, databases, compose
// stacks, rollbacks included), backup.succeeded/failed for database and
// volume backups. Cancelled ones and other operations notify nothing. It
// only writes outbox rows, so it never holds the worker up; a failure is
// logged. The dedupe key is the deployment, so an outcome recorded twice
// (after an outage) notifies once.
func (r *Runner) notifyOutcome(ctx context.Context, d *db.Deployment, status, reason string) {
	if status != db.DeployDone && status != db.DeployError {
		return
	}
	if fresh, err := r.store.Deployment(ctx, d.ID); err == nil {
		d = fresh // with the commit or image recorded while it ran
	}
	link := r.notifier.Link("/deployments/" + strconv.FormatInt(d.ID, 10))
	ok := status == db.DeployDone
	var e notify.Event
	switch d.Action {
	case db.ActionDeploy, "":
		what := "Deployment"
		if d.RollbackOf != nil {
			what = "Rollback"
		}
		if ok {
			e = notify.Event{Name: notify.EventDeploySucceeded, Severity: notify.SeveritySuccess,
				Title: fmt.Sprintf("%s of %s succeeded", what, d.AppName),
				Body:  fmt.Sprintf("%s #%d of %s finished.%s", what, d.ID, d.AppName, sourceWords(d))}
		} else {
			e = notify.Event{Name: notify.EventDeployFailed, Severity: notify.SeverityError,
				Title: fmt.Sprintf("%s of %s failed", what, d.AppName),
				Body:  fmt.Sprintf("%s #%d of %s failed: %s%s The previous version, if any, keeps running.", what, d.ID, d.AppName, reason, sentenceEnd(reason))}
		}
	case db.ActionBackup:
		if ok {
			e = notify.Event{Name: notify.EventBackupSucceeded, Severity: notify.SeveritySuccess,
				Title: fmt.Sprintf("Backup of %s succeeded", d.AppName),
				Body:  fmt.Sprintf("Backup #%d of %s finished.%s", d.ID, d.AppName, r.backupWords(ctx, d))}
		} else {
			e = notify.Event{Name: notify.EventBackupFailed, Severity: notify.SeverityError,
				Title: fmt.Sprintf("Backup of %s failed", d.AppName),
				Body:  fmt.Sprintf("Backup #%d of %s failed: %s%s", d.ID, d.AppName, reason, sentenceEnd(reason))}
		}
	default:
		return
	}
	e.URL = link
	e.DedupeKey = e.Name + ":deployment:" + strconv.FormatInt(d.ID, 10)
	e.Subject = r.subject(ctx, d.ServiceID)
	e.Subject.DeploymentID = &d.ID
	e.Data = map[string]any{"action": d.Action, "trigger": d.Trigger, "commit": d.CommitSHA, "image": d.Image}
	if d.RollbackOf != nil {
		e.Data["rollback_of"] = *d.RollbackOf
	}
	if !ok {
		e.Data["error"] = reason
	}
	if _, err := r.notifier.Notify(ctx, e); err != nil {
		r.log.Warn("queue notification", "deployment", d.ID, "event", e.Name, "err", err)
	}
}

// subject names a service and its project for a notification; a service
// deleted meanwhile leaves it empty, which still notifies (unfiltered).
func (r *Runner) subject(ctx context.Context, serviceID int64) db.NotificationSubject {
	s, err := r.store.ServiceSubject(ctx, serviceID)
	if err != nil {
		r.log.Warn("notification subject", "service", serviceID, "err", err)
	}
	return s
}

func sentenceEnd(s string) string {
	if s == "" || s[len(s)-1] == '.' {
		return ""
	}
	return "."
}

// sourceWords says what was deployed.
func sourceWords(d *db.Deployment) string {
	switch {
	case d.CommitSHA != "":
		sha := d.CommitSHA
		if len(sha) > 12 {
			sha = sha[:12]
		}
		return " Commit " + sha + "."
	case d.Image != "":
		return " Image " + d.Image + "."
	}
	return ""
}

// backupWords gives the stored artifact's size, when known.
func (r *Runner) backupWords(ctx context.Context, d *db.Deployment) string {
	run, err := r.store.BackupRunOf(ctx, d.ID)
	if err != nil || run.SizeBytes == 0 {
		return ""
	}
	what := ""
	if run.Volume != nil {
		what = " of volume " + *run.Volume
	}
	return fmt.Sprintf(" Stored %s%s.", humanBytes(run.SizeBytes), what)
}
