//! Integration tests of the bus against a real NATS server, a real Postgres database
//! (fresh per test) and SQLite in a temp dir.

mod helpers;

mod cloudevents;
mod embedded;
mod faults;
mod relay_and_consumers;
