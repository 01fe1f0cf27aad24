#!/usr/bin/env bash
# Installs what building for WebAssembly needs on Debian 12 (see docs/toolchain.md): Debian's
# rustc-web 1.96 with the standard library's source (rustup here has only the host target and
# cannot fetch others), wasm-ld, and wasi-libc for wasm32-wasip1. Prints the environment to
# use; `source <(infra/dev/wasm-toolchain.sh --env)` sets it in the calling shell.
set -euo pipefail

packages=(rustc-web cargo-web rust-web-src lld-22 wasi-libc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "wasm-toolchain: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
command -v node >/dev/null || { echo "wasm-toolchain: node is required to run wasm tests" >&2; exit 1; }

if [ "${1:-}" = "--env" ]; then
  cat <<'ENV'
export WASM_CARGO=/usr/bin/cargo
export RUSTC=/usr/bin/rustc
export RUSTDOC=/usr/bin/rustdoc
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_WASM32_WASIP1_LINKER=/usr/bin/wasm-ld-22
export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-L /usr/lib/wasm32-wasi"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/bin/wasm-ld-22
# wasip2 links through wasm-component-ld (infra/edge/spin-build.sh sets it as the linker), which
# runs Debian's wasm-ld on wasi-libc's preview-1 build and adapts it to WASI 0.2.
export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=+simd128 -L /usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=/usr/bin/wasm-ld-22"
# Randomness (API keys, object names) comes from crypto.getRandomValues on JS hosts; SIMD
# (Workers and Spin both run wasm SIMD) speeds distance computations and compaction.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='--cfg getrandom_backend="wasm_js" -C target-feature=+simd128'
# Edge bundles ship without debug info (Workers' limit is on the compressed bundle); one
# profile for every wasm build so the library builds and the bundles share artifacts.
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_PROFILE_RELEASE_STRIP=debuginfo
ENV
fi
