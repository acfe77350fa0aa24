//! Postgres part (STORE HELPER).
