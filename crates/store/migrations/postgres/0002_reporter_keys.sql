-- 0002 (STORE): per-reporter data keys, kept outside the append-only event log so that
-- destroying a key erases the personal data it sealed (crypto-shredding) while the
-- history stays intact.
--
-- Why TEXT everywhere: the key store is written through the portable `AnyPool` SQL, which
-- stores timestamps as RFC 3339 text. `key_material` is the base64 of the 256-bit key;
-- `destroy` sets it to NULL and stamps `destroyed_at` (the row stays, so an open of a
-- destroyed key is told apart from an unknown key in logs and audits).
CREATE TABLE reporter_keys (
    key_id       TEXT PRIMARY KEY,
    key_material TEXT,
    created_at   TEXT NOT NULL,
    destroyed_at TEXT,
    CHECK ((key_material IS NULL) = (destroyed_at IS NOT NULL))
);
