#!/usr/bin/env bash
# Schema conformance (issue 9, item 8): runs schemathesis with every check against a
# private server on the embedded store, once per role, so that a schema-driven fuzzer
# finds no server error and no schema-valid request refused. Exits non-zero on any
# failure.
#
#   tests/schemathesis/run.sh                 # build, start, fuzz as every role, stop
#   ST_MAX_EXAMPLES=50 tests/schemathesis/run.sh
#   ST_ROLES="supervisor" tests/schemathesis/run.sh -- --include-operation-id record_create
#
# Needs `schemathesis` on PATH (`.ci/run` installs the pinned version). Builds the
# `probity` binary with cargo (CARGO_TARGET_DIR is honoured), or uses PROBITY_BIN.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

max_examples="${ST_MAX_EXAMPLES:-10}"
# One worker: with more, schemathesis 4.32.5 on CPython 3.11 sometimes fails inside
# itself ("AST constructor recursion depth mismatch"), compiling patterns in threads.
workers="${ST_WORKERS:-1}"
roles="${ST_ROLES:-intake handler supervisor auditor admin evaluator}"
# Extra arguments after `--` go to every `schemathesis run`.
extra=()
if [[ "${1:-}" == "--" ]]; then shift; extra=("$@"); fi

command -v schemathesis >/dev/null || { echo "schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }

if [[ -z "${PROBITY_BIN:-}" ]]; then
  cargo build -q -p probity
  PROBITY_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/probity"
fi

data="$(mktemp -d "${TMPDIR:-/tmp}/probity-st.XXXXXX")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

# Strategies for the document's custom formats (credit codes, identity numbers).
export SCHEMATHESIS_HOOKS="$here/hooks.py"

# The embedded store and the in-process bus: nothing shared with other runs.
export PROBITY_DATA_DIR="$data"
unset DATABASE_URL NATS_URL
# The fuzzer calls public endpoints (and some without a token) far faster than a person
# from one address: a public rate limit it never reaches for this private server (the
# shipped limit, 20/s with bursts of 100, is tested by tests/api/rate_limit.rs).
export PROBITY_PUBLIC_RATE="${PROBITY_PUBLIC_RATE:-1000000}" PROBITY_PUBLIC_BURST="${PROBITY_PUBLIC_BURST:-1000000}"
RUST_LOG="${RUST_LOG:-warn}" PROBITY_BIND="127.0.0.1:$port" "$PROBITY_BIN" serve >"$data/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { echo "the server did not start" >&2; cat "$data/server.log" >&2; exit 1; }

# A handler needs a unit; this one is a valid unified social credit code.
unit="914403001922038216"
status=0
for role in $roles; do
  args=(--role "$role" --label "schemathesis-$role")
  [[ "$role" == handler ]] && args+=(--unit "$unit")
  token="$("$PROBITY_BIN" token create "${args[@]}" | tail -n1)"
  printf '\n== schemathesis as %s\n' "$role"
  if ! schemathesis --config-file "$here/schemathesis.toml" run "$base/api/v1/openapi.json" \
      -H "Authorization: Bearer $token" \
      --checks all --max-examples "$max_examples" --workers "$workers" \
      "${extra[@]}"; then
    status=1
    echo "schemathesis found failures as $role" >&2
  fi
done

if grep -q "panicked" "$data/server.log"; then
  echo "the server panicked:" >&2
  grep -A5 "panicked" "$data/server.log" >&2
  status=1
fi
exit "$status"
