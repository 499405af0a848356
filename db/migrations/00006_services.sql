-- +goose Up
-- One row per service of any kind: apps now, databases and compose stacks
-- next. It owns what every kind has: its environment, its name (the Swarm
-- service or stack name, a DNS label unique across kinds), its env, ports,
-- domains with their access rules, webhooks and its operations history
-- (deployments). A kind's own table (applications today) shares the id.
CREATE TABLE services (
    id             BIGSERIAL PRIMARY KEY,
    environment_id BIGINT NOT NULL REFERENCES environments(id) ON DELETE RESTRICT,
    kind           TEXT NOT NULL CHECK (kind IN ('app', 'database', 'compose')),
    name           TEXT NOT NULL UNIQUE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX services_environment_id ON services(environment_id);

INSERT INTO services (id, environment_id, kind, name, created_at)
    SELECT id, environment_id, 'app', app_name, created_at FROM applications;
SELECT setval(pg_get_serial_sequence('services', 'id'), COALESCE((SELECT max(id) FROM services), 0) + 1, false);

ALTER TABLE applications ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE applications_id_seq;
ALTER TABLE applications ADD CONSTRAINT applications_id_fkey FOREIGN KEY (id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE applications DROP COLUMN environment_id;
ALTER TABLE applications DROP COLUMN app_name;

-- What every kind has moves from the app to the service.
ALTER TABLE app_variables RENAME TO service_variables;
ALTER TABLE app_ports RENAME TO service_ports;
ALTER TABLE app_basic_auth RENAME TO service_basic_auth;
ALTER TABLE app_redirects RENAME TO service_redirects;
ALTER TABLE app_headers RENAME TO service_headers;
ALTER TABLE app_webhooks RENAME TO service_webhooks;

ALTER TABLE service_variables RENAME COLUMN app_id TO service_id;
ALTER TABLE service_ports RENAME COLUMN app_id TO service_id;
ALTER TABLE service_basic_auth RENAME COLUMN app_id TO service_id;
ALTER TABLE service_redirects RENAME COLUMN app_id TO service_id;
ALTER TABLE service_headers RENAME COLUMN app_id TO service_id;
ALTER TABLE service_webhooks RENAME COLUMN app_id TO service_id;
ALTER TABLE webhook_deliveries RENAME COLUMN app_id TO service_id;
ALTER TABLE deployments RENAME COLUMN app_id TO service_id;
ALTER TABLE domains RENAME COLUMN app_id TO service_id;

ALTER TABLE service_variables DROP CONSTRAINT app_variables_app_id_fkey,
    ADD CONSTRAINT service_variables_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE service_ports DROP CONSTRAINT app_ports_app_id_fkey,
    ADD CONSTRAINT service_ports_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE service_basic_auth DROP CONSTRAINT app_basic_auth_app_id_fkey,
    ADD CONSTRAINT service_basic_auth_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE service_redirects DROP CONSTRAINT app_redirects_app_id_fkey,
    ADD CONSTRAINT service_redirects_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE service_headers DROP CONSTRAINT app_headers_app_id_fkey,
    ADD CONSTRAINT service_headers_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE service_webhooks DROP CONSTRAINT app_webhooks_app_id_fkey,
    ADD CONSTRAINT service_webhooks_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_app_id_fkey,
    ADD CONSTRAINT webhook_deliveries_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE deployments DROP CONSTRAINT deployments_app_id_fkey,
    ADD CONSTRAINT deployments_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE domains DROP CONSTRAINT domains_app_id_fkey,
    ADD CONSTRAINT domains_service_id_fkey FOREIGN KEY (service_id) REFERENCES services(id) ON DELETE CASCADE;

-- +goose Down
ALTER TABLE domains DROP CONSTRAINT domains_service_id_fkey;
ALTER TABLE deployments DROP CONSTRAINT deployments_service_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_service_id_fkey;
ALTER TABLE service_webhooks DROP CONSTRAINT service_webhooks_service_id_fkey;
ALTER TABLE service_headers DROP CONSTRAINT service_headers_service_id_fkey;
ALTER TABLE service_redirects DROP CONSTRAINT service_redirects_service_id_fkey;
ALTER TABLE service_basic_auth DROP CONSTRAINT service_basic_auth_service_id_fkey;
ALTER TABLE service_ports DROP CONSTRAINT service_ports_service_id_fkey;
ALTER TABLE service_variables DROP CONSTRAINT service_variables_service_id_fkey;

ALTER TABLE domains RENAME COLUMN service_id TO app_id;
ALTER TABLE deployments RENAME COLUMN service_id TO app_id;
ALTER TABLE webhook_deliveries RENAME COLUMN service_id TO app_id;
ALTER TABLE service_webhooks RENAME COLUMN service_id TO app_id;
ALTER TABLE service_headers RENAME COLUMN service_id TO app_id;
ALTER TABLE service_redirects RENAME COLUMN service_id TO app_id;
ALTER TABLE service_basic_auth RENAME COLUMN service_id TO app_id;
ALTER TABLE service_ports RENAME COLUMN service_id TO app_id;
ALTER TABLE service_variables RENAME COLUMN service_id TO app_id;

ALTER TABLE service_webhooks RENAME TO app_webhooks;
ALTER TABLE service_headers RENAME TO app_headers;
ALTER TABLE service_redirects RENAME TO app_redirects;
ALTER TABLE service_basic_auth RENAME TO app_basic_auth;
ALTER TABLE service_ports RENAME TO app_ports;
ALTER TABLE service_variables RENAME TO app_variables;

ALTER TABLE applications ADD COLUMN environment_id BIGINT REFERENCES environments(id) ON DELETE RESTRICT;
ALTER TABLE applications ADD COLUMN app_name TEXT;
UPDATE applications a SET environment_id = s.environment_id, app_name = s.name FROM services s WHERE s.id = a.id;
ALTER TABLE applications ALTER COLUMN environment_id SET NOT NULL, ALTER COLUMN app_name SET NOT NULL,
    ADD CONSTRAINT applications_app_name_key UNIQUE (app_name);
CREATE INDEX applications_environment_id ON applications(environment_id);
ALTER TABLE applications DROP CONSTRAINT applications_id_fkey;
CREATE SEQUENCE applications_id_seq OWNED BY applications.id;
SELECT setval('applications_id_seq', COALESCE((SELECT max(id) FROM applications), 0) + 1, false);
ALTER TABLE applications ALTER COLUMN id SET DEFAULT nextval('applications_id_seq');

ALTER TABLE app_variables ADD CONSTRAINT app_variables_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE app_ports ADD CONSTRAINT app_ports_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE app_basic_auth ADD CONSTRAINT app_basic_auth_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE app_redirects ADD CONSTRAINT app_redirects_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE app_headers ADD CONSTRAINT app_headers_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE app_webhooks ADD CONSTRAINT app_webhooks_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE deployments ADD CONSTRAINT deployments_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;
ALTER TABLE domains ADD CONSTRAINT domains_app_id_fkey FOREIGN KEY (app_id) REFERENCES applications(id) ON DELETE CASCADE;

DROP TABLE services;
