#!/usr/bin/env bash
# Installs the local Workers runtime (workerd, through Miniflare) and wrangler from npm into
# ~/.cache/snapkb-tools/npm-edge (or $SNAPKB_EDGE_NPM), pinned, once. Prints the folder.
set -euo pipefail
npm_dir="${SNAPKB_EDGE_NPM:-${SNAPKB_TOOLS:-$HOME/.cache/snapkb-tools}/npm-edge}"
want=(miniflare@4.20260426.0 wrangler@4.86.0)
stamp="$npm_dir/.snapkb-installed"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${want[*]}" ]; then
  command -v npm >/dev/null || { echo "worker-tools: npm is required" >&2; exit 1; }
  mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] || echo '{"private": true}' > "$npm_dir/package.json"
  echo "worker-tools: installing ${want[*]} into $npm_dir" >&2
  # workerd's postinstall only checks its binary; the package ships it.
  npm install --prefix "$npm_dir" --no-audit --no-fund --save-exact "${want[@]}" >&2
  echo "${want[*]}" > "$stamp"
fi
"$npm_dir/node_modules/.bin/workerd" --version >&2
echo "$npm_dir"
