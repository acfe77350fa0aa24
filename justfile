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

# The benchmark program against the machine's Postgres and NATS; prints every figure
# (docs/performance.md records them). Pass e.g. `--scenarios rebuild --events 1000000`.
bench *ARGS:
    cargo build --release -p probity -p probity-bench
    ./target/release/probity-bench {{ARGS}}

# Schema conformance: schemathesis against a private server, as every role (needs
# `pip install schemathesis==4.32.5`; see docs/api.md#schema-conformance).
schema *ARGS:
    tests/schemathesis/run.sh {{ARGS}}

# Run the server (embedded store and in-process bus unless DATABASE_URL / NATS_URL are set).
run:
    cargo run --release -- serve

# Everything CI does.
ci:
    bash .ci/run
