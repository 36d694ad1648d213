#!/usr/bin/env bash
# Reading gzip-, brotli- and zstd-encoded objects through the mount, beside decoding the same stored bytes locally
# with the Debian tools (gzip -dc, brotli -dc, zstd -dc from a local file), in one run on Swift's S3 API.
# The objects are CSV-like text of SIZE_MIB MiB, encoded with the Debian tools (gzip -6, brotli -q 6, zstd -3)
# and uploaded with Content-Encoding by another client (curl on the Swift API). For each: a cold read through a
# fresh mount (empty caches, page cache dropped), a second read (from the decoded copy in the cache), the bytes
# checked, and the requests the mount made.
#   bench/codec.sh [SIZE_MIB]      default 256
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-256}
bench_init
start_swift bench
plain="$BENCH_STATE/plain.csv"
python3 - "$plain" "$((size_mib * 1048576))" <<'EOF'
import sys, random
path, size = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
with open(path, "w") as f:
    written, i = 0, 0
    while written < size:
        rows = "".join(f"{i + k},{rnd.random():.6f},{rnd.choice(words)},{rnd.randint(0, 99999)}\n" for k in range(10000))
        i += 10000
        rows = rows[: size - written]
        f.write(rows)
        written += len(rows)
EOF
want=$(md5sum < "$plain" | cut -d' ' -f1)
gzip -6 -c "$plain" > "$BENCH_STATE/data.gz"
brotli -q 6 -c "$plain" > "$BENCH_STATE/data.br"
zstd -3 -q -c "$plain" > "$BENCH_STATE/data.zst"
base="http://127.0.0.1:$SWIFT_PORT/v1/AUTH_test/bench"
put() { curl -sf -X PUT -T "$1" -H "X-Auth-Token: $SWIFT_TOKEN" -H "Content-Encoding: $2" "$base/$3" > /dev/null; }
put "$BENCH_STATE/data.gz" gzip gzip.csv
put "$BENCH_STATE/data.br" br brotli.csv
put "$BENCH_STATE/data.zst" zstd zstd.csv

decoded=$((size_mib * 1048576))
echo "$size_mib MiB of CSV text (decoded), one run, Swift s3api on 127.0.0.1; MiB/s of decoded bytes:"
for spec in "gzip gzip.csv data.gz gzip" "br brotli.csv data.br brotli" "zstd zstd.csv data.zst zstd"; do
  set -- $spec
  enc=$1 key=$2 file=$3 tool=$4
  stored=$(stat -c %s "$BENCH_STATE/$file")
  drop_caches
  t0=$(now); "$tool" -dc "$BENCH_STATE/$file" > /dev/null; t1=$(now)
  local_mibps=$(mibps "$decoded" "$(python3 -c "print($t1-$t0)")")
  drop_caches
  curl_mibps=$(python3 -c "print('%.1f' % ($(curl -s -o /dev/null -w '%{speed_download}' -H "X-Auth-Token: $SWIFT_TOKEN" -H 'Accept-Encoding: identity' "$base/$key")/1048576))")
  mnt="$BENCH_STATE/cm-$enc" log="$BENCH_STATE/cm-$enc.log"
  mount_cm "$SWIFT_ENV" s3://bench "$mnt" "$log" --endpoint "http://127.0.0.1:$SWIFT_PORT" --cache-dir "$BENCH_STATE/cache-$enc"
  drop_caches
  t0=$(now); cat "$mnt/$key" > /dev/null; t1=$(now)
  cold=$(mibps "$decoded" "$(python3 -c "print($t1-$t0)")")
  size_after=$(stat -c %s "$mnt/$key")
  drop_caches
  t0=$(now); cat "$mnt/$key" > /dev/null; t1=$(now)
  warm=$(mibps "$decoded" "$(python3 -c "print($t1-$t0)")")
  got=$(md5sum < "$mnt/$key" | cut -d' ' -f1)
  unmount_cm "$mnt" "$log"
  ok=$([ "$got" = "$want" ] && echo identical || echo DIFFERENT)
  printf '  %-4s stored %4d MiB: local %s -dc %7s | mount cold %7s (%.2fx local) | second read %7s | curl GET of stored bytes %7s MiB/s | bytes %s, stat after read %s\n' \
    "$enc" $((stored / 1048576)) "$tool" "$local_mibps" "$cold" "$(ratio "$cold" "$local_mibps")" "$warm" "$curl_mibps" "$ok" "$size_after"
  echo "       $(requests_line "$log")"
done
