-- 0130 (VIEWS): read model of the supervision items (人大建议、政协提案、司法建议、检察建议).
--
-- Why this shape: one row per item folded from its own events only, like the other
-- integrity documents of 0012 (`doc` is the JSON view; the other columns are what the
-- list filters and sorts on). Whether an item is overdue depends on the reader's day and
-- is never stored: the list compares `due` with today. Its open reply deadline goes to
-- the shared `deadline_entries` (case_type `supervision_item`, kind `supervision_reply`).
CREATE TABLE supervision_item_views (
    id           TEXT COLLATE "C" PRIMARY KEY,
    version      BIGINT NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,  -- npc_proposal | cppcc_motion | judicial_suggestion | procuratorial_suggestion
    unit         TEXT COLLATE "C" NOT NULL,  -- the unit that owes (or gave) the reply
    status       TEXT COLLATE "C" NOT NULL,  -- assigned | replied | evaluated
    due          TEXT COLLATE "C" NOT NULL,  -- YYYY-MM-DD, end of that day (Asia/Shanghai)
    assigned_at  TEXT COLLATE "C" NOT NULL,  -- RFC 3339 UTC, fixed width: the list order
    doc          TEXT NOT NULL
);
-- The list: everything in assignment order, or one unit's (a handler's own, a filter).
CREATE INDEX supervision_item_views_order_idx ON supervision_item_views (assigned_at, id);
CREATE INDEX supervision_item_views_unit_idx ON supervision_item_views (unit, assigned_at, id);
