-- 0120 (restrictions, issue 11 item 2; as the Postgres migration without COLLATE "C"):
-- the restriction check of procurement and bidding systems (`GET /api/v1/restrictions`) is answered from `record_views`.
-- Why:
-- * A ban is already a fact of the record's row (`ban_until`, ADR 0015); the check reads
--   it, it does not copy it to another table that could disagree.
-- * A court judgment may now record the offence it convicted of (`offence`, NULL for
--   every record before, whose events carry none): a bribery conviction (`bribery`) bars
--   bidding until `ban_until` whatever the record's sector (行贿犯罪档案查询).
-- * The index makes the check one bounded read: a subject's records that carry a ban,
--   in ban order, so only the bans still running on the asked day are visited.
ALTER TABLE record_views ADD COLUMN offence TEXT;
CREATE INDEX record_views_restriction_idx ON record_views (subject_code, ban_until)
    WHERE ban_until IS NOT NULL;
