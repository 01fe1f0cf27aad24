#!/usr/bin/env bash
# Builds the Lambda functions (release) and writes one zip per function binary, with the binary
# as `bootstrap` (the provided.al2023 runtime's entry point) and, for the functions that embed
# text, the model under models/all-MiniLM-L6-v2 (where they look: $LAMBDA_TASK_ROOT/models/...).
# Terraform (terraform/modules/snapkb, `package_dir`) uploads these zips.
#
#   infra/deploy/package.sh [--arch arm64|x86_64] [--out DIR]     (default: arm64, target/lambda)
#
# Building for arm64 on an x86_64 machine needs either cargo-lambda (`cargo install cargo-lambda`,
# which cross-compiles with zig) or the Rust target plus a cross linker:
#   rustup target add aarch64-unknown-linux-gnu
#   apt-get install gcc-aarch64-linux-gnu
#   export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# The binaries link glibc; provided.al2023 ships glibc 2.34, so build on a system with glibc
# <= 2.34 (or with cargo-lambda, which targets it) to be safe.
set -euo pipefail
cd "$(dirname "$0")/../.."

arch=arm64
out=target/lambda
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu ;;
  x86_64) triple=x86_64-unknown-linux-gnu ;;
  *) echo "package.sh: --arch must be arm64 or x86_64" >&2; exit 2 ;;
esac

# Function binary → whether it embeds text (functions/lambda/src/deployment.rs; compact does not).
binaries=(snapkb-query snapkb-ingest snapkb-export snapkb-keys snapkb-compact snapkb-s3-trigger)
embeds() { [ "$1" != snapkb-compact ]; }

infra/dev/fetch-model.sh models/all-MiniLM-L6-v2

# Stripped, without line tables: smaller zips, faster cold starts (the release profile keeps
# line tables for profiling benchmarks).
export CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_DEBUG=false

if cargo lambda --version >/dev/null 2>&1; then
  cargo lambda build --release --locked -p snapkb-lambda "--$arch"
  built="target/lambda"
  path_of() { echo "$built/$1/bootstrap"; }
else
  host="$(rustc -vV | sed -n 's/^host: //p')"
  if [ "$host" != "$triple" ] && ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    echo "package.sh: building for $triple needs cargo-lambda or the Rust target and a linker (see the top of this script)" >&2
    exit 1
  fi
  cargo build --release --locked -p snapkb-lambda --target "$triple"
  path_of() { echo "target/$triple/release/$1"; }
fi

mkdir -p "$out"
for bin in "${binaries[@]}"; do
  model=""
  if embeds "$bin"; then model=models/all-MiniLM-L6-v2; fi
  python3 - "$(path_of "$bin")" "$out/$bin.zip" "$model" <<'PY'
import os, sys, zipfile
binary, zip_path, model = sys.argv[1:4]
with zipfile.ZipFile(zip_path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o100755 << 16  # executable for the runtime
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(binary, "rb") as f:
        z.writestr(info, f.read())
    if model:
        for name in sorted(os.listdir(model)):
            z.write(os.path.join(model, name), f"models/all-MiniLM-L6-v2/{name}")
os.replace(zip_path + ".tmp", zip_path)
print(f"{zip_path}: {os.path.getsize(zip_path) / 1e6:.1f} MB")
PY
done
