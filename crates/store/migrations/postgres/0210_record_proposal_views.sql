-- 0210 (VIEWS): read model of third parties' record proposals (第三方信用信息, §3).
--
-- Why: the supervisors' queue (`GET /api/v1/record-proposals?status=submitted`) used to
-- read a page of the log and fold every proposal in it, so a filtered page could come
-- back short or empty while pending proposals waited further back. One row per proposal,
-- folded from its own events by the integrity projector (`doc` is the aggregate's state
-- with its id and version, ADR 0035); the list filters on `status` and pages newest
-- submission first by (`submitted_at`, `id`).
CREATE TABLE record_proposal_views (
    id            TEXT COLLATE "C" PRIMARY KEY,
    version       BIGINT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,  -- submitted | confirmed | rejected
    submitted_at  TEXT COLLATE "C" NOT NULL,  -- RFC 3339 UTC, fixed width: the list order
    doc           TEXT NOT NULL
);
CREATE INDEX record_proposal_views_order_idx ON record_proposal_views (submitted_at, id);
CREATE INDEX record_proposal_views_status_idx ON record_proposal_views (status, submitted_at, id);
