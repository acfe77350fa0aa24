//! `probity`: parse the command line, set up logging and tracing, run.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = probity::telemetry::init()?;
    let result = probity::cli::run(probity::cli::Cli::parse()).await;
    // Flushes the spans still buffered before the process ends.
    drop(telemetry);
    result
}
