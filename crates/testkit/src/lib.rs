//! Test support shared by every crate's integration tests.
//!
//! `DATABASE_URL` / `NATS_URL` are used when set (CI sets them to the machine's
//! services); otherwise private throwaway servers are started from the `postgres` and
//! `nats-server` binaries on the machine. With neither, tests fail saying what is missing;
//! they never pass by skipping.

pub mod nats;
pub mod pg;
