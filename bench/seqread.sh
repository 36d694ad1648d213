#!/usr/bin/env bash
# Sequential read of one large object, in one run and on the same server: a single-stream curl GET, CloudMount
# (default settings, empty caches), CloudMount without its disk cache, rclone mount (--vfs-cache-mode off) and
# s3fs, each from a fresh mount with the page cache dropped; then CloudMount's second read and a read after a
# remount (request counts). Server and disk cache share this machine's one disk, so the default run's cache
# writes compete with the server's reads; the --cache-size 0 column shows the read path alone.
#   bench/seqread.sh [SIZE_MIB] [ROUNDS]      default 512 MiB, 3 rounds; medians and ratios per server
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-512}; rounds=${2:-3}
bench_init
start_swift bench
start_s3rver bench
obj="$BENCH_STATE/object.bin"
head -c $((size_mib * 1048576)) /dev/urandom > "$obj"
env $SWIFT_ENV "$CM" cp "$obj" s3://bench/object.bin --endpoint "http://127.0.0.1:$SWIFT_PORT" 2>/dev/null
env $S3RVER_ENV "$CM" cp "$obj" s3://bench/object.bin --endpoint "http://127.0.0.1:$S3RVER_PORT" 2>/dev/null
sum=$(md5sum < "$obj" | cut -d' ' -f1)
rm -f "$obj"

bench_server() { # NAME ENDPOINT ACCESS SECRET ENV CURL_ARGS...
  local name=$1 ep=$2 ak=$3 sk=$4 envs=$5; shift 5
  local c=() m=() n=() r=() f=()
  for round in $(seq 1 "$rounds"); do
    drop_caches; c+=("$(python3 -c "print($(curl -s -o /dev/null -w '%{speed_download}' "$@")/1048576)")")
    local mnt="$BENCH_STATE/cm-$name-$round" log="$BENCH_STATE/cm-$name-$round.log"
    mount_cm "$envs" s3://bench "$mnt" "$log" --endpoint "$ep" --cache-dir "$BENCH_STATE/cache-$name-$round"
    drop_caches; m+=("$(read_mibps "$mnt/object.bin")")
    unmount_cm "$mnt" "$log"
    mount_cm "$envs" s3://bench "$mnt-nc" "$log-nc" --endpoint "$ep" --cache-size 0
    drop_caches; n+=("$(read_mibps "$mnt-nc/object.bin")")
    unmount_cm "$mnt-nc" "$log-nc"
    mount_rclone "$ep" "$ak" "$sk" bench "$BENCH_STATE/rc-$name-$round"
    drop_caches; r+=("$(read_mibps "$BENCH_STATE/rc-$name-$round/object.bin")")
    fusermount3 -u "$BENCH_STATE/rc-$name-$round"
    mount_s3fs "$ep" "$ak" "$sk" bench "$BENCH_STATE/sf-$name-$round"
    drop_caches; f+=("$(read_mibps "$BENCH_STATE/sf-$name-$round/object.bin")")
    fusermount3 -u "$BENCH_STATE/sf-$name-$round"
  done
  local mc mm mn mr mf
  mc=$(median "${c[@]}"); mm=$(median "${m[@]}"); mn=$(median "${n[@]}"); mr=$(median "${r[@]}"); mf=$(median "${f[@]}")
  echo "$name, $size_mib MiB, MiB/s (median of $rounds; rounds in brackets):"
  echo "  curl GET    $mc  [${c[*]}]"
  echo "  cloudmount  $mm  [${m[*]}]   ratio to curl $(ratio "$mm" "$mc"), to rclone $(ratio "$mm" "$mr"), to s3fs $(ratio "$mm" "$mf")"
  echo "  cloudmount, --cache-size 0  $mn  [${n[*]}]   ratio to curl $(ratio "$mn" "$mc"), to rclone $(ratio "$mn" "$mr"), to s3fs $(ratio "$mn" "$mf")"
  echo "  rclone      $mr  [${r[*]}]"
  echo "  s3fs        $mf  [${f[*]}]"
  # Second read and remount, with the first round's cache folder.
  local mnt="$BENCH_STATE/cm-$name-again" log="$BENCH_STATE/cm-$name-again.log"
  mount_cm "$envs" s3://bench "$mnt" "$log" --endpoint "$ep" --cache-dir "$BENCH_STATE/cache-$name-1"
  drop_caches; local again; again=$(read_mibps "$mnt/object.bin")
  drop_caches; local third; third=$(read_mibps "$mnt/object.bin")
  local check; check=$(md5sum < "$mnt/object.bin" | cut -d' ' -f1)
  unmount_cm "$mnt" "$log"
  echo "  after a remount with the disk cache: $again MiB/s, then a second read $third MiB/s; bytes $( [ "$check" = "$sum" ] && echo identical || echo DIFFERENT)"
  echo "    $(requests_line "$log")"
}

bench_server swift "http://127.0.0.1:$SWIFT_PORT" test:tester testing "$SWIFT_ENV" -H "X-Auth-Token: $SWIFT_TOKEN" "http://127.0.0.1:$SWIFT_PORT/v1/AUTH_test/bench/object.bin"
bench_server s3rver "http://127.0.0.1:$S3RVER_PORT" S3RVER S3RVER "$S3RVER_ENV" "http://127.0.0.1:$S3RVER_PORT/bench/object.bin"
