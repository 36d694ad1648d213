#!/usr/bin/env bash
# Writing a large file into the mount (dd, including close, which waits for the upload), against a direct
# multipart upload of the same bytes with the same part size (16 MiB) and concurrency (4): `cloudmount cp` and
# `rclone copyto`. Swift's s3api; medians of the rounds; the first round warms the machine.
#   bench/write.sh [SIZE_MIB] [ROUNDS]     default 1024 MiB, 3 rounds
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-1024}; rounds=${2:-3}
bench_init
start_swift bench
src="$BENCH_STATE/src.bin"
head -c $((size_mib * 1048576)) /dev/urandom > "$src"
ep="http://127.0.0.1:$SWIFT_PORT"
mnt="$BENCH_STATE/mnt"; log="$BENCH_STATE/mount.log"
mount_cm "$SWIFT_ENV" s3://bench "$mnt" "$log" --endpoint "$ep" --cache-dir "$BENCH_STATE/cache"
m=(); c=(); r=()
for round in $(seq 0 "$rounds"); do
  t0=$(now); dd if="$src" of="$mnt/w$round.bin" bs=1M status=none; t1=$(now)
  t2=$(now); env $SWIFT_ENV "$CM" cp "$src" "s3://bench/cp$round.bin" --endpoint "$ep" 2>/dev/null; t3=$(now)
  t4=$(now)
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT="$ep" \
    RCLONE_CONFIG_B_ACCESS_KEY_ID=test:tester RCLONE_CONFIG_B_SECRET_ACCESS_KEY=testing RCLONE_CONFIG_B_REGION=us-east-1 \
    rclone copyto "$src" "B:bench/rc$round.bin" --s3-chunk-size 16M --s3-upload-concurrency 4 --s3-upload-cutoff 32M
  t5=$(now)
  [ "$round" = 0 ] && continue   # warm-up
  m+=("$(python3 -c "print(round($t1-$t0,2))")"); c+=("$(python3 -c "print(round($t3-$t2,2))")"); r+=("$(python3 -c "print(round($t5-$t4,2))")")
done
same=$(cmp -s "$src" "$mnt/w1.bin" && echo identical || echo DIFFERENT)
unmount_cm "$mnt" "$log"
mm=$(median "${m[@]}"); mc=$(median "${c[@]}"); mr=$(median "${r[@]}")
echo "write $size_mib MiB, seconds (median of $rounds after a warm-up round; rounds in brackets):"
echo "  through the mount   $mm  [${m[*]}]  bytes read back: $same"
echo "  cloudmount cp       $mc  [${c[*]}]  speed of the mount relative to it: $(ratio "$mc" "$mm")"
echo "  rclone copyto       $mr  [${r[*]}]  speed of the mount relative to it: $(ratio "$mr" "$mm")"
echo "  mount: $(requests_line "$log")"
