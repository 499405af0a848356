-- +goose Up
-- An invitation is a one-time link (only its hash is stored) that lets
-- the invitee set a password and become a user with the role, and
-- optionally the project grant, chosen by whoever invited them.
CREATE TABLE invitations (
    id          BIGSERIAL PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    project_id  BIGINT REFERENCES projects(id) ON DELETE CASCADE,
    level       TEXT CHECK (level IN ('view', 'deploy', 'manage')),
    invited_by  BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ
);
-- One open invitation per address.
CREATE UNIQUE INDEX invitations_open_email ON invitations (email) WHERE accepted_at IS NULL;

-- +goose Down
DROP TABLE invitations;
