-- +goose Up
-- History retention: old deployments keep their row (who, when, what,
-- outcome) but lose their log lines; log_pruned says so on the page.
ALTER TABLE deployments ADD COLUMN log_pruned BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX webhook_deliveries_created_at ON webhook_deliveries(created_at);
CREATE INDEX sessions_expires_at ON sessions(expires_at);

-- +goose Down
DROP INDEX sessions_expires_at;
DROP INDEX webhook_deliveries_created_at;
ALTER TABLE deployments DROP COLUMN log_pruned;
