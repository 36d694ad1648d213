#!/usr/bin/env bash
# Start or stop a one-node OpenStack Swift ("Swift All In One") with the s3api middleware on 127.0.0.1,
# from Debian's packages (scripts/install-test-deps.sh installs them).
#   swift.sh start STATE_DIR PORT [CONTAINER...]  -> proxy on PORT (Swift API /v1, S3 API /), account,
#                                                    container, object servers on PORT+1..3, memcached on PORT+4
#   swift.sh stop STATE_DIR
# Auth: tempauth, v1 at http://127.0.0.1:PORT/auth/v1.0 with X-Auth-User test:tester / X-Auth-Key testing;
# S3 access key test:tester, secret testing, region us-east-1, path-style.
# Facts behind the settings: ../../../shared/TEST-SERVERS.md.
set -euo pipefail
cmd=${1:?start|stop}; state=${2:?state dir}

stop() {
  for f in "$state"/run/*.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop STATE_DIR [PORT CONTAINER...]" >&2; exit 2 ;;
esac

port=${3:?port}; shift 3
acct=$((port + 1)); cont=$((port + 2)); obj=$((port + 3)); mc=$((port + 4))
etc="$state/etc"; run="$state/run"; devices="$state/srv"
mkdir -p "$etc" "$run" "$devices/d1" "$state/log"
user=$(id -un)
[ -f /etc/swift/swift.conf ] || { echo "/etc/swift/swift.conf missing: install the swift packages (scripts/install-test-deps.sh)" >&2; exit 1; }

for ring in account container object; do
  case $ring in account) p=$acct ;; container) p=$cont ;; object) p=$obj ;; esac
  if [ ! -f "$etc/$ring.ring.gz" ]; then
    swift-ring-builder "$etc/$ring.builder" create 8 1 1 >/dev/null
    swift-ring-builder "$etc/$ring.builder" add "r1z1-127.0.0.1:$p/d1" 1 >/dev/null
    swift-ring-builder "$etc/$ring.builder" rebalance >/dev/null
  fi
done

common="[DEFAULT]
devices = $devices
mount_check = false
bind_ip = 127.0.0.1
workers = 0
user = $user
swift_dir = $etc
log_level = WARNING
log_udp_host = 127.0.0.1
log_udp_port = 9
"
for s in account container object; do
  case $s in account) p=$acct ;; container) p=$cont ;; object) p=$obj ;; esac
  extra=""
  # Keeps container listings current right after a PUT on a loaded machine.
  [ $s = object ] && extra="container_update_timeout = 10"
  cat > "$etc/$s-server.conf" <<CONF
$common
bind_port = $p
[pipeline:main]
pipeline = $s-server
[app:$s-server]
use = egg:swift#$s
$extra
CONF
done
cat > "$etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
swift_dir = $etc
log_level = INFO
log_udp_host = 127.0.0.1
log_udp_port = ${SWIFT_LOG_UDP_PORT:-9}
log_name = proxy
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
error_suppression_interval = 1
error_suppression_limit = 1000
conn_timeout = 5
node_timeout = 30
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink
CONF

mcuser=()
[ "$(id -u)" = 0 ] && mcuser=(-u memcache)
nohup memcached "${mcuser[@]}" -l 127.0.0.1 -p "$mc" -U 0 -m 64 > "$state/log/memcached.log" 2>&1 &
echo $! > "$run/memcached.pid"
for s in account container object proxy; do
  nohup "/usr/bin/swift-$s-server" "$etc/$s-server.conf" > "$state/log/$s.log" 2>&1 &
  echo $! > "$run/$s.pid"
done

for _ in $(seq 1 300); do
  if [ "$(curl -s "http://127.0.0.1:$port/healthcheck" 2>/dev/null)" = OK ]; then
    # Containers (= S3 buckets) to create, through the Swift API with a v1 token.
    if [ $# -gt 0 ]; then
      token=""
      for _ in $(seq 1 50); do
        token=$(curl -s -D - -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "http://127.0.0.1:$port/auth/v1.0" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
        [ -n "$token" ] && break
        sleep 0.1
      done
      for c in "$@"; do
        for _ in $(seq 1 50); do
          code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: $token" "http://127.0.0.1:$port/v1/AUTH_test/$c")
          case $code in 201|202) break ;; esac
          sleep 0.2
        done
      done
    fi
    exit 0
  fi
  sleep 0.1
done
echo "Swift did not become healthy on port $port; logs:" >&2
tail -n 20 "$state"/log/*.log >&2
stop
exit 1
