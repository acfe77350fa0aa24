-- 0100 (LAW): leases held in the store, so that work which must not run twice at once
-- is serialised across every server on the store, not only within one process.
--
-- Why this shape:
-- * One row per lease name (e.g. `complaint-merges`). A server takes the lease by
--   inserting its row, or by taking over a row whose lease has run out (one upsert whose
--   WHERE compares the expiry: atomic on both backends); it gives it back by deleting
--   the row it holds.
-- * `expires_at` (unix milliseconds, real time, never a drill's clock offset) bounds how
--   long a crashed holder blocks the others.
-- * Same portable shape on both backends.

CREATE TABLE store_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,   -- a random id of the holding server and call
    expires_at BIGINT NOT NULL  -- unix milliseconds
);
