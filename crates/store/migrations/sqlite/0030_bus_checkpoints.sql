-- 0030 (BUS): progress of the in-process bus (and of a relay, should an embedded
-- process publish to NATS).
--
-- Why: in embedded mode each projector tails the event log itself and must resume
-- after a restart from the last batch it handled; a relay resumes from the last batch
-- JetStream acknowledged. A checkpoint is a place in the commit-safe order
-- (tx_id, position) of the log (on SQLite tx_id is the position).
-- Same shape as the Postgres migration: the bus writes it through sqlx AnyPool.

-- One row per relay; `relay` is the JetStream stream name (one per bus prefix).
CREATE TABLE relay_checkpoints (
    relay    TEXT PRIMARY KEY,
    tx_id    BIGINT NOT NULL,
    position BIGINT NOT NULL
);

-- One row per projector fed by the in-process bus.
CREATE TABLE local_bus_checkpoints (
    projector TEXT PRIMARY KEY,
    tx_id     BIGINT NOT NULL,
    position  BIGINT NOT NULL
);
