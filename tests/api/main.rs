//! The black-box suite: the real server through `spawn_app()`, every scenario on
//! Postgres + NATS and again on the embedded store with the in-process bus.

mod assessments;
mod audit;
mod civil_servants;
mod clock;
mod commitments;
mod complaints;
mod debt_warnings;
mod errors;
mod integrity;
mod law_edges;
mod law_jurisdiction;
mod law_limits;
mod law_merges;
mod metrics;
mod open_data;
mod open_data_assessments;
mod personal_data;
mod rate_limit;
mod replicas;
mod restrictions;
mod standing;
mod supervision;
mod tamper;
mod tokens;

/// Declares one `#[tokio::test]` per mode for each scenario `async fn name(mode: Mode)`.
#[macro_export]
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod postgres_nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(probity_tests::Mode::PostgresNats).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(probity_tests::Mode::Embedded).await
                }
            )*
        }
    };
}
