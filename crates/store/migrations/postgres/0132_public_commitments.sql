-- 0132 (VIEWS): the public commitment list (承诺公示, GET /api/v1/public/commitments).
--
-- Why: the list reads newest first, all subjects or one kind, and must stay a bounded
-- read whatever the number of commitments: without these indexes a page without
-- `subject_code` sorts the whole table (0012 only indexes (subject_code, made_at, id)).
CREATE INDEX commitment_views_made_idx ON commitment_views (made_at, id);
CREATE INDEX commitment_views_kind_idx ON commitment_views (kind, made_at, id);
