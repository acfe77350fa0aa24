-- 0012 (VIEWS): read models of the integrity aggregates (subjects, civil servants,
-- dishonesty records, rectifications, repairs, objections, commitments).
--
-- Why this shape:
-- * One row per aggregate, folded from that aggregate's own events only (`doc` is the
--   JSON view; the other columns are copies the reads filter, join and sort on). So the
--   bus may deliver different aggregates in any order: nothing here waits for another
--   aggregate's row.
-- * What depends on several aggregates (a record under objection, repaired, stopped by
--   an upheld objection) or on the reader's day (inside the publicity window, overdue)
--   is never stored: the reads join these tables and compare dates. Filing an objection
--   therefore shows on the record in every view the moment the objection row exists.
-- * Same portable conventions as 0010: TEXT dates and timestamps that sort like time,
--   BIGINT 0/1 flags, COLLATE "C" on keys so both backends order alike.
-- * Integrity deadlines (rectification, repair acceptance/decision, objection decision)
--   go to the shared `deadline_entries` with their own `case_type`.

CREATE TABLE subject_views (
    code          TEXT COLLATE "C" PRIMARY KEY,
    version       BIGINT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    parent_code   TEXT COLLATE "C",
    doc           TEXT NOT NULL
);
CREATE INDEX subject_views_parent_idx ON subject_views (parent_code, code);

CREATE TABLE civil_servant_views (
    id            TEXT COLLATE "C" PRIMARY KEY,
    version       BIGINT NOT NULL,
    unit_code     TEXT COLLATE "C" NOT NULL,
    doc           TEXT NOT NULL
);

CREATE TABLE record_views (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    version              BIGINT NOT NULL,
    subject_code         TEXT COLLATE "C",       -- NULL for a civil servant's record
    civil_servant_id     TEXT COLLATE "C",
    unit                 TEXT COLLATE "C" NOT NULL,
    source               TEXT COLLATE "C" NOT NULL,
    source_ref           TEXT NOT NULL,
    decision_date        TEXT COLLATE "C" NOT NULL,
    severity             TEXT COLLATE "C" NOT NULL,
    sector               TEXT COLLATE "C" NOT NULL,
    status               TEXT COLLATE "C" NOT NULL, -- active | withdrawn
    published            BIGINT NOT NULL,           -- 1: published by the policy table
    pub_start            TEXT COLLATE "C" NOT NULL,
    repair_possible_from TEXT COLLATE "C" NOT NULL,
    pub_ends             TEXT COLLATE "C" NOT NULL, -- first day no longer published
    ban_until            TEXT COLLATE "C",
    summary              TEXT NOT NULL,
    doc                  TEXT NOT NULL
);
CREATE INDEX record_views_unit_idx ON record_views (unit, decision_date, id);
CREATE INDEX record_views_public_idx ON record_views (decision_date, id);

CREATE TABLE rectification_views (
    id          TEXT COLLATE "C" PRIMARY KEY,
    version     BIGINT NOT NULL,
    record_id   TEXT COLLATE "C" NOT NULL,
    unit        TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    due         TEXT COLLATE "C" NOT NULL,
    escalated   BIGINT NOT NULL,               -- 1: 通报批评 recorded and not yet verified
    ordered_at  TEXT COLLATE "C" NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX rectification_views_unit_idx ON rectification_views (unit, ordered_at, id);
CREATE INDEX rectification_views_record_idx ON rectification_views (record_id);

CREATE TABLE repair_views (
    id          TEXT COLLATE "C" PRIMARY KEY,
    version     BIGINT NOT NULL,
    record_id   TEXT COLLATE "C" NOT NULL,
    unit        TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    approved_on TEXT COLLATE "C",               -- YYYY-MM-DD (Asia/Shanghai) while approved
    applied_at  TEXT COLLATE "C" NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX repair_views_record_idx ON repair_views (record_id, status);
CREATE INDEX repair_views_unit_idx ON repair_views (unit, applied_at, id);

CREATE TABLE objection_views (
    id          TEXT COLLATE "C" PRIMARY KEY,
    version     BIGINT NOT NULL,
    record_id   TEXT COLLATE "C" NOT NULL,
    unit        TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    outcome     TEXT COLLATE "C",
    filed_at    TEXT COLLATE "C" NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX objection_views_record_idx ON objection_views (record_id, status);
CREATE INDEX objection_views_unit_idx ON objection_views (unit, filed_at, id);

CREATE TABLE commitment_views (
    id           TEXT COLLATE "C" PRIMARY KEY,
    version      BIGINT NOT NULL,
    subject_code TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    made_at      TEXT COLLATE "C" NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX commitment_views_subject_idx ON commitment_views (subject_code, made_at, id);
