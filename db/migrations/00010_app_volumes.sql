-- +goose Up
-- A named Docker volume an app mounts: the volume is <app_name>-<name>,
-- mounted at path in every task of the app's service.
CREATE TABLE app_volumes (
    id         BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    path       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (service_id, name),
    UNIQUE (service_id, path)
);

-- A backup plan of an app names the volume it copies (by name, so a
-- volume removed and declared again keeps its plans); NULL for a
-- database's plan. stop_during_backup scales the app to zero during the
-- copy, so files are not changing while they are read.
ALTER TABLE backups ADD COLUMN volume TEXT;
ALTER TABLE backups ADD COLUMN stop_during_backup BOOLEAN NOT NULL DEFAULT false;
-- The volume a run copied, restored into by its restore.
ALTER TABLE backup_runs ADD COLUMN volume TEXT;

-- +goose Down
ALTER TABLE backup_runs DROP COLUMN volume;
ALTER TABLE backups DROP COLUMN stop_during_backup;
ALTER TABLE backups DROP COLUMN volume;
DROP TABLE app_volumes;
