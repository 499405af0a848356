-- +goose Up
-- Every user so far was a full administrator: they become owners. New
-- users default to the least a role can be, a member with no projects.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'owner'
    CHECK (role IN ('owner', 'admin', 'member', 'viewer'));
ALTER TABLE users ALTER COLUMN role SET DEFAULT 'member';
-- A disabled user keeps their history but cannot sign in; their sessions
-- and tokens are refused from the next request.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- What a member or viewer may do in a project. Owners and admins need no
-- rows: they reach every project.
CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    level      TEXT NOT NULL CHECK (level IN ('view', 'deploy', 'manage')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_id ON project_members(user_id);

-- A token acts with the lesser of its scope and its user's role, on its
-- projects only when project_ids is set, until it expires.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'manage'
    CHECK (scope IN ('read', 'deploy', 'manage'));
ALTER TABLE api_tokens ADD COLUMN project_ids BIGINT[];
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN expires_at;
ALTER TABLE api_tokens DROP COLUMN project_ids;
ALTER TABLE api_tokens DROP COLUMN scope;
DROP TABLE project_members;
ALTER TABLE users DROP COLUMN disabled_at;
ALTER TABLE users DROP COLUMN role;
