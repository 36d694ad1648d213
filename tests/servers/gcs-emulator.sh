#!/usr/bin/env bash
# Start or stop Google's Cloud Storage emulator (npm firebase-tools, see package.json) on 127.0.0.1, through our
# launcher gcs-emulator.js (the emulator without its Java rules runtime; facts: ../../../shared/TEST-SERVERS.md).
#   gcs-emulator.sh start STATE_DIR PORT   -> GCS JSON API at http://127.0.0.1:PORT (STORAGE_EMULATOR_HOST=127.0.0.1:PORT)
#   gcs-emulator.sh stop STATE_DIR
# No credentials; buckets need not be created (any name exists). Data in memory and STATE_DIR/tmp.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}; state=${2:?state dir}
case "$cmd" in
start)
  port=${3:?port}
  [ -f "$here/node_modules/firebase-tools/lib/emulator/storage/index.js" ] || (cd "$here" && npm install --no-audit --no-fund --silent >/dev/null)
  mkdir -p "$state"
  nohup node "$here/gcs-emulator.js" "$port" "$state" > "$state/gcs-emulator.log" 2>&1 &
  echo $! > "$state/gcs-emulator.pid"
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/storage/v1/b/probe/o"; then exit 0; fi
    if ! kill -0 "$(cat "$state/gcs-emulator.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "gcs emulator did not start on port $port; log:" >&2; cat "$state/gcs-emulator.log" >&2; exit 1
  ;;
stop)
  if [ -f "$state/gcs-emulator.pid" ]; then kill "$(cat "$state/gcs-emulator.pid")" 2>/dev/null || true; rm -f "$state/gcs-emulator.pid"; fi
  ;;
*) echo "usage: $0 start|stop STATE_DIR [PORT]" >&2; exit 2 ;;
esac
