#!/usr/bin/env bash
# Builds the Cloudflare Worker bundle: snapkb-worker for wasm32-unknown-unknown (Debian's
# rustc-web with build-std, see infra/dev/wasm-toolchain.sh), wasm-bindgen's glue, and a small
# ES-module shim that instantiates the wasm and exports the fetch handler. Installs
# wasm-bindgen-cli (the version in Cargo.lock) through infra/dev/cargo-tool.sh when missing.
#
#   infra/edge/worker-build.sh [--features conformance] [--out DIR]
#
# Output (default target/edge/worker): shim.mjs (the Worker's main module),
# snapkb_worker_bg.js, snapkb_worker_bg.wasm and snippets/. wrangler.toml points at it.
set -euo pipefail
cd "$(dirname "$0")/../.."
features=()
out=target/edge/worker
while (($#)); do
  case "$1" in
    --features) features=(--features "$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "worker-build: unknown argument $1" >&2; exit 2 ;;
  esac
done

source <(infra/dev/wasm-toolchain.sh --env)
version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
# Not --locked: its lock pins a webpki-roots release that crates.io no longer serves.
wasm_bindgen=$(infra/dev/cargo-tool.sh wasm-bindgen-cli "$version" wasm-bindgen)

echo "worker-build: compiling snapkb-worker ${features[*]:-} for wasm32-unknown-unknown" >&2
# The shared crates are named too, so this one build is also the check that each of them builds
# for wasm32-unknown-unknown (snapkb-embed without the model).
"$WASM_CARGO" build --locked -p snapkb-worker "${features[@]}" -p snapkb-index -p snapkb-embed \
  -p snapkb-store -p snapkb-core -p snapkb-engine -p snapkb-http --release \
  --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort --target-dir target/wasm

rm -rf "$out"
mkdir -p "$out"
"$wasm_bindgen" --target bundler --out-dir "$out" --out-name snapkb_worker \
  target/wasm/wasm32-unknown-unknown/release/snapkb_worker.wasm
# The bundler target expects ES-module integration for the .wasm; workerd imports a .wasm as a
# compiled WebAssembly.Module, so the shim instantiates it (and lets the glue re-instantiate
# after a panic, which it does through these two names).
cat > "$out/shim.mjs" <<'JS'
import * as glue from "./snapkb_worker_bg.js";
import wasmModule from "./snapkb_worker_bg.wasm";

const imports = () => ({ "./snapkb_worker_bg.js": glue });
globalThis.wasmModule = wasmModule;
globalThis.__wbg_get_imports = imports;
const instance = new WebAssembly.Instance(wasmModule, imports());
glue.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start();

export default {
  fetch(request, env, ctx) {
    return glue.fetch(request, env, ctx);
  },
  scheduled(event, env, ctx) {
    return glue.scheduled(event, env, ctx);
  },
};
JS
rm -f "$out/snapkb_worker.js" "$out"/*.d.ts
wasm="$out/snapkb_worker_bg.wasm"
echo "worker-build: $wasm $(stat -c %s "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped" >&2
