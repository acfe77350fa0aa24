-- 0190 (VIEWS): township public commitments in the stored assessment (formula version
-- 2: 将各项工作守信践诺情况纳入街道和乡镇绩效考核体系, §14 of the city's opinions).
--
-- Why: the counters of `assessment_counts` are one column per figure (0014); township
-- public commitments assessed as fulfilled and as breached in the quarter are two more.
-- Unlike supervision items (0131), commitments are older than this migration: a database
-- whose log already holds commitment events has them folded nowhere yet (no
-- `assessment_items` row, no counts), so a rebuild of the views is requested, as 0014
-- did; the next `probity serve` rebuilds before it projects or serves. A database
-- without commitment events needs nothing.
ALTER TABLE assessment_counts ADD COLUMN commitments_fulfilled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE assessment_counts ADD COLUMN commitments_breached BIGINT NOT NULL DEFAULT 0;
INSERT INTO view_rebuild_requests (reason, requested_at)
SELECT '0190 commitments in the assessment', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
 WHERE EXISTS (SELECT 1 FROM events WHERE aggregate_type = 'commitment');
