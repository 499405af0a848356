-- +goose Up
-- Metrics: raw samples of every replica's container and of every node,
-- kept for a short time (metrics_raw_hours), and 5-minute averages kept
-- longer (metrics_rollup_days). Rates (net, block I/O) are bytes per
-- second over the sample's interval; restarts and oom are the slot's
-- counts at the time. A service's samples go with the service.
CREATE TABLE container_samples (
    ts           TIMESTAMPTZ NOT NULL,
    service_id   BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    service      TEXT NOT NULL,            -- the Swarm service (compose: <stack>_<service>)
    container_id TEXT NOT NULL,
    replica      INT NOT NULL,             -- task slot, 0 for global services
    node         TEXT NOT NULL,
    cpu          DOUBLE PRECISION NOT NULL, -- percent of one CPU (200 = two CPUs busy)
    mem          BIGINT NOT NULL,           -- working set, bytes
    mem_limit    BIGINT NOT NULL,
    net_rx       DOUBLE PRECISION NOT NULL,
    net_tx       DOUBLE PRECISION NOT NULL,
    blk_read     DOUBLE PRECISION NOT NULL,
    blk_write    DOUBLE PRECISION NOT NULL,
    restarts     INT NOT NULL,
    oom          INT NOT NULL
);
CREATE INDEX container_samples_service_ts ON container_samples(service_id, ts);
CREATE INDEX container_samples_ts ON container_samples(ts);

CREATE TABLE container_rollups (
    bucket     TIMESTAMPTZ NOT NULL,       -- start of the 5 minutes
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    service    TEXT NOT NULL,
    replica    INT NOT NULL,
    node       TEXT NOT NULL,
    samples    INT NOT NULL,
    cpu        DOUBLE PRECISION NOT NULL,  -- averages over the bucket
    cpu_max    DOUBLE PRECISION NOT NULL,
    mem        BIGINT NOT NULL,
    mem_max    BIGINT NOT NULL,
    mem_limit  BIGINT NOT NULL,
    net_rx     DOUBLE PRECISION NOT NULL,
    net_tx     DOUBLE PRECISION NOT NULL,
    blk_read   DOUBLE PRECISION NOT NULL,
    blk_write  DOUBLE PRECISION NOT NULL,
    restarts   INT NOT NULL,               -- the highest count seen
    oom        INT NOT NULL,
    PRIMARY KEY (service_id, service, replica, node, bucket)
);
CREATE INDEX container_rollups_service_bucket ON container_rollups(service_id, bucket);
CREATE INDEX container_rollups_bucket ON container_rollups(bucket);

CREATE TABLE node_samples (
    ts         TIMESTAMPTZ NOT NULL,
    node       TEXT NOT NULL,
    hostname   TEXT NOT NULL,
    cpu        DOUBLE PRECISION NOT NULL,  -- percent of all CPUs
    cpus       INT NOT NULL,
    mem_used   BIGINT NOT NULL,            -- MemTotal - MemAvailable
    mem_total  BIGINT NOT NULL,
    disk_used  BIGINT NOT NULL,            -- of Docker's data root
    disk_total BIGINT NOT NULL,
    load1      DOUBLE PRECISION NOT NULL,
    load5      DOUBLE PRECISION NOT NULL,
    load15     DOUBLE PRECISION NOT NULL
);
CREATE INDEX node_samples_node_ts ON node_samples(node, ts);
CREATE INDEX node_samples_ts ON node_samples(ts);

CREATE TABLE node_rollups (
    bucket     TIMESTAMPTZ NOT NULL,
    node       TEXT NOT NULL,
    hostname   TEXT NOT NULL,
    samples    INT NOT NULL,
    cpu        DOUBLE PRECISION NOT NULL,
    cpu_max    DOUBLE PRECISION NOT NULL,
    cpus       INT NOT NULL,
    mem_used   BIGINT NOT NULL,
    mem_total  BIGINT NOT NULL,
    disk_used  BIGINT NOT NULL,
    disk_total BIGINT NOT NULL,
    load1      DOUBLE PRECISION NOT NULL,
    load5      DOUBLE PRECISION NOT NULL,
    load15     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node, bucket)
);
CREATE INDEX node_rollups_bucket ON node_rollups(bucket);

-- +goose Down
DROP TABLE node_rollups;
DROP TABLE node_samples;
DROP TABLE container_rollups;
DROP TABLE container_samples;
