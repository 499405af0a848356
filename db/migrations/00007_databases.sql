-- +goose Up
-- A database is a kind of service: its services row holds the environment
-- and the name (the Swarm service, the DNS name apps connect to, and the
-- <name>-data volume). Env, the external port (a service_ports row) and the
-- operations history (deployments) hang off the service like an app's.
CREATE TABLE databases (
    id                    BIGINT PRIMARY KEY REFERENCES services(id) ON DELETE CASCADE,
    engine                TEXT NOT NULL CHECK (engine IN ('postgres', 'mysql', 'mariadb', 'mongo', 'redis')),
    image                 TEXT NOT NULL,
    database_name         TEXT NOT NULL DEFAULT '',
    username              TEXT NOT NULL DEFAULT '',
    password_enc          BYTEA NOT NULL,
    root_password_enc     BYTEA,
    registry_server       TEXT NOT NULL DEFAULT '',
    registry_username     TEXT NOT NULL DEFAULT '',
    registry_password_enc BYTEA,
    memory_limit_mb       INTEGER NOT NULL DEFAULT 0,
    cpu_limit             DOUBLE PRECISION NOT NULL DEFAULT 0,
    args                  TEXT[] NOT NULL DEFAULT '{}',
    redis_persistence     TEXT NOT NULL DEFAULT 'aof' CHECK (redis_persistence IN ('aof', 'rdb', 'none')),
    status                TEXT NOT NULL DEFAULT 'idle',
    current_image         TEXT NOT NULL DEFAULT '',
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What a deployment row does: apps only deploy; databases also start,
-- stop, restart and change their password through the same queue, so one
-- service never runs two operations at once and each has its log.
ALTER TABLE deployments ADD COLUMN action TEXT NOT NULL DEFAULT 'deploy'
    CHECK (action IN ('deploy', 'start', 'stop', 'restart', 'password'));
-- The new password of a queued "password" operation, sealed; cleared when
-- the operation ends, whatever the outcome.
ALTER TABLE deployments ADD COLUMN secret_enc BYTEA;

-- +goose Down
ALTER TABLE deployments DROP COLUMN secret_enc;
ALTER TABLE deployments DROP COLUMN action;
DROP TABLE databases;
