-- 0001 (STORE): the event log (embedded SQLite backend).
--
-- Why this shape:
-- * `position` is the rowid (AUTOINCREMENT: never reused, even after a rollback of the
--   newest rows). SQLite serializes writers, so position order is commit order, and
--   `tx_id` (the commit-order key of the Postgres schema) is simply `position`.
-- * UNIQUE (aggregate_type, aggregate_id, sequence) is the optimistic lock: it is the only
--   unique constraint a writer can violate, so SQLITE_CONSTRAINT_UNIQUE (2067) on the
--   events insert means a concurrency conflict.
-- * payload/metadata are JSON text; `recorded_at` is RFC 3339 UTC with exactly six
--   fractional digits and a `Z` (e.g. 2026-01-31T08:00:00.123456Z), so text order is time
--   order and `recorded_at <= ?` compares correctly. The store writes it explicitly; the
--   default (millisecond clock, padded to the same width) covers manual inserts.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence > 0),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    tx_id          INTEGER GENERATED ALWAYS AS (position) VIRTUAL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);
