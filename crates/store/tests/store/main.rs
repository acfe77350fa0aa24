//! Integration tests of the event store against a real Postgres database (one fresh
//! database per test) and an embedded SQLite database in a temporary directory.
mod helpers;

mod clock_offset;
mod concurrency;
mod keys;
mod leases;
mod reads;
mod repository;
mod token_migration;
