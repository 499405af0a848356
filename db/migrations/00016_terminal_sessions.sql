-- +goose Up
-- Terminal sessions, for the audit log: who opened a shell in which
-- container, from where, when, and how many bytes went each way (never
-- what was typed or shown). Rows outlive their user, token and service.
CREATE TABLE terminal_sessions (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT REFERENCES users(id) ON DELETE SET NULL,
    user_email    TEXT NOT NULL,
    token_id      BIGINT REFERENCES api_tokens(id) ON DELETE SET NULL,
    token_name    TEXT NOT NULL DEFAULT '',
    service_kind  TEXT NOT NULL,
    service_id    BIGINT NOT NULL,
    service_name  TEXT NOT NULL,
    container_id  TEXT NOT NULL,
    replica       INT NOT NULL,
    node          TEXT NOT NULL DEFAULT '',
    shell         TEXT NOT NULL DEFAULT '',
    remote_addr   TEXT NOT NULL DEFAULT '',
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at      TIMESTAMPTZ,
    bytes_in      BIGINT NOT NULL DEFAULT 0,
    bytes_out     BIGINT NOT NULL DEFAULT 0,
    end_reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX terminal_sessions_service ON terminal_sessions(service_kind, service_id, started_at DESC);
CREATE INDEX terminal_sessions_started_at ON terminal_sessions(started_at DESC);

-- +goose Down
DROP TABLE terminal_sessions;
