-- 0030 (BUS): progress of the event relay and of the in-process bus.
--
-- Why: the relay publishes the event log itself to NATS JetStream (the log is the
-- outbox) and must resume after a crash from the last batch JetStream acknowledged;
-- in embedded mode each projector tails the log itself and resumes the same way.
-- A checkpoint is a place in the commit-safe order (tx_id, position) of the log.
-- Written through sqlx AnyPool with portable SQL, hence plain BIGINT columns.

-- One row per relay; `relay` is the JetStream stream name (one per bus prefix).
CREATE TABLE relay_checkpoints (
    relay    TEXT PRIMARY KEY,
    tx_id    BIGINT NOT NULL,
    position BIGINT NOT NULL
);

-- One row per projector fed by the in-process bus (no NATS).
CREATE TABLE local_bus_checkpoints (
    projector TEXT PRIMARY KEY,
    tx_id     BIGINT NOT NULL,
    position  BIGINT NOT NULL
);
