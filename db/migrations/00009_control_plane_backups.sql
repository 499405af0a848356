-- +goose Up
-- How the control plane backs itself up: one row. The passphrase that
-- encrypts the secret key inside the archive is sealed; without one the
-- archive does not carry the key.
CREATE TABLE control_plane_backup_settings (
    id             INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    destination_id BIGINT REFERENCES destinations(id) ON DELETE SET NULL,
    cron           TEXT NOT NULL DEFAULT '',
    timezone       TEXT NOT NULL DEFAULT 'UTC',
    enabled        BOOLEAN NOT NULL DEFAULT false,
    keep_last      INTEGER NOT NULL DEFAULT 7 CHECK (keep_last >= 1),
    passphrase_enc BYTEA,
    next_run_at    TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One control-plane backup. A running one refreshes heartbeat_at; one
-- whose heartbeat stops (its process died) is marked failed.
CREATE TABLE control_plane_backup_runs (
    id                  BIGSERIAL PRIMARY KEY,
    status              TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'error')),
    reason              TEXT NOT NULL DEFAULT 'manual' CHECK (reason IN ('manual', 'schedule')),
    triggered_by        TEXT NOT NULL DEFAULT '',
    destination_id      BIGINT REFERENCES destinations(id) ON DELETE SET NULL,
    object_key          TEXT NOT NULL DEFAULT '',
    size_bytes          BIGINT NOT NULL DEFAULT 0,
    sha256              TEXT NOT NULL DEFAULT '',
    secret_key_included BOOLEAN NOT NULL DEFAULT false,
    tables              INTEGER NOT NULL DEFAULT 0,
    rows                BIGINT NOT NULL DEFAULT 0,
    files               INTEGER NOT NULL DEFAULT 0,
    error               TEXT NOT NULL DEFAULT '',
    worker_id           TEXT NOT NULL DEFAULT '',
    heartbeat_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    -- Set when retention removed the object.
    deleted_at          TIMESTAMPTZ
);
CREATE INDEX control_plane_backup_runs_recent ON control_plane_backup_runs (id DESC);
-- One control-plane backup at a time, across processes.
CREATE UNIQUE INDEX control_plane_backup_runs_one_active ON control_plane_backup_runs ((true))
    WHERE status IN ('queued', 'running');

-- +goose Down
DROP TABLE control_plane_backup_runs;
DROP TABLE control_plane_backup_settings;
