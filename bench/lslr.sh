#!/usr/bin/env bash
# Requests that `ls -lR` of 2,000 objects in 20 folders costs through a fresh mount, and then reading every
# file, on OpenStack Swift's S3 API. Target: one LIST per folder per 1,000 entries (21 with the root), no HEAD;
# reading: one GET per file.
#   bench/lslr.sh [FOLDERS] [FILES_PER_FOLDER]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
folders=${1:-20}; per=${2:-100}
bench_init
start_swift tree
tree="$BENCH_STATE/tree"
for f in $(seq -w 1 "$folders"); do
  mkdir -p "$tree/folder$f"
  for i in $(seq -w 1 "$per"); do head -c 1024 /dev/urandom > "$tree/folder$f/file$i.bin"; done
done
env $SWIFT_ENV "$CM" cp -r "$tree" s3://tree/ --endpoint "http://127.0.0.1:$SWIFT_PORT" 2>/dev/null
total=$((folders * per))

mnt="$BENCH_STATE/mnt"; log="$BENCH_STATE/mount.log"
mount_cm "$SWIFT_ENV" s3://tree "$mnt" "$log" --endpoint "http://127.0.0.1:$SWIFT_PORT"
listed=$(ls -lR "$mnt" | grep -c '^-')
unmount_cm "$mnt" "$log"
echo "ls -lR of $total objects in $folders folders ($listed files listed): $(requests_line "$log")"

log2="$BENCH_STATE/mount2.log"
mount_cm "$SWIFT_ENV" s3://tree "$mnt" "$log2" --endpoint "http://127.0.0.1:$SWIFT_PORT" --metadata-ttl 60
ls -lR "$mnt" > /dev/null
cmp -s <(cd "$mnt" && find . -type f | sort | xargs cat) <(cd "$tree" && find . -type f | sort | xargs cat) && same=yes || same=no
unmount_cm "$mnt" "$log2"
echo "ls -lR then reading all $total files (--metadata-ttl 60, bytes identical: $same): $(requests_line "$log2")"

log3="$BENCH_STATE/mount3.log"
mount_cm "$SWIFT_ENV" s3://tree "$mnt" "$log3" --endpoint "http://127.0.0.1:$SWIFT_PORT"
ls -lR "$mnt" > /dev/null
sleep 1.5   # past the default 1 s TTL: every name must be checked again
(cd "$mnt" && find . -type f | sort | xargs cat) > /dev/null
unmount_cm "$mnt" "$log3"
echo "ls -lR, then reading all $total files after the default 1 s TTL expired: $(requests_line "$log3")"
