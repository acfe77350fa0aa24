-- 0002 (STORE): per-reporter data keys, kept outside the append-only event log so that
-- destroying a key erases the personal data it sealed (crypto-shredding).
--
-- Same shape as the Postgres table (written through the portable `AnyPool` SQL):
-- `key_material` is the base64 of the 256-bit key, NULL once destroyed. The database runs
-- with `secure_delete` on, so the overwritten key bytes do not linger in free pages.
CREATE TABLE reporter_keys (
    key_id       TEXT PRIMARY KEY,
    key_material TEXT,
    created_at   TEXT NOT NULL,
    destroyed_at TEXT,
    CHECK ((key_material IS NULL) = (destroyed_at IS NOT NULL))
);
