-- +goose Up
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Sessions are server-side so logout and revocation take effect at once.
-- id is the SHA-256 of the cookie value: a database leak does not leak sessions.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_id ON sessions(user_id);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE projects (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE environments (
    id         BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- Columns ending in _enc hold AES-256-GCM ciphertext (nonce || sealed).
CREATE TABLE applications (
    id                    BIGSERIAL PRIMARY KEY,
    environment_id        BIGINT NOT NULL REFERENCES environments(id) ON DELETE RESTRICT,
    name                  TEXT NOT NULL,
    app_name              TEXT NOT NULL UNIQUE,
    source_type           TEXT NOT NULL CHECK (source_type IN ('git', 'image')),
    git_url               TEXT NOT NULL DEFAULT '',
    git_branch            TEXT NOT NULL DEFAULT 'main',
    git_context           TEXT NOT NULL DEFAULT '.',
    git_dockerfile        TEXT NOT NULL DEFAULT 'Dockerfile',
    git_token_enc         BYTEA,
    git_ssh_key_enc       BYTEA,
    git_ssh_public_key    TEXT NOT NULL DEFAULT '',
    build_target          TEXT NOT NULL DEFAULT '',
    build_no_cache        BOOLEAN NOT NULL DEFAULT false,
    image                 TEXT NOT NULL DEFAULT '',
    registry_server       TEXT NOT NULL DEFAULT '',
    registry_username     TEXT NOT NULL DEFAULT '',
    registry_password_enc BYTEA,
    port                  INTEGER NOT NULL DEFAULT 3000,
    replicas              INTEGER NOT NULL DEFAULT 1,
    memory_limit_mb       INTEGER NOT NULL DEFAULT 0,
    cpu_limit             NUMERIC(6,2) NOT NULL DEFAULT 0,
    status                TEXT NOT NULL DEFAULT 'idle',
    current_image         TEXT NOT NULL DEFAULT '',
    current_commit        TEXT NOT NULL DEFAULT '',
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX applications_environment_id ON applications(environment_id);

-- Environment variables and build arguments; values are encrypted.
CREATE TABLE app_variables (
    app_id    BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('env', 'build_arg')),
    key       TEXT NOT NULL,
    value_enc BYTEA NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (app_id, kind, key)
);

CREATE TABLE app_ports (
    id        BIGSERIAL PRIMARY KEY,
    app_id    BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    published INTEGER NOT NULL,
    target    INTEGER NOT NULL,
    protocol  TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
    mode      TEXT NOT NULL CHECK (mode IN ('host', 'ingress')),
    UNIQUE (published, protocol)
);

CREATE TABLE deployments (
    id               BIGSERIAL PRIMARY KEY,
    app_id           BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'error', 'cancelled')),
    trigger          TEXT NOT NULL DEFAULT 'user',
    triggered_by     TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    commit_sha       TEXT NOT NULL DEFAULT '',
    commit_message   TEXT NOT NULL DEFAULT '',
    image            TEXT NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    worker_id        TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX deployments_app_id ON deployments(app_id, id DESC);
CREATE INDEX deployments_active ON deployments(status) WHERE status IN ('queued', 'running');

CREATE TABLE deployment_logs (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    line          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (deployment_id, seq)
);

-- +goose Down
DROP TABLE deployment_logs;
DROP TABLE deployments;
DROP TABLE app_ports;
DROP TABLE app_variables;
DROP TABLE applications;
DROP TABLE environments;
DROP TABLE projects;
DROP TABLE settings;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
