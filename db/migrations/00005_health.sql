-- +goose Up
-- HTTP health check of an app's containers. An empty path keeps the image's
-- own HEALTHCHECK (or none). Durations are whole seconds.
ALTER TABLE applications
    ADD COLUMN health_path         TEXT    NOT NULL DEFAULT '',
    ADD COLUMN health_port         INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN health_status       INTEGER NOT NULL DEFAULT 200,
    ADD COLUMN health_interval     INTEGER NOT NULL DEFAULT 5,
    ADD COLUMN health_timeout      INTEGER NOT NULL DEFAULT 3,
    ADD COLUMN health_retries      INTEGER NOT NULL DEFAULT 3,
    ADD COLUMN health_start_period INTEGER NOT NULL DEFAULT 10,
    ADD COLUMN stop_grace_period   INTEGER NOT NULL DEFAULT 10;

-- +goose Down
ALTER TABLE applications
    DROP COLUMN health_path, DROP COLUMN health_port, DROP COLUMN health_status,
    DROP COLUMN health_interval, DROP COLUMN health_timeout, DROP COLUMN health_retries,
    DROP COLUMN health_start_period, DROP COLUMN stop_grace_period;
