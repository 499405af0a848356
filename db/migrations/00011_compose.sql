-- +goose Up
-- A compose stack is a kind of service: its services row holds the
-- environment and the name (the Swarm stack namespace, so its services are
-- <name>_<service>). Env, domains, webhooks and the operations history hang
-- off the service like an app's.
CREATE TABLE compose_stacks (
    id                    BIGINT PRIMARY KEY REFERENCES services(id) ON DELETE CASCADE,
    display_name          TEXT NOT NULL,
    source_type           TEXT NOT NULL CHECK (source_type IN ('git', 'inline')),
    git_url               TEXT NOT NULL DEFAULT '',
    git_branch            TEXT NOT NULL DEFAULT 'main',
    git_token_enc         BYTEA,
    git_ssh_key_enc       BYTEA,
    git_ssh_public_key    TEXT NOT NULL DEFAULT '',
    -- '' looks for docker-compose.yml, docker-compose.yaml, compose.yml, compose.yaml.
    compose_path          TEXT NOT NULL DEFAULT '',
    -- The file itself for an inline stack (pasted or edited in the page).
    compose_file          TEXT NOT NULL DEFAULT '',
    -- Env values always interpolate ${VAR}; inject_env also adds them to
    -- every service's environment.
    inject_env            BOOLEAN NOT NULL DEFAULT false,
    -- What an administrator allowed this stack beyond the safe default.
    allow_bind_mounts     BOOLEAN NOT NULL DEFAULT false,
    allow_docker_socket   BOOLEAN NOT NULL DEFAULT false,
    allow_privileged      BOOLEAN NOT NULL DEFAULT false,
    allow_host_namespaces BOOLEAN NOT NULL DEFAULT false,
    allow_capabilities    BOOLEAN NOT NULL DEFAULT false,
    status                TEXT NOT NULL DEFAULT 'idle',
    -- Desired replicas per Swarm service recorded by Stop, restored by Start.
    stopped_replicas      JSONB NOT NULL DEFAULT '{}',
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What a deploy of a stack put into service: the file as written (for a
-- rollback and the diff), the rendered file with secrets masked (shown),
-- the image of each service and the warnings of the loader.
CREATE TABLE compose_deployments (
    deployment_id BIGINT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
    source        TEXT NOT NULL,
    rendered      TEXT NOT NULL,
    images        JSONB NOT NULL DEFAULT '{}',
    warnings      TEXT[] NOT NULL DEFAULT '{}'
);

-- A stack's domain routes to one of its services.
ALTER TABLE domains ADD COLUMN compose_service TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE domains DROP COLUMN compose_service;
DROP TABLE compose_deployments;
DROP TABLE compose_stacks;
