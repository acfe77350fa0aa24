-- 0021 (HTTP): Idempotency-Key records for creating POSTs.
-- Why: a client that retries `POST /api/v1/complaints` after a timeout must get the first
-- response (same id) instead of a second case. A row is inserted as *pending*
-- (`status` NULL) before the command runs, so of two concurrent identical requests only
-- one executes; the other waits for the stored response. Keys are scoped per token
-- (`actor`). `request_hash` (SHA-256 of method, path and canonical JSON body) detects a
-- reused key with another body (422 idempotency_key_reused).
-- `response_body` never holds personal data: the reporter block is rebuilt from the
-- (identical) request body when a response is replayed.
-- Portable SQL (same schema for Postgres and SQLite, read through sqlx AnyPool).
CREATE TABLE idempotency_keys (
    actor          TEXT NOT NULL,          -- api_tokens.id of the caller
    idem_key       TEXT NOT NULL,          -- the Idempotency-Key header value
    request_hash   TEXT NOT NULL,          -- hex SHA-256 of method + path + canonical body
    status         BIGINT,                 -- HTTP status of the stored response; NULL = pending
    response_body  TEXT,                   -- JSON of the stored response (no personal data)
    location       TEXT,                   -- Location header of the stored response
    created_at     TEXT NOT NULL,          -- RFC 3339 UTC with fixed precision (sortable)
    PRIMARY KEY (actor, idem_key)
);
