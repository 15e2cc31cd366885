-- +goose Up
-- Identity: secret rotation, private_key_jwt client keys, single-use client
-- assertions, revoked access tokens, custom roles and trusted outside
-- issuers.

-- A rotated secret keeps working until previous_secret_expires_at, so a
-- client can be redeployed with the new one without an outage. '' means no
-- previous secret (and, in secret_hash, a client that only signs with a
-- key).
ALTER TABLE oauth_clients ADD COLUMN previous_secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN previous_secret_expires_at TIMESTAMP;

-- Public keys a client signs its private_key_jwt assertions with (RFC
-- 7523): a public JWK (Ed25519 or P-256), never a private member.
CREATE TABLE oauth_client_keys (
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id),
    kid        TEXT NOT NULL,
    algorithm  TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, kid)
);

-- jtis of client assertions already used, kept until the assertion would
-- have expired anyway, so a replay is refused on every node.
CREATE TABLE oauth_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oauth_assertion_jtis_expiry ON oauth_assertion_jtis (expires_at);

-- Access tokens revoked before their expiry (RFC 7009), kept until they
-- would have expired.
CREATE TABLE oauth_revoked_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    revoked_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth_revoked_tokens_expiry ON oauth_revoked_tokens (expires_at);

-- Custom roles; the built-in ones live in the code. scopes is a JSON array.
CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    scopes      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Outside identity providers whose access tokens are accepted. mappings is
-- a JSON array of {client_id | claim+value → roles, companies}; a subject
-- no mapping matches is refused. jwks_url '' means discovered from the
-- issuer's metadata.
CREATE TABLE trusted_issuers (
    issuer     TEXT PRIMARY KEY,
    jwks_url   TEXT NOT NULL DEFAULT '',
    audience   TEXT NOT NULL,
    mappings   TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
