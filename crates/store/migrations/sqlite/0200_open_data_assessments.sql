-- 0200 (open data assessments, issue 11 item 3; ADR 0031; as the Postgres migration without COLLATE "C"): the public assessment rows as
-- the open data feed last handed them out, each with the change number it was last
-- handed out under.
-- Why:
-- * A public assessment row depends on the evaluation day (an owed reply or
--   rectification turns late when its due day passes) and on the formula in force, not
--   only on the log, so no log position can say which rows changed. Each pull evaluates
--   the periods it covers on its day, compares every row with the one kept here and
--   gives the rows that differ (or are new, or no longer assessed: `line` NULL) the
--   next change number `seq`; its cursor is the highest `seq`. A later pull with that
--   cursor answers the rows of its periods whose `seq` is higher.
-- * Not a projection: not rebuilt from the log (a wiped table only makes the next pull
--   answer every row again).
-- * The `seq` index serves the incremental pull; the key orders its pages.
CREATE TABLE open_data_assessment_rows (
    row_key      TEXT PRIMARY KEY, -- <period>/<subject code>
    period       TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    line         TEXT NULL,              -- the public row (JSON); NULL: no longer assessed
    seq          BIGINT NOT NULL
);
CREATE INDEX open_data_assessment_rows_period_idx ON open_data_assessment_rows (period, seq);
