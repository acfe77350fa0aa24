-- 0110 (VIEWS): a civil servant's archive (GET /api/v1/civil-servants/{id}/archive) lists
-- the dishonesty records about that person in decision order; without this index the read
-- scans every record. Partial: organisations' records (civil_servant_id NULL) stay out.
CREATE INDEX record_views_civil_servant_idx ON record_views (civil_servant_id, decision_date, id)
    WHERE civil_servant_id IS NOT NULL;
