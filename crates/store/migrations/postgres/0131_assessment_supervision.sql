-- 0131 (VIEWS): supervision items in the stored assessment (formula version 2: the
-- on-time reply rate of NPC proposals, CPPCC motions, judicial and procuratorial
-- suggestions).
--
-- Why: the counters of `assessment_counts` are one column per figure (0014); replies to
-- supervision items settled on time or late, and those still owed with a due day in the
-- quarter, are three more. Supervision items are new with 0130, so no stored event needs
-- them counted: the columns start at 0 and no rebuild is requested. Owed replies go to
-- `assessment_owed` with kind `supervision_reply`.
ALTER TABLE assessment_counts ADD COLUMN supervision_replies_on_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE assessment_counts ADD COLUMN supervision_replies_late BIGINT NOT NULL DEFAULT 0;
ALTER TABLE assessment_counts ADD COLUMN owed_supervision_replies BIGINT NOT NULL DEFAULT 0;
