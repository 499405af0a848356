-- +goose Up
-- An S3-compatible place to keep backups. The secret key is sealed.
CREATE TABLE destinations (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    endpoint       TEXT NOT NULL,
    region         TEXT NOT NULL DEFAULT '',
    bucket         TEXT NOT NULL,
    prefix         TEXT NOT NULL DEFAULT '',
    access_key     TEXT NOT NULL,
    secret_key_enc BYTEA NOT NULL,
    path_style     BOOLEAN NOT NULL DEFAULT true,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A backup plan of one service: where, when (5-field cron in a time zone;
-- '' means on demand only), under which prefix and how many are kept. A
-- plan may also schedule restore drills of its latest backup.
CREATE TABLE backups (
    id             BIGSERIAL PRIMARY KEY,
    service_id     BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE RESTRICT,
    cron           TEXT NOT NULL DEFAULT '',
    timezone       TEXT NOT NULL DEFAULT 'UTC',
    enabled        BOOLEAN NOT NULL DEFAULT true,
    prefix         TEXT NOT NULL DEFAULT '',
    keep_last      INTEGER NOT NULL DEFAULT 7 CHECK (keep_last >= 1),
    keep_daily     INTEGER NOT NULL DEFAULT 0 CHECK (keep_daily >= 0),
    keep_weekly    INTEGER NOT NULL DEFAULT 0 CHECK (keep_weekly >= 0),
    keep_monthly   INTEGER NOT NULL DEFAULT 0 CHECK (keep_monthly >= 0),
    drill_cron     TEXT NOT NULL DEFAULT '',
    next_run_at    TIMESTAMPTZ,
    next_drill_at  TIMESTAMPTZ,
    -- When the scheduler last reported this plan as missed, so it says so
    -- once per episode rather than every round.
    missed_at      TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX backups_service ON backups (service_id);
CREATE INDEX backups_due ON backups (next_run_at) WHERE enabled;

-- One backup artifact: what was dumped, where it went and what it is. Its
-- status, times, error and log are those of the operation (deployment)
-- that produced it, so a process that dies mid-run leaves it failed
-- through the same recovery as a deploy.
CREATE TABLE backup_runs (
    id             BIGSERIAL PRIMARY KEY,
    backup_id      BIGINT REFERENCES backups(id) ON DELETE SET NULL,
    service_id     BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    destination_id BIGINT REFERENCES destinations(id) ON DELETE SET NULL,
    deployment_id  BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    reason         TEXT NOT NULL DEFAULT 'manual' CHECK (reason IN ('manual', 'schedule', 'safety', 'import')),
    object_key     TEXT NOT NULL DEFAULT '',
    size_bytes     BIGINT NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',
    engine         TEXT NOT NULL DEFAULT '',
    engine_version TEXT NOT NULL DEFAULT '',
    format         TEXT NOT NULL DEFAULT '',
    -- The run's own times (a restore's safety backup is only part of its
    -- operation); the operation's when unset.
    began_at       TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    -- Set when retention or the user removed the object.
    deleted_at     TIMESTAMPTZ,
    -- The last restore drill of this artifact.
    drilled_at     TIMESTAMPTZ,
    drill_ok       BOOLEAN,
    drill_summary  TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX backup_runs_service ON backup_runs (service_id, id DESC);
CREATE INDEX backup_runs_backup ON backup_runs (backup_id, id DESC);
CREATE INDEX backup_runs_deployment ON backup_runs (deployment_id);

-- Restores and drills read an artifact: the operation says which.
ALTER TABLE deployments ADD COLUMN backup_run_id BIGINT REFERENCES backup_runs(id) ON DELETE SET NULL;
ALTER TABLE deployments DROP CONSTRAINT deployments_action_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_action_check
    CHECK (action IN ('deploy', 'start', 'stop', 'restart', 'password', 'backup', 'restore', 'drill'));

-- Things a user should hear about (a missed backup schedule, …), kept for
-- the notification channels to deliver.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    service_id BIGINT REFERENCES services(id) ON DELETE CASCADE,
    message    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_created ON events (created_at DESC);

-- +goose Down
DROP TABLE events;
ALTER TABLE deployments DROP CONSTRAINT deployments_action_check;
DELETE FROM deployments WHERE action IN ('backup', 'restore', 'drill');
ALTER TABLE deployments ADD CONSTRAINT deployments_action_check
    CHECK (action IN ('deploy', 'start', 'stop', 'restart', 'password'));
ALTER TABLE deployments DROP COLUMN backup_run_id;
DROP TABLE backup_runs;
DROP TABLE backups;
DROP TABLE destinations;
