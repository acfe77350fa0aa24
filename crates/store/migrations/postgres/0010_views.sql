-- 0010 (VIEWS): read models of the complaint case and the deadline board, and the
-- per-aggregate positions that make projection exactly-once.
--
-- Why this shape:
-- * The views are written and read through sqlx AnyPool with portable SQL (the same
--   schema as the SQLite migration), so dates, timestamps and JSON are TEXT and flags
--   are BIGINT 0/1. Dates are `YYYY-MM-DD` and timestamps RFC 3339 UTC with a fixed
--   nine-digit fraction, so text order is time order and `reply_due < $today` compares
--   dates.
-- * Sort and key columns are COLLATE "C" (byte order, like SQLite's BINARY), so lists,
--   cursors and the rebuild dump order rows the same on both backends whatever the
--   database's locale.
-- * `complaint_views.doc` is the whole JSON view served to readers; the other columns
--   are copies of the fields lists filter and sort on. `overdue` is not stored: it
--   depends on the reader's date and is computed from `status`, `sign_due`, `reply_due`.
-- * `deadline_entries` holds only OPEN deadlines (a row disappears when the case is
--   signed, replied, returned, closed, merged or declined), so the supervisors' board is
--   a scan of a small table in due order. `case_type` leaves room for rectification,
--   repair and objection deadlines.
-- * `projection_positions` is each projector's last applied sequence per aggregate,
--   written in the same transaction as the view change: a redelivered event finds its
--   sequence already there, an early one finds a gap.

CREATE TABLE complaint_views (
    id          TEXT COLLATE "C" PRIMARY KEY,
    version     BIGINT NOT NULL,                 -- last applied event sequence
    status      TEXT COLLATE "C" NOT NULL,       -- contract status name
    category    TEXT COLLATE "C" NOT NULL,       -- contract category name
    unit        TEXT COLLATE "C",                -- handling unit's credit code, if dispatched
    received_at TEXT COLLATE "C" NOT NULL,       -- RFC 3339 UTC, fixed width: the list order
    sign_due    TEXT COLLATE "C",                -- YYYY-MM-DD
    reply_due   TEXT COLLATE "C",                -- YYYY-MM-DD
    doc         TEXT NOT NULL                    -- the JSON ComplaintView
);
-- The list order (and cursor seek) with and without its filters.
CREATE INDEX complaint_views_received_idx ON complaint_views (received_at, id);
CREATE INDEX complaint_views_status_idx ON complaint_views (status, received_at, id);
CREATE INDEX complaint_views_unit_idx ON complaint_views (unit, received_at, id);

CREATE TABLE deadline_entries (
    case_type   TEXT COLLATE "C" NOT NULL,       -- complaint (more case kinds later)
    case_id     TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,       -- complaint_sign | complaint_reply
    unit        TEXT COLLATE "C",                -- the unit that owes it
    due         TEXT COLLATE "C" NOT NULL,       -- YYYY-MM-DD, end of that working day
    provisional BIGINT NOT NULL,                 -- 1: computed without that year's holidays
    PRIMARY KEY (case_type, case_id, kind)
);
-- The board's urgency order (and cursor seek).
CREATE INDEX deadline_entries_due_idx ON deadline_entries (due, case_id, case_type, kind);

CREATE TABLE projection_positions (
    projector      TEXT COLLATE "C" NOT NULL,    -- Projector::name()
    aggregate_type TEXT COLLATE "C" NOT NULL,
    aggregate_id   TEXT COLLATE "C" NOT NULL,
    last_sequence  BIGINT NOT NULL,              -- last applied per-aggregate sequence
    PRIMARY KEY (projector, aggregate_type, aggregate_id)
);
