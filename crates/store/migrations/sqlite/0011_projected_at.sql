-- 0011 (VIEWS): when each aggregate's position last moved, i.e. when the projector
-- wrote the view change for its latest event.
--
-- Why: commit-to-view lag is `projected_at - events.recorded_at` for that sequence; the
-- benchmark and operators measure it from the database without polling the API.
-- Operational metadata only: `dump` (the rebuild-equals-incremental comparison) leaves
-- it out, because a rebuild rewrites it.
ALTER TABLE projection_positions ADD COLUMN projected_at TEXT;
