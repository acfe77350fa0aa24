-- 0050 (DEADLINES): what the deadline engine (crates/deadlines) already settled, so it
-- does not issue the same command again every tick.
--
-- Why this shape:
-- * This table is a cache against hammering, not the guarantee: exactly once comes from
--   the aggregate, which refuses a second marking of the same due day, and the optimistic
--   concurrency of the event store. Losing a row costs one refused command, never a
--   second event.
-- * One row per (case, deadline kind, due day, action): when an extension or a reopening
--   moves the due day, the new one is a new key. `action` is `overdue` or `due_soon`.
-- * `outcome` records how it was settled: `fired` (this engine recorded the event) or
--   `settled` (the aggregate refused: already done, no longer open, or the due day moved).
-- * Rows whose deadline is no longer open (gone from deadline_entries) are pruned by the
--   engine. Same portable shape on both backends (dates and times as TEXT).

CREATE TABLE deadline_firings (
    case_type TEXT NOT NULL,             -- complaint (more case kinds later)
    case_id   TEXT NOT NULL,
    kind      TEXT NOT NULL,             -- deadline_entries.kind, e.g. complaint_sign
    due       TEXT NOT NULL,             -- YYYY-MM-DD, the due day settled
    action    TEXT NOT NULL,             -- overdue | due_soon
    outcome   TEXT NOT NULL,             -- fired | settled
    fired_at  TEXT NOT NULL,             -- RFC 3339 UTC, engine clock
    PRIMARY KEY (case_type, case_id, kind, due, action)
);
