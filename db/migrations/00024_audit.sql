-- +goose Up
-- The audit log: who changed what, when and from where. The actor is kept
-- by value (email, token name) as well as by id, with no foreign key, so
-- the history outlives the users and tokens it names. Never a secret:
-- changes hold field names with old/new values of plain fields, and only
-- "changed" for secrets.
CREATE TABLE audit_events (
    id               BIGSERIAL PRIMARY KEY,
    at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_type       TEXT NOT NULL CHECK (actor_type IN ('user', 'token', 'webhook', 'cli', 'system')),
    actor_user_id    BIGINT,
    actor_email      TEXT NOT NULL DEFAULT '',
    actor_token_id   BIGINT,
    actor_token_name TEXT NOT NULL DEFAULT '',
    ip               TEXT NOT NULL DEFAULT '',
    action           TEXT NOT NULL,
    resource         TEXT NOT NULL DEFAULT '',
    resource_id      BIGINT,
    project_id       BIGINT,
    route            TEXT NOT NULL DEFAULT '',
    status           INT NOT NULL DEFAULT 0,
    detail           TEXT NOT NULL DEFAULT '',
    changes          JSONB,
    request_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_project ON audit_events(project_id, id);
CREATE INDEX audit_events_actor ON audit_events(actor_user_id, id);

-- +goose Down
DROP TABLE audit_events;
