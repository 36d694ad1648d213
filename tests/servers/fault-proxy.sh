#!/usr/bin/env bash
# Start or stop our fault-injecting HTTP proxy (fault-proxy.js, Node only) in front of one server on 127.0.0.1.
#   fault-proxy.sh start STATE_DIR LISTEN_PORT UPSTREAM_PORT CONTROL_PORT [SEED]
#   fault-proxy.sh stop STATE_DIR
# Faults are off until configured through http://127.0.0.1:CONTROL_PORT/config (see fault-proxy.js).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}; state=${2:?state dir}
case "$cmd" in
start)
  listen=${3:?listen port}; upstream=${4:?upstream port}; control=${5:?control port}; seed=${6:-1}
  mkdir -p "$state"
  nohup node "$here/fault-proxy.js" "$listen" "$upstream" "$control" "$seed" > "$state/fault-proxy.log" 2>&1 &
  echo $! > "$state/fault-proxy.pid"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$control/stats"; then exit 0; fi
    sleep 0.05
  done
  echo "fault-proxy did not start on port $listen; log:" >&2; cat "$state/fault-proxy.log" >&2; exit 1
  ;;
stop)
  if [ -f "$state/fault-proxy.pid" ]; then kill "$(cat "$state/fault-proxy.pid")" 2>/dev/null || true; rm -f "$state/fault-proxy.pid"; fi
  ;;
*) echo "usage: $0 start|stop STATE_DIR [LISTEN UPSTREAM CONTROL [SEED]]" >&2; exit 2 ;;
esac
