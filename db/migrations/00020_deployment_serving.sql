-- +goose Up
-- When the new version of a deployment started taking traffic: the first
-- task of the new spec running (healthy, when it has a health check). The
-- deployment finishes later, once every replica stayed up for the monitor
-- period; users and webhooks wait on the earlier moment.
ALTER TABLE deployments ADD COLUMN serving_at timestamptz;

-- +goose Down
ALTER TABLE deployments DROP COLUMN serving_at;
