-- 0001 (STORE): the event log.
--
-- Why this shape:
-- * The first seven columns are exactly what postgres-es (cqrs-es) reads and writes, so
--   appends go through `PostgresEventRepository` unchanged. `sequence` is BIGINT because
--   postgres-es reads it back as i64 (it binds i32 on insert, which widens implicitly).
-- * The primary key (aggregate_type, aggregate_id, sequence) is the optimistic lock: two
--   commands that loaded the same version both try to insert the same sequence, and the
--   loser gets 23505. The only other unique constraint is `position` (an identity, never
--   supplied by a writer), so a 23505 on this table always means a concurrency conflict,
--   which is how postgres-es reads every unique violation.
-- * `position` is a global insert order. Insert order is not commit order (a transaction
--   that inserted earlier can commit later), so tailing by `position` alone could skip an
--   event. `tx_id` is the writing transaction's id: readers order by (tx_id, position) and
--   only read rows whose tx_id is below the oldest transaction still running
--   (`pg_snapshot_xmin(pg_current_snapshot())`), which no later commit can precede.
--   See docs/adr/0001-event-store.md.
-- * `recorded_at` is the wall-clock time of the insert (clock_timestamp, not now(): rows of
--   one transaction get increasing times), for history and `as_of` reads.
-- * No `snapshots` table: the store runs cqrs-es in plain event-store mode, which never
--   reads or writes snapshots.
CREATE TABLE events (
    aggregate_type TEXT        NOT NULL,
    aggregate_id   TEXT        NOT NULL,
    sequence       BIGINT      NOT NULL CHECK (sequence > 0),
    event_type     TEXT        NOT NULL,
    event_version  TEXT        NOT NULL,
    payload        JSONB       NOT NULL,
    metadata       JSONB       NOT NULL,
    position       BIGINT      GENERATED ALWAYS AS IDENTITY UNIQUE,
    tx_id          BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- The commit-order-safe tail: WHERE (tx_id, position) > ($1, $2) ORDER BY tx_id, position.
CREATE INDEX events_tx_position ON events (tx_id, position);

-- Wakes tailers (relay, in-process bus) as soon as a transaction that wrote events commits
-- (NOTIFY is delivered at commit, once per statement is enough: the payload is empty and
-- listeners re-read from their checkpoint). Polling remains the fallback.
CREATE FUNCTION probity_events_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('probity_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT
    EXECUTE FUNCTION probity_events_notify();
