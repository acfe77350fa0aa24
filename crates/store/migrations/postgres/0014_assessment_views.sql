-- 0014 (VIEWS): the stored assessment (考核评价), kept by the complaint and integrity
-- projectors, so `GET /assessments` and `GET /public/assessments` without `as_of` read a
-- few rows per unit instead of folding the whole log (ADR 0012, docs/assessment.md).
--
-- Why this shape:
-- * `assessment_items`: each record, rectification and complaint as the assessment
--   folded it (JSON), so the next batch of its events folds on from there. A row per
--   aggregate that matters to the assessment, read and written by key like the views.
-- * `assessment_counts`: per quarter (`2026-Q2`, the smallest period; a year is its four
--   quarters) and unit, the counters every row is made of. A fact is counted in the
--   quarter of the day that decides its period. Items still owed are counted in the
--   quarter of their due day (`owed_*`): whether they are late yet depends on the day of
--   the read, so the read subtracts those not yet due. Projectors add deltas
--   (`ON CONFLICT … DO UPDATE SET x = x + excluded.x`); a row that falls back to zero is
--   deleted, so an incrementally kept table equals a rebuilt one.
-- * `assessment_owed`: the owed items per due day, unit and kind (`reply` or
--   `rectification`), the key led by the day: the read takes the rows due today or
--   later, a few weeks of open deadlines whatever the size of the log.
-- * `view_rebuild_requests`: a database that already had projected views gets the new
--   tables empty while its positions say every event was applied; the row inserted here
--   makes the next `probity serve` rebuild the views before it projects or serves
--   (`probity rebuild` deletes it). A fresh database gets no row.
-- * Same portable conventions as 0010 (TEXT dates, COLLATE "C" keys, BIGINT counters).

CREATE TABLE assessment_items (
    aggregate_type TEXT COLLATE "C" NOT NULL,   -- record | rectification | complaint
    aggregate_id   TEXT COLLATE "C" NOT NULL,
    state          TEXT NOT NULL,               -- JSON: what the assessment folded so far
    PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE TABLE assessment_counts (
    quarter                TEXT COLLATE "C" NOT NULL, -- 2026-Q2
    unit                   TEXT COLLATE "C" NOT NULL, -- credit code
    minor_records          BIGINT NOT NULL,
    ordinary_records       BIGINT NOT NULL,
    serious_records        BIGINT NOT NULL,
    rectifications_on_time BIGINT NOT NULL,
    rectifications_overdue BIGINT NOT NULL,           -- settled as overdue
    replies_on_time        BIGINT NOT NULL,
    replies_late           BIGINT NOT NULL,           -- settled as late
    visits                 BIGINT NOT NULL,
    satisfied              BIGINT NOT NULL,
    supervisions           BIGINT NOT NULL,
    owed_rectifications    BIGINT NOT NULL,           -- still owed, due in this quarter
    owed_replies           BIGINT NOT NULL,           -- still owed, due in this quarter
    PRIMARY KEY (quarter, unit)
);

CREATE TABLE assessment_owed (
    due   TEXT COLLATE "C" NOT NULL,                  -- YYYY-MM-DD
    unit  TEXT COLLATE "C" NOT NULL,
    kind  TEXT COLLATE "C" NOT NULL,                  -- reply | rectification
    items BIGINT NOT NULL,
    PRIMARY KEY (due, unit, kind)
);

CREATE TABLE view_rebuild_requests (
    reason       TEXT COLLATE "C" PRIMARY KEY,
    requested_at TEXT NOT NULL                        -- RFC 3339 UTC
);
INSERT INTO view_rebuild_requests (reason, requested_at)
SELECT '0014 stored assessment', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
 WHERE EXISTS (SELECT 1 FROM projection_positions);
