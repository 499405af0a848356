-- +goose Up
-- A rollback is a deployment of its own that reuses an earlier deployment's
-- image instead of building; rollback_of points at that deployment.
ALTER TABLE deployments ADD COLUMN rollback_of BIGINT REFERENCES deployments(id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE deployments DROP COLUMN rollback_of;
