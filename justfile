# Probity tasks. `just ci` is what CI runs (.ci/run).

# Format the code.
fmt:
    cargo fmt --all

# Lints as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The whole suite: domain, store, relay, views, HTTP and the black-box suite (Postgres + NATS and embedded).
test:
    cargo test --workspace

# The benchmark program (Postgres + NATS must be reachable); writes its figures to stdout.
bench:
    cargo run --release -p probity-bench -- --all

# Run the server (embedded store and in-process bus unless DATABASE_URL / NATS_URL are set).
run:
    cargo run --release -- serve

# Everything CI does.
ci:
    bash .ci/run
