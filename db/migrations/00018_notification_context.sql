-- +goose Up
-- What a notification is about, so receivers (and the signed webhook's
-- envelope) can tell the project, service and deployment apart, and so a
-- channel can choose its projects. The names are copied, not referenced:
-- a delivery outlives a deleted project.
ALTER TABLE notification_outbox
    ADD COLUMN project_id    BIGINT,
    ADD COLUMN project       TEXT NOT NULL DEFAULT '',
    ADD COLUMN service_id    BIGINT,
    ADD COLUMN service       TEXT NOT NULL DEFAULT '',
    ADD COLUMN service_kind  TEXT NOT NULL DEFAULT '',
    ADD COLUMN deployment_id BIGINT,
    ADD COLUMN data          JSONB NOT NULL DEFAULT '{}';
CREATE INDEX notification_outbox_channel ON notification_outbox(channel_id, id);

-- The projects a channel hears about; empty means every project. Events
-- about no project (a node's disk, the dashboard's certificate) reach a
-- channel whatever its projects, so host alerts never go unheard.
ALTER TABLE notification_channels ADD COLUMN project_ids BIGINT[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE notification_channels DROP COLUMN project_ids;
DROP INDEX notification_outbox_channel;
ALTER TABLE notification_outbox
    DROP COLUMN project_id, DROP COLUMN project, DROP COLUMN service_id, DROP COLUMN service,
    DROP COLUMN service_kind, DROP COLUMN deployment_id, DROP COLUMN data;
