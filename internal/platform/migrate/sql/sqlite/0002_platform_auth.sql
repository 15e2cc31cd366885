-- +goose Up
-- OAuth clients (machine clients of the client-credentials grant). Only a
-- hex SHA-256 of the secret is kept: secrets are 256 random bits, so a fast
-- hash is enough and lets the token endpoint stay cheap. roles and
-- companies are JSON arrays of strings; an empty companies array means
-- every company. A revoked client keeps its row (audit rows name it).
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    roles       TEXT NOT NULL,
    companies   TEXT NOT NULL DEFAULT '[]',
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

-- Keys that sign access tokens. The newest unretired key (highest
-- generation) signs; every unretired key verifies. generation is unique so
-- that nodes creating the first key, or rotating, at the same moment
-- cannot both succeed with the same generation. private_key is PKCS#8 PEM,
-- in clear for now (encryption at rest comes with platform/crypto).
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    generation  INTEGER NOT NULL UNIQUE,
    algorithm   TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP
);
