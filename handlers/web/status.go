package web

import (
	"dokploy/db"
	"dokploy/jobs"
)

// ServiceStatus is the one word pages and the API show for a service:
// what Swarm reports, except while an operation runs (deploying) or after
// a failed deploy left nothing healthy (error). last is the service's
// recorded outcome (db.AppRunning, db.AppError, …).
func ServiceStatus(last string, live jobs.Live) string {
	switch {
	case last == db.AppDeploying:
		return db.AppDeploying
	case last == db.AppError && live.State != "healthy" && live.State != "running":
		return db.AppError
	case live.State == "not deployed" && last == db.AppIdle:
		return "queued"
	}
	return live.State
}
