-- The head of the global audit chain (ADR 0013): the next chain index and the chain hash
-- so far. The group committer seals every event in its own transaction: it locks this row
-- first (on Postgres `SELECT … FOR UPDATE`), so batches extend the chain one after the
-- other, in commit order, however many servers write; the background sealer takes it
-- too for the events it seals (written before this release, or behind the committer).
CREATE TABLE audit_chain_head (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    next_index BIGINT NOT NULL,
    chain_hash TEXT   NOT NULL
);

INSERT INTO audit_chain_head (id, next_index, chain_hash)
SELECT 1,
       COALESCE((SELECT MAX(chain_index) + 1 FROM event_seals), 0),
       COALESCE((SELECT chain_hash FROM event_seals ORDER BY chain_index DESC LIMIT 1),
                '0000000000000000000000000000000000000000000000000000000000000000');
