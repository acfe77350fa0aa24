-- 0160 (CLUSTER): projection partitions shared by several servers (ADR 0026).
--
-- Why: with a NATS bus the projection work is split into partitions by aggregate; each
-- partition must be consumed by one server at a time and taken over within seconds
-- when that server dies. A lease row per partition says who holds it until when; a
-- member row per running server lets every server compute its fair share.
-- Times are milliseconds since the epoch on the database's clock (Postgres) or the
-- process clock (SQLite, one process). Written through sqlx AnyPool: plain BIGINT/TEXT.

CREATE TABLE projection_leases (
    bus        TEXT    NOT NULL,
    part       BIGINT  NOT NULL,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (bus, part)
);

CREATE TABLE projection_members (
    bus     TEXT   NOT NULL,
    member  TEXT   NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (bus, member)
);
