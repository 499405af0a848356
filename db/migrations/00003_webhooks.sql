-- +goose Up
-- Deploy webhook settings, one row per app, created on first use (the token
-- and secret are random and sealed with the store's cipher, which SQL cannot
-- do). token_hash finds the app from the URL without decrypting every row;
-- token_enc lets the page show the URL again.
CREATE TABLE app_webhooks (
    app_id      BIGINT PRIMARY KEY REFERENCES applications(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    token_enc   BYTEA NOT NULL,
    secret_enc  BYTEA,
    deploy_on   TEXT NOT NULL DEFAULT 'push' CHECK (deploy_on IN ('push', 'tag')),
    watch_paths TEXT[] NOT NULL DEFAULT '{}',
    auto_deploy BOOLEAN NOT NULL DEFAULT true,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every call of a deploy webhook, whatever came of it.
CREATE TABLE webhook_deliveries (
    id             BIGSERIAL PRIMARY KEY,
    app_id         BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    provider       TEXT NOT NULL DEFAULT '',
    event          TEXT NOT NULL DEFAULT '',
    ref            TEXT NOT NULL DEFAULT '',
    commit_sha     TEXT NOT NULL DEFAULT '',
    commit_message TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL CHECK (outcome IN ('deployed', 'ignored', 'rejected')),
    reason         TEXT NOT NULL DEFAULT '',
    deployment_id  BIGINT REFERENCES deployments(id) ON DELETE SET NULL
);
CREATE INDEX webhook_deliveries_app_id ON webhook_deliveries(app_id, id DESC);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE app_webhooks;
