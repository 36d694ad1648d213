#!/usr/bin/env bash
# Start or stop Azurite (npm, see package.json), Microsoft's Azure Blob Storage emulator, on 127.0.0.1.
#   azurite.sh start STATE_DIR PORT   -> blob endpoint http://127.0.0.1:PORT/devstoreaccount1
#   azurite.sh stop STATE_DIR
# Account devstoreaccount1 with the emulator's well-known key (Azurite's documentation); data in memory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}; state=${2:?state dir}
case "$cmd" in
start)
  port=${3:?port}
  [ -f "$here/node_modules/azurite/dist/src/blob/main.js" ] || (cd "$here" && npm install --no-audit --no-fund --silent >/dev/null)
  mkdir -p "$state"
  nohup node "$here/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort "$port" \
    --inMemoryPersistence --disableTelemetry --silent --loose --skipApiVersionCheck \
    > "$state/azurite.log" 2>&1 &
  echo $! > "$state/azurite.pid"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/devstoreaccount1?comp=list"; then exit 0; fi
    sleep 0.1
  done
  echo "azurite did not start on port $port; log:" >&2; cat "$state/azurite.log" >&2; exit 1
  ;;
stop)
  if [ -f "$state/azurite.pid" ]; then kill "$(cat "$state/azurite.pid")" 2>/dev/null || true; rm -f "$state/azurite.pid"; fi
  ;;
*) echo "usage: $0 start|stop STATE_DIR [PORT]" >&2; exit 2 ;;
esac
