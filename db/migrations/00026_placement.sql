-- +goose Up
-- Placement per service: Swarm constraints (node.labels.region==eu, …)
-- and a cap on tasks per node (0 = no cap); they apply on the next deploy.
ALTER TABLE applications
    ADD COLUMN placement_constraints TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN max_replicas_per_node INTEGER NOT NULL DEFAULT 0 CHECK (max_replicas_per_node >= 0);
ALTER TABLE databases
    ADD COLUMN placement_constraints TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN max_replicas_per_node INTEGER NOT NULL DEFAULT 0 CHECK (max_replicas_per_node >= 0);

-- +goose Down
ALTER TABLE applications DROP COLUMN placement_constraints, DROP COLUMN max_replicas_per_node;
ALTER TABLE databases DROP COLUMN placement_constraints, DROP COLUMN max_replicas_per_node;
