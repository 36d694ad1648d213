#!/usr/bin/env bash
# file:// read throughput through CloudMount against bindfs (a FUSE passthrough, the floor of FUSE overhead)
# on the same file, whose bytes are in the page cache; each read from a fresh mount, alternating which goes
# first. Two ways of reading: buffered (dd bs=1M, through the kernel page cache of the mount) and direct
# (dd iflag=direct, which leaves the page cache, and its allocation noise on this VM, out of both).
#   bench/localfs.sh [SIZE_MIB] [ROUNDS]     default 1024 MiB, 5 rounds
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-1024}; rounds=${2:-5}
bench_init
dir="$BENCH_STATE/local"; mkdir -p "$dir"
head -c $((size_mib * 1048576)) /dev/urandom > "$dir/file.bin"
bytes=$(stat -c %s "$dir/file.bin")

direct_mibps() { local t0 t1; t0=$(now); dd if="$1" of=/dev/null bs=1M iflag=direct status=none; t1=$(now); mibps "$bytes" "$(python3 -c "print($t1-$t0)")"; }

run_cm() { # ROUND MODE
  mount_cm "" "file://$dir" "$BENCH_STATE/cm$1$2" "$BENCH_STATE/cm$1$2.log" --cache-size 0
  if [ "$2" = buffered ]; then read_mibps "$BENCH_STATE/cm$1$2/file.bin"; else direct_mibps "$BENCH_STATE/cm$1$2/file.bin"; fi
  unmount_cm "$BENCH_STATE/cm$1$2" "$BENCH_STATE/cm$1$2.log" > /dev/null
}
run_bf() {
  mount_bindfs "$dir" "$BENCH_STATE/bf$1$2"
  if [ "$2" = buffered ]; then read_mibps "$BENCH_STATE/bf$1$2/file.bin"; else direct_mibps "$BENCH_STATE/bf$1$2/file.bin"; fi
  fusermount3 -u "$BENCH_STATE/bf$1$2"
}

for mode in buffered direct; do
  cm=(); bf=()
  for round in $(seq 1 "$rounds"); do
    cat "$dir/file.bin" > /dev/null
    if [ $((round % 2)) = 1 ]; then cm+=("$(run_cm "$round" $mode)"); bf+=("$(run_bf "$round" $mode)")
    else bf+=("$(run_bf "$round" $mode)"); cm+=("$(run_cm "$round" $mode)"); fi
  done
  mc=$(median "${cm[@]}"); mb=$(median "${bf[@]}")
  echo "file:// $mode read of $size_mib MiB, MiB/s (median of $rounds): cloudmount $mc [${cm[*]}], bindfs $mb [${bf[*]}], ratio $(ratio "$mc" "$mb")"
done
