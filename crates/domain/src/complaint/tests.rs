//! Given/when/then tests (DOMAIN HELPER).
