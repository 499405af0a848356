-- +goose Up
-- Two-factor sign-in (TOTP, RFC 6238). totp_secret_enc is the sealed
-- base32 secret: set with totp_enabled_at NULL while an enrolment waits for
-- its first code, both set once it is on. totp_last_step is the step of
-- the last code accepted: a code of that step or an earlier one is refused,
-- so an observed code cannot be replayed.
ALTER TABLE users
    ADD COLUMN totp_secret_enc BYTEA,
    ADD COLUMN totp_enabled_at TIMESTAMPTZ,
    ADD COLUMN totp_last_step  BIGINT NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored as SHA-256 (they carry 50 random bits,
-- and the sign-in step is rate limited, so a fast hash is enough).
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- A password accepted for a user with two-factor on: the browser holds the
-- token (its hash is the id) for five minutes to give the second factor.
-- attempts counts wrong codes; the challenge ends after a few.
CREATE TABLE sign_in_challenges (
    id         TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attempts   INT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_challenges_user_id ON sign_in_challenges(user_id);

-- +goose Down
DROP TABLE sign_in_challenges;
DROP TABLE recovery_codes;
ALTER TABLE users DROP COLUMN totp_secret_enc, DROP COLUMN totp_enabled_at, DROP COLUMN totp_last_step;
