//! Log capture: personal data never reaches a log line. A test binary of its own, so its
//! capturing subscriber can be the global default (see `civil_servants`).

mod civil_servants;
