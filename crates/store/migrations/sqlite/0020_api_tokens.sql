-- 0020 (HTTP): API bearer tokens.
-- Why: clients authenticate with `Authorization: Bearer <token>`; the token itself is
-- printed once by `probity token create` and never stored, only its SHA-256 (hex), so a
-- leaked database does not leak usable credentials. `id` is the token's public identity:
-- it is written as `actor` into every event's metadata and into the access log.
-- Portable SQL (same schema for Postgres and SQLite, read through sqlx AnyPool):
-- timestamps are RFC 3339 TEXT in UTC.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,          -- uuid v7, public, used as the actor
    token_hash  TEXT NOT NULL UNIQUE,      -- lowercase hex SHA-256 of the token string
    role        TEXT NOT NULL,             -- intake|handler|supervisor|auditor|admin
    unit        TEXT,                      -- credit code the token is bound to (handler: required)
    label       TEXT,                      -- free text for operators (who holds it)
    created_at  TEXT NOT NULL              -- RFC 3339, UTC
);
