-- 0070 (tokens, issue 10 item 10): every bearer token ends.
-- Why: a token printed once was valid forever; a leaked token or a departed clerk's
-- token could not be shut off. Now a token expires (`expires_at`, set at creation:
-- `probity token create --expires 90d`, default 90 days) and can be revoked
-- (`revoked_at`, `probity token revoke <id>`); both are checked on every request.
-- `last_used_at` is written coarsely (at most once a minute per token and server) for
-- `probity token list`.
-- Tokens that exist before this migration keep working for a grace period: they expire
-- 90 days after the migration runs (not after their creation, which could end them at
-- once), time enough to replace them; `probity token list` shows when (ADR 0014).
-- Timestamps are RFC 3339 TEXT in UTC, as in 0020.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
UPDATE api_tokens
   SET expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+90 days')
 WHERE expires_at IS NULL;
