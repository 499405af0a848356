-- +goose Up
-- Notification channels (Slack, a signed webhook, SMTP, …) and the outbox
-- their messages wait in until sent. config_enc is the channel's JSON
-- configuration sealed with the secret key: it holds webhook URLs, tokens
-- and passwords.
CREATE TABLE notification_channels (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    config_enc BYTEA NOT NULL,
    events     TEXT[] NOT NULL DEFAULT '{}',
    enabled    BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per message to one channel. A sender claims a due pending row
-- with FOR UPDATE SKIP LOCKED, so two control-plane processes never send
-- the same row twice.
CREATE TABLE notification_outbox (
    id              BIGSERIAL PRIMARY KEY,
    channel_id      BIGINT NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL DEFAULT '',
    url             TEXT NOT NULL DEFAULT '',
    severity        TEXT NOT NULL DEFAULT 'info',
    dedupe_key      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX notification_outbox_due ON notification_outbox(status, next_attempt_at);
CREATE INDEX notification_outbox_dedupe ON notification_outbox(channel_id, dedupe_key, created_at) WHERE dedupe_key <> '';
CREATE INDEX notification_outbox_created_at ON notification_outbox(created_at);

-- +goose Down
DROP TABLE notification_outbox;
DROP TABLE notification_channels;
