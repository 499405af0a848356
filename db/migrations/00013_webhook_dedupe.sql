-- +goose Up
-- Delivery ids seen per service, so a provider's retry of the same delivery
-- queues nothing. Kept 7 days (pruned as new ids arrive).
CREATE TABLE webhook_delivery_ids (
    service_id  BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    provider    TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, provider, delivery_id)
);

-- +goose Down
DROP TABLE webhook_delivery_ids;
