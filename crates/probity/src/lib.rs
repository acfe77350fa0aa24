//! The Probity application: settings, wiring of store, bus, projectors and HTTP, and the
//! command-line interface. `main.rs` only parses arguments and calls into here, so the
//! black-box tests start exactly what `probity serve` starts.

pub mod app;
pub mod calendar;
pub mod cli;
pub mod import;
pub mod settings;
pub mod telemetry;

pub use app::{start, RunningApp};
pub use settings::Settings;
