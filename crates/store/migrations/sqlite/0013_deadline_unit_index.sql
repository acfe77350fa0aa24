-- 0013 (VIEWS): the supervisors' board filtered by unit.
--
-- Why: with 1,000,000 open deadlines the only usable index was `(due, ...)`, so
-- `GET /deadlines?unit=X` walked ~60,000 index entries to fill a page (p99 ≈ 85 ms,
-- docs/performance.md). This index serves the unit filter in urgency order.
CREATE INDEX deadline_entries_unit_idx ON deadline_entries (unit, due, case_id, case_type, kind);
