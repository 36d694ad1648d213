#!/usr/bin/env bash
# Start or stop an s3rver (npm, see package.json) on 127.0.0.1 for tests and benchmarks.
#   s3rver.sh start STATE_DIR PORT BUCKET...   -> prints nothing; waits until the server answers
#   s3rver.sh stop STATE_DIR
# Credentials: S3RVER / S3RVER. Facts and bugs of s3rver: ../../../shared/TEST-SERVERS.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}; state=${2:?state dir}
case "$cmd" in
start)
  port=${3:?port}; shift 3
  [ -x "$here/node_modules/.bin/s3rver" ] || (cd "$here" && npm install --no-audit --no-fund --silent >/dev/null)
  mkdir -p "$state/data"
  args=()
  for b in "$@"; do args+=(--configure-bucket "$b"); done
  # Without the legacy provider every truncated ListObjectsV2 fails with 500 on Node 17+.
  nohup node --openssl-legacy-provider "$here/node_modules/.bin/s3rver" -d "$state/data" -a 127.0.0.1 -p "$port" "${args[@]}" \
    > "$state/s3rver.log" 2>&1 &
  echo $! > "$state/s3rver.pid"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then exit 0; fi
    sleep 0.1
  done
  echo "s3rver did not start on port $port; log:" >&2; cat "$state/s3rver.log" >&2; exit 1
  ;;
stop)
  if [ -f "$state/s3rver.pid" ]; then kill "$(cat "$state/s3rver.pid")" 2>/dev/null || true; rm -f "$state/s3rver.pid"; fi
  ;;
*) echo "usage: $0 start|stop STATE_DIR [PORT BUCKET...]" >&2; exit 2 ;;
esac
