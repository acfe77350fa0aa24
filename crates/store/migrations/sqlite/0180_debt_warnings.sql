-- 0180 (debt warnings, issue 11 item 5; §13; as the Postgres migration without COLLATE "C"): the read model of
-- the `debt_warning` aggregate, one row per government (keyed by its credit code).
-- Why:
-- * The warning is an aggregate of its own (raised and cleared as events, on the bus);
--   its row is folded from its own events only, like every integrity document.
-- * `GET /api/v1/debt-warnings` lists the raised ones: the status index keeps that one
--   bounded read in code order.
-- * The evaluation reads a government's debt records: the sector index finds them
--   without scanning the other sectors' records.
CREATE TABLE debt_warning_views (
    subject_code TEXT PRIMARY KEY,
    version      BIGINT NOT NULL,
    status       TEXT NOT NULL, -- raised | cleared
    raised_at    TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX debt_warning_views_status_idx ON debt_warning_views (status, subject_code);
CREATE INDEX record_views_sector_subject_idx ON record_views (sector, subject_code);
