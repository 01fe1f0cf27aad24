#!/usr/bin/env bash
# Retrieval evaluation on a real corpus: installs the corpus, ingests it into a fresh
# `snapkb serve` (release build, its own data directory and port), runs `snapkb eval` with the
# corpus's judged questions in every mode, prints the table and writes it (with chunk count and
# ingest time) to target/eval/<corpus>.md, then runs the baseline script (eval/baseline.py: the
# same pages and questions, the same model) beside it. The server is stopped on exit.
#
# Usage: infra/dev/eval.sh [postgresql-15] [--pages GLOB]... [--subset N]
#   --pages GLOB   ingest only the pages matching GLOB (repeatable), e.g. for a quick run;
#                  the questions whose pages are all left out are skipped.
#   --subset N     ingest every page a question names plus N others (the same N for a given
#                  corpus, chosen by hash of the name): every question, a fraction of the time.
# Environment: EVAL_PORT (default 7790); EVAL_KEEP=1 keeps the data directory (its path is
# printed; `snapkb serve --data-dir` it again to try query settings without re-ingesting);
# EVAL_BIN=path evaluates another snapkb binary (an older build, for a before/after table);
# EVAL_BASELINE=0 leaves the baseline script out (it does not change between runs on the same
# pages); EVAL_SETTINGS='{"chunking": {...}}' creates the project with these settings;
# EVAL_QUERY='{"fusion": {...}}' adds fields to every query (`snapkb eval --query`).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
corpus="${1:-postgresql-15}"
shift || true
pages=()
subset=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pages) pages+=("$2"); shift 2 ;;
    --subset) subset="$2"; shift 2 ;;
    *) echo "eval: unknown argument $1" >&2; exit 2 ;;
  esac
done

cache="${XDG_CACHE_HOME:-$HOME/.cache}/snapkb/corpora"
mkdir -p "$cache" target/eval
case "$corpus" in
  postgresql-15)
    package=postgresql-doc-15
    html="$cache/$package/usr/share/doc/postgresql-doc-15/html"
    if [ ! -f "$html/index.html" ]; then
      echo "eval: fetching $package from Debian" >&2
      tmp="$(mktemp -d)"
      (cd "$tmp" && apt-get download "$package" >/dev/null 2>&1) || {
        echo "eval: apt-get download $package failed (is a Debian mirror reachable?)" >&2
        exit 1
      }
      rm -rf "$cache/$package"
      dpkg -x "$tmp"/"$package"_*.deb "$cache/$package"
      rm -rf "$tmp"
      # Debian gzips some pages; snapkb reads plain HTML.
      find "$html" -name '*.html.gz' -exec gunzip -f {} +
    fi
    ;;
  *) echo "eval: unknown corpus $corpus (known: postgresql-15)" >&2; exit 2 ;;
esac
questions="$repo/eval/$corpus/questions.jsonl"

infra/dev/fetch-model.sh
cargo build --release --locked -p snapkb -p snapkb-embed --bin snapkb --bin snapkb-embed >&2
bin="${EVAL_BIN:-$repo/target/release/snapkb}"

# The baseline's Python packages, in a virtual environment of their own.
venv="$cache/../eval-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import bs4, rank_bm25, numpy' 2>/dev/null; then
  echo "eval: installing beautifulsoup4, rank_bm25 and numpy for the baseline" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    beautifulsoup4==4.12.3 rank_bm25==0.2.2 numpy==1.26.4
fi

# The pages to ingest: all, or those matching --pages (copied into a folder of their own so
# document ids stay the file names).
docs="$html"
if [ ${#pages[@]} -gt 0 ] || [ -n "$subset" ]; then
  docs="$(mktemp -d)"
  for glob in "${pages[@]}"; do
    # shellcheck disable=SC2086
    cp $html/$glob "$docs"/ 2>/dev/null || true
  done
  if [ -n "$subset" ]; then
    python3 - "$questions" "$html" "$docs" "$subset" <<'PY'
import hashlib, json, os, shutil, sys
questions, html, docs, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
named = set()
for line in open(questions):
    line = line.strip()
    if line and not line.startswith("//"):
        named.update(json.loads(line)["relevant"])
pages = sorted(p for p in os.listdir(html) if p.endswith(".html"))
others = sorted((p for p in pages if p not in named), key=lambda p: hashlib.sha256(p.encode()).hexdigest())
for p in sorted(named & set(pages)) + others[:n]:
    shutil.copy(os.path.join(html, p), docs)
PY
  fi
fi

data="$(mktemp -d)"
port="${EVAL_PORT:-7790}"
log="target/eval/$corpus-serve.log"
SNAPKB_DATA_DIR="$data" SNAPKB_MODEL_DIR="$repo/models/all-MiniLM-L6-v2" \
  "$bin" serve --addr "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "${EVAL_KEEP:-}" = 1 ]; then
    echo "eval: data kept in $data (admin key in $log)" >&2
  else
    rm -rf "$data"
  fi
  [ "$docs" = "$html" ] || rm -rf "$docs"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  kill -0 "$server" 2>/dev/null || { echo "eval: snapkb serve exited:" >&2; tail -n 3 "$log" >&2; exit 1; }
  grep -q 'admin key' "$log" 2>/dev/null && curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
key="$(grep -a -o 'skb_[A-Za-z0-9_]*' "$log" | head -n 1)"
[ -n "$key" ] || { echo "eval: no admin key in $log" >&2; exit 1; }
export SNAPKB_URL="http://127.0.0.1:$port" SNAPKB_KEY="$key"

python3 -c 'import json, sys; print(json.dumps({**json.loads(sys.argv[1]), "id": "eval"}))' \
  "${EVAL_SETTINGS:-"{}"}" |
  curl -fsS -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    --data-binary @- "$SNAPKB_URL/v1/projects" >/dev/null
started=$SECONDS
"$bin" ingest eval "$docs" --json >/dev/null
ingest_s=$((SECONDS - started))
chunks=$("$bin" health eval --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')
documents=$("$bin" health eval --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')

# Only the questions whose pages were ingested.
asked="$(mktemp)"
python3 - "$questions" "$docs" >"$asked" <<'PY'
import json, os, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("//"):
        continue
    q = json.loads(line)
    q["relevant"] = [r for r in q["relevant"] if os.path.exists(os.path.join(sys.argv[2], r))]
    if q["relevant"]:
        print(json.dumps(q))
PY

report="target/eval/$corpus.md"
{
  echo "corpus $corpus: $documents pages, $chunks chunks, ingested in ${ingest_s} s"
  [ -z "${EVAL_SETTINGS:-}" ] || echo "project settings: $EVAL_SETTINGS"
  [ -z "${EVAL_QUERY:-}" ] || echo "query fields: $EVAL_QUERY"
  echo
  "$bin" eval eval "$asked" --missed --query "${EVAL_QUERY:-"{}"}"
  if [ "${EVAL_BASELINE:-1}" = 1 ]; then
    echo
    SNAPKB_MODEL_DIR="$repo/models/all-MiniLM-L6-v2" \
      "$venv/bin/python" eval/baseline.py "$docs" "$asked" "$repo/target/release/snapkb-embed"
  fi
} | tee "$report"
rm -f "$asked"
