-- 0003 (STORE): the keyed-hash index of identity numbers and its key.
--
-- A civil servant's identity number never enters the event log in the clear: it is
-- sealed with the person's own key (reporter_keys) and looked up through
-- HMAC-SHA256(index key, identity number) here. The index key is generated on first use
-- and kept in `index_keys`; without it a leaked index cannot be reversed by enumerating
-- the (small) space of identity numbers. Deployments that hold the key in a KMS replace
-- this row (docs/adr/0007).
CREATE TABLE index_keys (
    name         TEXT PRIMARY KEY,
    key_material TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE person_index (
    kind          TEXT NOT NULL,           -- civil_servant
    identity_hash TEXT NOT NULL,           -- hex HMAC-SHA256 of the identity number
    aggregate_id  TEXT NOT NULL,           -- the opaque id it belongs to
    created_at    TEXT NOT NULL,
    PRIMARY KEY (kind, identity_hash)
);
