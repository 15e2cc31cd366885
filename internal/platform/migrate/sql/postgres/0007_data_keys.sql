-- +goose Up
-- Data keys of field-level encryption (internal/platform/crypto). Each
-- owner (a company, or a person for personal data) has numbered keys; the
-- highest version is the one new values use, and every undestroyed key
-- still decrypts. wrapped is the 32-byte key sealed with AES-256-GCM under
-- a key derived from the master key, which is never stored here;
-- master_kid names that master key (a fingerprint) so a rotation can
-- resume where it stopped and a node with the wrong key says so.
-- (owner, version) is unique so that nodes creating or rotating an owner's
-- key at the same moment end with one current key. Destroying an owner's
-- keys (crypto-shredding, GDPR erasure) clears wrapped and sets
-- destroyed_at; the row stays so values of the key read as erased rather
-- than unknown, and so the owner cannot silently get a fresh key.
CREATE TABLE data_keys (
    kid          TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    master_kid   TEXT NOT NULL,
    wrapped      BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    retired_at   TIMESTAMPTZ,
    destroyed_at TIMESTAMPTZ,
    UNIQUE (owner, version),
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE INDEX data_keys_master ON data_keys (master_kid, kid) WHERE destroyed_at IS NULL;
