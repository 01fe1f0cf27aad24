#!/usr/bin/env bash
# Builds the Spin component (functions/spin) for wasm32-wasip2 with Debian's rustc-web and
# build-std, linked into a WASI 0.2 component by wasm-component-ld (which adapts wasi-libc's
# preview-1 imports). tests/spin.rs then checks, with wasm-tools' parser (wasmparser), that the
# component validates and imports only interfaces Spin provides. Installs wasm-component-ld
# through infra/dev/cargo-tool.sh if missing.
#
#   infra/edge/spin-build.sh [--out DIR]      (default target/edge/spin)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/edge/spin
if [ "${1:-}" = "--out" ]; then out="$2"; fi

source <(infra/dev/wasm-toolchain.sh --env)
component_ld=$(infra/dev/cargo-tool.sh wasm-component-ld 0.5.31)

export CARGO_TARGET_WASM32_WASIP2_LINKER="$component_ld"
echo "spin-build: compiling snapkb-spin for wasm32-wasip2" >&2
# The shared crates are named too: this build is also the check that they build for wasip2.
"$WASM_CARGO" build --locked -p snapkb-spin -p snapkb-index -p snapkb-core -p snapkb-store \
  -p snapkb-engine -p snapkb-http --release --target wasm32-wasip2 \
  -Zbuild-std=std,panic_abort --target-dir target/wasm

mkdir -p "$out"
component="$out/snapkb_spin.wasm"
cp target/wasm/wasm32-wasip2/release/snapkb_spin.wasm "$component"
echo "spin-build: $component $(stat -c %s "$component") bytes, $(gzip -9 -c "$component" | wc -c) gzipped" >&2
