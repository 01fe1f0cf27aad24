#!/usr/bin/env bash
# Builds the portable crates (snapkb-index, snapkb-embed without the model, snapkb-store,
# snapkb-core, snapkb-engine, snapkb-http) for wasm32-unknown-unknown (Workers) and
# wasm32-wasip2 (Spin), and runs snapkb-index's tests on wasm32-wasip1 under Node's WASI,
# including the golden snapshot written on x86-64.
set -euo pipefail
cd "$(dirname "$0")/../.."
source <(infra/dev/wasm-toolchain.sh --env)
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $PWD/infra/dev/wasi-run.mjs"
target_dir=target/wasm
build_std=(-Zbuild-std=std,panic_abort)

echo "wasm: building snapkb-index for wasm32-unknown-unknown" >&2
"$WASM_CARGO" build --locked -p snapkb-index --release --target wasm32-unknown-unknown \
  "${build_std[@]}" --target-dir "$target_dir"

echo "wasm: building snapkb-embed (without the model) and snapkb-store for wasm32-unknown-unknown" >&2
"$WASM_CARGO" build --locked -p snapkb-embed --no-default-features -p snapkb-store --release \
  --target wasm32-unknown-unknown "${build_std[@]}" --target-dir "$target_dir"

echo "wasm: building snapkb-core, snapkb-engine and snapkb-http for wasm32-unknown-unknown" >&2
"$WASM_CARGO" build --locked -p snapkb-core -p snapkb-engine -p snapkb-http --release \
  --target wasm32-unknown-unknown "${build_std[@]}" --target-dir "$target_dir"

# Spin components are WASI 0.2 components. Libraries only: a component's final link needs
# wasm-component-ld, which infra/edge/spin-build.sh handles for the Spin function.
echo "wasm: building snapkb-index, -core, -store, -engine and -http for wasm32-wasip2" >&2
"$WASM_CARGO" build --locked -p snapkb-index -p snapkb-core -p snapkb-store -p snapkb-engine \
  -p snapkb-http --release --target wasm32-wasip2 "${build_std[@]}" --target-dir "$target_dir"

echo "wasm: running snapkb-index tests on wasm32-wasip1 (Node WASI)" >&2
"$WASM_CARGO" test --locked -p snapkb-index --lib --target wasm32-wasip1 \
  -Zbuild-std=std,panic_abort,test --target-dir "$target_dir"
