-- +goose Up
-- Alert rules: a condition on a metric of a service's replicas or of the
-- nodes (see db/metrics.go) that must hold for for_seconds before it
-- fires, and a cooldown between two firings of the same instance. The
-- built-in "Disk almost full" rule is the product's disk alert: it can be
-- edited or disabled, not deleted.
CREATE TABLE alert_rules (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    target           TEXT NOT NULL CHECK (target IN ('service', 'node')),
    service_id       BIGINT REFERENCES services(id) ON DELETE CASCADE,
    node             TEXT NOT NULL DEFAULT '',  -- node rules: a node's id or hostname, '' = every node
    metric           TEXT NOT NULL,
    comparison       TEXT NOT NULL CHECK (comparison IN ('>', '>=', '<', '<=')),
    threshold        DOUBLE PRECISION NOT NULL,
    for_seconds      INT NOT NULL DEFAULT 0 CHECK (for_seconds BETWEEN 0 AND 86400),
    cooldown_seconds INT NOT NULL DEFAULT 0 CHECK (cooldown_seconds BETWEEN 0 AND 604800),
    enabled          BOOLEAN NOT NULL DEFAULT true,
    builtin          BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((target = 'service') = (service_id IS NOT NULL)),
    CHECK (target = 'node' OR node = ''),
    CHECK ((target = 'service' AND metric IN ('cpu', 'memory', 'memory_percent', 'restarts'))
        OR (target = 'node' AND metric IN ('cpu', 'memory_percent', 'disk_percent', 'load1')))
);
CREATE INDEX alert_rules_service_id ON alert_rules(service_id);

-- The state of a rule for one instance it watches: a replica
-- ("<swarm service>#<slot>", global services "<swarm service>@<node>") or
-- a node (its id). pending_since: the condition holds on the latest
-- sample but not yet for the rule's duration (or the cooldown holds it
-- back); firing_since: it fired and has not resolved.
CREATE TABLE alert_states (
    rule_id          BIGINT NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    key              TEXT NOT NULL,
    label            TEXT NOT NULL DEFAULT '',
    pending_since    TIMESTAMPTZ,
    firing_since     TIMESTAMPTZ,
    last_fired_at    TIMESTAMPTZ,
    last_value       DOUBLE PRECISION,
    last_resolved_at TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, key)
);

INSERT INTO alert_rules (name, target, node, metric, comparison, threshold, for_seconds, cooldown_seconds, builtin)
VALUES ('Disk almost full', 'node', '', 'disk_percent', '>', 90, 120, 21600, true);

-- +goose Down
DROP TABLE alert_states;
DROP TABLE alert_rules;
