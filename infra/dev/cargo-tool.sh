#!/usr/bin/env bash
# Installs a tool from crates.io once into ${SNAPKB_TOOLS:-~/.cache/snapkb-tools}/NAME-VERSION
# and prints the path of its binary. Every tool builds in one shared target dir (their common
# dependencies compile once) with a quick release profile: these are test tools, not shipped.
#
#   infra/dev/cargo-tool.sh NAME VERSION [BINARY] [-- extra cargo install arguments]
set -euo pipefail
name="$1" version="$2"
shift 2
bin="$name"
if (($#)) && [ "$1" != "--" ]; then bin="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
tools="${SNAPKB_TOOLS:-$HOME/.cache/snapkb-tools}"
root="$tools/$name-$version"
if [ ! -x "$root/bin/$bin" ]; then
  echo "cargo-tool: installing $name $version from crates.io (once; cached in $root)" >&2
  CARGO_TARGET_DIR="$tools/cargo-target" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
  CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_DEBUG=false \
  CARGO_PROFILE_RELEASE_STRIP=true \
    cargo install "$name" --version "$version" --root "$root" "$@" >&2
fi
echo "$root/bin/$bin"
