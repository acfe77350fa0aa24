-- 0040 (AUDIT): tamper evidence (docs/audit.md, docs/adr/0006-tamper-evidence.md).
--
-- Why this shape:
-- * `event_seals` holds one row per sealed event, written by the single sealer in the
--   commit-safe order (tx_id, position): `chain_index` is 0, 1, 2, ... in that order,
--   `event_hash` covers the event's canonical form and the previous event hash of the
--   same aggregate (`prev_event_hash`, 64 zeros for the first), `chain_hash` extends the
--   global chain: SHA-256(previous chain_hash || event_hash). Hashes are lowercase hex.
-- * `audit_sealer_checkpoint` is the sealer's place in the log, written in the same
--   transaction as the seals of a batch (one row, id = 1).
-- * `audit_checkpoints` are signed heads of the chain (Ed25519, base64 signature over the
--   canonical JSON {chain_hash, chain_index, position, signed_at}).
-- Portable SQL (written through the Any pool): TEXT and BIGINT only.
CREATE TABLE event_seals (
    position        BIGINT PRIMARY KEY,
    chain_index     BIGINT NOT NULL UNIQUE,
    aggregate_type  TEXT   NOT NULL,
    aggregate_id    TEXT   NOT NULL,
    sequence        BIGINT NOT NULL,
    event_hash      TEXT   NOT NULL,
    prev_event_hash TEXT   NOT NULL,
    chain_hash      TEXT   NOT NULL
);

CREATE INDEX event_seals_aggregate ON event_seals (aggregate_type, aggregate_id, sequence);

CREATE TABLE audit_sealer_checkpoint (
    id       BIGINT PRIMARY KEY,
    tx_id    BIGINT NOT NULL,
    position BIGINT NOT NULL
);

CREATE TABLE audit_checkpoints (
    chain_index BIGINT PRIMARY KEY,
    position    BIGINT NOT NULL,
    chain_hash  TEXT   NOT NULL,
    key_id      TEXT   NOT NULL,
    signature   TEXT   NOT NULL,
    signed_at   TEXT   NOT NULL
);

-- Public keys of the signers (by key id), so an export can put the key in the bundle.
CREATE TABLE audit_keys (
    key_id     TEXT PRIMARY KEY,
    public_key TEXT NOT NULL
);
