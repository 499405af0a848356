-- +goose Up
-- Uploaded TLS certificates. The private key is sealed like every other
-- secret; hosts and not_after are parsed from cert_pem at upload so pages and
-- validation never need to parse PEM again.
CREATE TABLE certificates (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    cert_pem   TEXT NOT NULL,
    key_enc    BYTEA NOT NULL,
    hosts      TEXT[] NOT NULL DEFAULT '{}',
    not_after  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Public addresses. app_id NULL is the dashboard's own domain. UNIQUE(host,
-- path) makes a claim global: two apps can never route the same address.
-- host is stored in punycode, the form Traefik matches.
CREATE TABLE domains (
    id             BIGSERIAL PRIMARY KEY,
    app_id         BIGINT REFERENCES applications(id) ON DELETE CASCADE,
    host           TEXT NOT NULL,
    path           TEXT NOT NULL DEFAULT '/',
    strip_path     BOOLEAN NOT NULL DEFAULT false,
    internal_path  TEXT NOT NULL DEFAULT '/',
    port           INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    https          BOOLEAN NOT NULL DEFAULT false,
    certificate    TEXT NOT NULL DEFAULT 'none' CHECK (certificate IN ('letsencrypt', 'none', 'custom')),
    certificate_id BIGINT REFERENCES certificates(id) ON DELETE RESTRICT,
    enabled        BOOLEAN NOT NULL DEFAULT true,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (host, path),
    CHECK ((certificate = 'custom') = (certificate_id IS NOT NULL))
);
CREATE INDEX domains_app_id ON domains(app_id);

-- Basic-auth users protecting every domain of an app; bcrypt hashes only.
CREATE TABLE app_basic_auth (
    id            BIGSERIAL PRIMARY KEY,
    app_id        BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (app_id, username)
);

-- Regex redirects applied to every domain of an app, in id order.
CREATE TABLE app_redirects (
    id          BIGSERIAL PRIMARY KEY,
    app_id      BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    regex       TEXT NOT NULL,
    replacement TEXT NOT NULL,
    permanent   BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX app_redirects_app_id ON app_redirects(app_id);

-- Extra headers: 'response' headers go to the client, 'request' headers to
-- the app. An empty value removes the header.
CREATE TABLE app_headers (
    app_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    kind   TEXT NOT NULL CHECK (kind IN ('response', 'request')),
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (app_id, kind, name)
);

-- +goose Down
DROP TABLE app_headers;
DROP TABLE app_redirects;
DROP TABLE app_basic_auth;
DROP TABLE domains;
DROP TABLE certificates;
