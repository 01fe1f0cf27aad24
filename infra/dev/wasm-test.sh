#!/usr/bin/env bash
# Runs snapkb-index's tests on wasm32-wasip1 under Node's WASI, including the golden snapshot
# written on x86-64. (That the shared crates build for wasm32-unknown-unknown and wasm32-wasip2
# is checked by the edge builds, infra/edge/worker-build.sh and spin-build.sh, which name them.)
set -euo pipefail
cd "$(dirname "$0")/../.."
source <(infra/dev/wasm-toolchain.sh --env)
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $PWD/infra/dev/wasi-run.mjs"

echo "wasm: running snapkb-index tests on wasm32-wasip1 (Node WASI)" >&2
"$WASM_CARGO" test --locked -p snapkb-index --lib --target wasm32-wasip1 \
  -Zbuild-std=std,panic_abort,test --target-dir target/wasm
