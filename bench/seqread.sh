#!/usr/bin/env bash
# Sequential read of a large object through the mount, divided by a single-stream curl GET of the same object
# from the same server, in one run. Each measurement starts with dropped page caches (client and server side).
#   bench/seqread.sh [SIZE_MIB] [ROUNDS]      default 512 MiB, 3 rounds; prints medians and the ratio per server
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-512}; rounds=${2:-3}
bench_init
start_swift bench
start_s3rver bench
obj="$BENCH_STATE/object.bin"
head -c $((size_mib * 1048576)) /dev/urandom > "$obj"
bytes=$(stat -c %s "$obj")
env $SWIFT_ENV "$CM" cp "$obj" s3://bench/object.bin --endpoint "http://127.0.0.1:$SWIFT_PORT" 2>/dev/null
env $S3RVER_ENV "$CM" cp "$obj" s3://bench/object.bin --endpoint "http://127.0.0.1:$S3RVER_PORT" 2>/dev/null
rm -f "$obj"

measure() { # name curl-args... ; uses globals mnt, log
  local name=$1; shift
  local curl_speeds=() mount_speeds=()
  for r in $(seq 1 "$rounds"); do
    drop_caches
    local s; s=$(curl -s -o /dev/null -w '%{speed_download}' "$@")
    curl_speeds+=("$(python3 -c "print($s/1048576)")")
    drop_caches
    local t0 t1; t0=$(now); dd if="$mnt/object.bin" of=/dev/null bs=1M status=none; t1=$(now)
    mount_speeds+=("$(mibps "$bytes" "$(python3 -c "print($t1-$t0)")")")
  done
  local c m; c=$(median "${curl_speeds[@]}"); m=$(median "${mount_speeds[@]}")
  printf '%-8s %4d MiB  curl GET %7s MiB/s (%s)  cloudmount %7s MiB/s (%s)  ratio %s\n' "$name" "$size_mib" "$c" "${curl_speeds[*]}" "$m" "${mount_speeds[*]}" "$(ratio "$m" "$c")"
}

mnt="$BENCH_STATE/mnt-swift"; log="$BENCH_STATE/mount-swift.log"
mount_cm "$SWIFT_ENV" s3://bench "$mnt" "$log" --endpoint "http://127.0.0.1:$SWIFT_PORT"
measure swift -H "X-Auth-Token: $SWIFT_TOKEN" "http://127.0.0.1:$SWIFT_PORT/v1/AUTH_test/bench/object.bin"
unmount_cm "$mnt" "$log"; echo "         swift mount: $(requests_line "$log")"

mnt="$BENCH_STATE/mnt-s3rver"; log="$BENCH_STATE/mount-s3rver.log"
mount_cm "$S3RVER_ENV" s3://bench "$mnt" "$log" --endpoint "http://127.0.0.1:$S3RVER_PORT"
measure s3rver "http://127.0.0.1:$S3RVER_PORT/bench/object.bin"
unmount_cm "$mnt" "$log"; echo "         s3rver mount: $(requests_line "$log")"
