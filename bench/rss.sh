#!/usr/bin/env bash
# Peak resident memory (VmHWM) of the cloudmount process while streaming a large object with default settings.
#   bench/rss.sh [SIZE_MIB]     default 4096
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-4096}
bench_init
start_s3rver bench
head -c $((size_mib * 1048576)) /dev/urandom | env $S3RVER_ENV "$CM" cp - s3://bench/big.bin --endpoint "http://127.0.0.1:$S3RVER_PORT" 2>/dev/null
mnt="$BENCH_STATE/mnt"; log="$BENCH_STATE/mount.log"
mount_cm "$S3RVER_ENV" s3://bench "$mnt" "$log" --endpoint "http://127.0.0.1:$S3RVER_PORT" --cache-dir "$BENCH_STATE/cache"
pid=$(pgrep -f "cloudmount mount s3://bench $mnt")
drop_caches
start_rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
speed=$(read_mibps "$mnt/big.bin")
peak=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
unmount_cm "$mnt" "$log"
echo "streamed $size_mib MiB at $speed MiB/s; cloudmount RSS at start $((start_rss / 1024)) MiB, peak $((peak / 1024)) MiB (target <= 200 MiB)"
echo "  $(requests_line "$log")"
