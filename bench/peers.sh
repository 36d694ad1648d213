#!/usr/bin/env bash
# CloudMount against the peer mounts on every access pattern of issue 14, in one run, on the same servers:
# rclone mount (--vfs-cache-mode off and full) and s3fs, on Swift's s3api and on s3rver, with curl as the
# reference for what the server gives one client. Rounds are interleaved (every mount measured once per round,
# in turn), each figure is the median of the rounds, and every measurement is taken from a fresh mount with the
# page cache dropped. Prints one markdown table: the medians, the ratio to curl and the ratio to the best peer
# (above 1: CloudMount is better), the load average while the row ran, and each mount's CPU seconds.
#   bench/peers.sh [ROUNDS]          default 3
# Environment: SERVERS="swift s3rver", SEQ_MIB=512, BIG_MIB=4096, FIO_SECONDS=30, ROWS="..." (a subset of
# seq ttfb fio1 fio4 rss copyin lslr cat ls20k reread write; ROWS_swift, ROWS_s3rver for one server),
# KINDS="cm rcoff rcfull s3fs".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-3}
SERVERS=${SERVERS:-"swift s3rver"}
SEQ_MIB=${SEQ_MIB:-512}; BIG_MIB=${BIG_MIB:-4096}; FIO_SECONDS=${FIO_SECONDS:-30}
ROWS=${ROWS:-"seq ttfb fio1 fio4 rss copyin lslr cat ls20k reread write"}
KINDS=${KINDS:-"cm rcoff rcfull s3fs"}
rows_for() { local v="ROWS_$1"; echo "${!v:-$ROWS}"; }   # ROWS_swift / ROWS_s3rver override ROWS per server
bench_init
start_swift bench
start_s3rver bench
declare -A EP AK SK
EP[swift]="http://127.0.0.1:$SWIFT_PORT"; AK[swift]=test:tester; SK[swift]=testing
EP[s3rver]="http://127.0.0.1:$S3RVER_PORT"; AK[s3rver]=S3RVER; SK[s3rver]=S3RVER

rclone_env() { # SERVER: the environment of an rclone remote "B" for the server (AWS_CA_BUNDLE unset: TEST-SERVERS.md)
  echo "RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT=${EP[$1]} RCLONE_CONFIG_B_ACCESS_KEY_ID=${AK[$1]} RCLONE_CONFIG_B_SECRET_ACCESS_KEY=${SK[$1]} RCLONE_CONFIG_B_REGION=us-east-1"
}

# ---------------------------------------------------------------- data
work="$BENCH_STATE/data"; mkdir -p "$work/tree" "$work/wide" "$work/small"
head -c $((SEQ_MIB * 1048576)) /dev/urandom > "$work/seq.bin"
head -c $((1024 * 1048576)) /dev/urandom > "$work/write.bin"
python3 - "$work" <<'EOF'
import os, sys
w = sys.argv[1]
# tree/ holds a file of its own: s3rver lists no folder that holds only folders (TEST-SERVERS.md).
open(f"{w}/tree/index.txt", "wb").write(b"20 folders of 100 files\n")
for d in range(20):
    os.makedirs(f"{w}/tree/d{d:02}", exist_ok=True)
    for f in range(100):
        open(f"{w}/tree/d{d:02}/f{f:03}.txt", "wb").write(os.urandom(1024))
for f in range(20000):
    open(f"{w}/wide/e{f:05}", "wb").write(b"x" * 100)
for f in range(1000):
    open(f"{w}/small/s{f:04}.bin", "wb").write(os.urandom(30000))
EOF
for s in $SERVERS; do
  env -u AWS_CA_BUNDLE $(rclone_env "$s") rclone copyto "$work/seq.bin" "B:bench/seq.bin" --s3-upload-concurrency 8
  [[ " $(rows_for "$s") " == *" rss "* ]] && head -c $((BIG_MIB * 1048576)) /dev/urandom | env -u AWS_CA_BUNDLE $(rclone_env "$s") rclone rcat "B:bench/big.bin" --s3-upload-concurrency 8
  env -u AWS_CA_BUNDLE $(rclone_env "$s") rclone copy "$work/tree" "B:bench/tree" --transfers 32
  [[ " $(rows_for "$s") " == *" ls20k "* ]] && env -u AWS_CA_BUNDLE $(rclone_env "$s") rclone copy "$work/wide" "B:bench/wide" --transfers 32
done
seq_sum=$(md5sum < "$work/seq.bin" | cut -d' ' -f1)

# ---------------------------------------------------------------- mounts (each sets MPID, the mount's process)
MPID=""
mount_kind() { # KIND SERVER DIR CACHEDIR [extra cloudmount args]
  local kind=$1 s=$2 dir=$3 cache=$4; shift 4
  mkdir -p "$dir" "$cache"
  BENCH_MOUNTS+=("$dir")
  case "$kind" in
    cm)
      env AWS_ACCESS_KEY_ID="${AK[$s]}" AWS_SECRET_ACCESS_KEY="${SK[$s]}" "$CM" mount s3://bench "$dir" --endpoint "${EP[$s]}" \
        --cache-dir "$cache" "$@" > "$dir.log" 2>&1 &
      MPID=$!
      for _ in $(seq 1 300); do grep -q "mounted " "$dir.log" && return 0; sleep 0.1; done
      cat "$dir.log" >&2; return 1 ;;
    rcoff|rcfull)
      local mode=off; [ "$kind" = rcfull ] && mode=full
      env -u AWS_CA_BUNDLE $(rclone_env "$s") rclone mount B:bench "$dir" --vfs-cache-mode "$mode" --cache-dir "$cache" > "$dir.log" 2>&1 &
      MPID=$! ;;
    s3fs)
      AWSACCESSKEYID="${AK[$s]}" AWSSECRETACCESSKEY="${SK[$s]}" s3fs bench "$dir" -f -o url="${EP[$s]}" -o use_path_request_style \
        -o endpoint=us-east-1 > "$dir.log" 2>&1 &
      MPID=$! ;;
  esac
  wait_mounted "$dir"
}
unmount_kind() { # DIR: unmounts and waits for the mount's process to end
  fusermount3 -u "$1" 2>/dev/null || fusermount3 -u -z "$1"
  for _ in $(seq 1 600); do kill -0 "$MPID" 2>/dev/null || return 0; sleep 0.1; done
  echo "mount $1 (pid $MPID) did not exit" >&2
}
cpu_of() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat"; }
rss_of() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
elapsed() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
load() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------- results: R[row|server|kind] = "v1 v2 ..."
declare -A R CPU LOAD NOTE
add() { R[$1]="${R[$1]:-} $2"; }
addcpu() { CPU[$1]="${CPU[$1]:-} $2"; }
LABEL_seq="sequential ${SEQ_MIB} MiB, cold (MiB/s)"
LABEL_cpu="CPU of the mount per GiB read sequentially (s)"
LABEL_ttfb="time to first byte, dd bs=4k count=1, fresh mount (ms)"
LABEL_fio1="random 256 KiB reads, fio randread --direct=1, 1 job, ${FIO_SECONDS} s (MiB/s)"
LABEL_fio4="same, 4 jobs (MiB/s)"
LABEL_rss="peak RSS streaming ${BIG_MIB} MiB (MiB)"
LABEL_idle="RSS ${IDLE_SECONDS:-20} s after the stream (MiB)"
LABEL_copyin="copy 1,000 files of 30 KB in (s)"
LABEL_lslr="ls -lR of 2,000 objects in 20 folders (s)"
LABEL_cat="cat of those 2,000 files (s)"
LABEL_ls20k="ls -l of a 20,000-entry folder (s)"
LABEL_reread="re-read ${SEQ_MIB} MiB after a remount (MiB/s)"
LABEL_write="write 1 GiB, dd incl. close (s)"
HIGHER="seq fio1 fio4 reread"   # rows where more is better

measure() { # ROW SERVER KIND ROUND
  local row=$1 s=$2 kind=$3 round=$4
  local dir="$BENCH_STATE/m-$row-$s-$kind-$round" cache="$BENCH_STATE/c-$row-$s-$kind-$round" key="$1|$2|$3"
  LOAD[$row|$s]="${LOAD[$row|$s]:-} $(load)"
  case "$row" in
    seq)
      mount_kind "$kind" "$s" "$dir" "$cache"; drop_caches
      local c0 t0 t1 c1; c0=$(cpu_of "$MPID"); t0=$(now)
      dd if="$dir/seq.bin" of=/dev/null bs=1M status=none
      t1=$(now); c1=$(cpu_of "$MPID")
      add "$key" "$(mibps $((SEQ_MIB * 1048576)) "$(elapsed "$t0" "$t1")")"
      add "cpu|$s|$kind" "$(python3 -c "print('%.2f' % ((float('$c1') - float('$c0')) * 1024 / $SEQ_MIB))")"
      unmount_kind "$dir" ;;
    ttfb)
      mount_kind "$kind" "$s" "$dir" "$cache"; drop_caches
      local t0 t1; t0=$(now); dd if="$dir/seq.bin" of=/dev/null bs=4k count=1 status=none; t1=$(now)
      add "$key" "$(python3 -c "print('%.1f' % ((float('$t1') - float('$t0')) * 1000))")"
      unmount_kind "$dir" ;;
    fio1|fio4)
      local jobs=1; [ "$row" = fio4 ] && jobs=4
      mount_kind "$kind" "$s" "$dir" "$cache"; drop_caches
      local c0 c1 bw; c0=$(cpu_of "$MPID")
      bw=$(fio --name=rand --filename="$dir/seq.bin" --rw=randread --bs=256k --direct=1 --numjobs=$jobs --time_based \
        --runtime="$FIO_SECONDS" --group_reporting --output-format=terse --terse-version=3 2>/dev/null | awk -F';' '{print $7}')
      c1=$(cpu_of "$MPID")
      add "$key" "$(python3 -c "print('%.1f' % ($bw / 1024))")"
      addcpu "$key" "$(python3 -c "print('%.1f' % (float('$c1') - float('$c0')))")"
      unmount_kind "$dir"
      if [ "$kind" = cm ]; then
        NOTE[$key]="$(grep -o 'GET [0-9]*\|downloaded [0-9.]* [KMG]i\?B' "$dir.log" | tail -2 | tr '\n' ' ')"
      fi ;;
    rss)
      mount_kind "$kind" "$s" "$dir" "$cache"; drop_caches
      dd if="$dir/big.bin" of=/dev/null bs=1M status=none & local dd=$!
      local peak=0 r
      while kill -0 $dd 2>/dev/null; do r=$(rss_of "$MPID"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2; done
      sleep "${IDLE_SECONDS:-20}"
      add "$key" "$peak"; add "idle|$s|$kind" "$(rss_of "$MPID")"
      unmount_kind "$dir" ;;
    copyin)
      mount_kind "$kind" "$s" "$dir" "$cache"
      local t0 t1; t0=$(now); cp -r "$work/small" "$dir/in-$kind-$round"; t1=$(now)
      add "$key" "$(elapsed "$t0" "$t1")"
      unmount_kind "$dir" ;;
    lslr|cat|ls20k)
      mount_kind "$kind" "$s" "$dir" "$cache"; drop_caches
      local t0 t1; t0=$(now)
      case "$row" in
        lslr) ls -lR "$dir/tree" > /dev/null ;;
        cat) find "$dir/tree" -type f -exec cat {} + > /dev/null ;;
        ls20k) ls -l "$dir/wide" > /dev/null ;;
      esac
      t1=$(now)
      add "$key" "$(elapsed "$t0" "$t1")"
      unmount_kind "$dir" ;;
    reread)
      mount_kind "$kind" "$s" "$dir" "$cache"
      dd if="$dir/seq.bin" of=/dev/null bs=1M status=none
      unmount_kind "$dir"
      mount_kind "$kind" "$s" "$dir" "$cache"; drop_caches
      local t0 t1 sum; t0=$(now); sum=$(md5sum < "$dir/seq.bin" | cut -d' ' -f1); t1=$(now)
      [ "$sum" = "$seq_sum" ] || echo "reread through $kind on $s gave different bytes" >&2
      add "$key" "$(mibps $((SEQ_MIB * 1048576)) "$(elapsed "$t0" "$t1")")"
      unmount_kind "$dir" ;;
    write)
      mount_kind "$kind" "$s" "$dir" "$cache"
      local t0 t1; t0=$(now); dd if="$work/write.bin" of="$dir/w-$kind-$round.bin" bs=1M status=none; t1=$(now)
      add "$key" "$(elapsed "$t0" "$t1")"
      rm -f "$dir/w-$kind-$round.bin"
      unmount_kind "$dir" ;;
  esac
  rm -rf "$cache"
}

curl_rows() { # SERVER ROUND: the server's own figures (single GET, 8 parallel range GETs, first byte)
  local s=$1 url auth=()
  if [ "$s" = swift ]; then url="${EP[swift]}/v1/AUTH_test/bench/seq.bin"; auth=(-H "X-Auth-Token: $SWIFT_TOKEN")
  else url="${EP[s3rver]}/bench/seq.bin"; fi
  local size=$((SEQ_MIB * 1048576))
  drop_caches
  local t0 t1; t0=$(now); curl -s -o /dev/null "${auth[@]}" "$url"; t1=$(now)
  add "seq|$s|curl" "$(mibps "$size" "$(elapsed "$t0" "$t1")")"
  drop_caches
  t0=$(now)
  for i in 0 1 2 3 4 5 6 7; do
    curl -s -o /dev/null "${auth[@]}" -r "$((i * size / 8))-$(((i + 1) * size / 8 - 1))" "$url" &
  done
  wait; t1=$(now)
  add "seq8|$s|curl" "$(mibps "$size" "$(elapsed "$t0" "$t1")")"
  drop_caches
  t0=$(now); curl -s -o /dev/null "${auth[@]}" -r 0-4095 "$url"; t1=$(now)
  add "ttfb|$s|curl" "$(python3 -c "print('%.1f' % ((float('$t1') - float('$t0')) * 1000))")"
}

# ---------------------------------------------------------------- the table (printed after every round)
print_table() { # ROUNDS_DONE
  med() { [ -z "${1// }" ] && { echo "-"; return; }; median $1; }
  echo
  echo "bench/peers.sh, round $1 of $rounds (medians of the rounds so far; rounds in brackets), $(date -u +%Y-%m-%d), $(nproc) cores; load average while each row ran in its last column"
  echo
  echo "| measure | server | curl | CloudMount | rclone off | rclone full | s3fs | CloudMount / curl | CloudMount / best peer | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for s in $SERVERS; do
    srows=$(rows_for "$s")
    for row in $srows cpu idle; do
      case "$row" in cpu) [[ " $srows " == *" seq "* ]] || continue ;; idle) [[ " $srows " == *" rss "* ]] || continue ;; esac
      label="LABEL_$row"; cells=(); vals=()
      curlv=$(med "${R[$row|$s|curl]:-}")
      for kind in cm rcoff rcfull s3fs; do
        v=$(med "${R[$row|$s|$kind]:-}"); vals+=("$v")
        cells+=("$v${R[$row|$s|$kind]:+ [${R[$row|$s|$kind]# }]}")
      done
      higher=0; [[ " $HIGHER " == *" $row "* ]] && higher=1
      best=$(python3 -c "
import sys
h=int(sys.argv[1]); v=[float(x) for x in sys.argv[3:] if x!='-']
print('-' if not v else (max(v) if h else min(v)))" "$higher" "${vals[0]}" "${vals[@]:1}")
      ratio() { python3 -c "
import sys
h,a,b=int(sys.argv[1]),sys.argv[2],sys.argv[3]
print('-' if '-' in (a,b) or float(a)==0 or float(b)==0 else '%.2f' % ((float(a)/float(b)) if h else (float(b)/float(a))))" "$@"; }
      l=$(med "${LOAD[$row|$s]:-${LOAD[seq|$s]:-}}")
      echo "| ${!label} | $s | $curlv | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${cells[3]} | $(ratio $higher "${vals[0]}" "$curlv") | $(ratio $higher "${vals[0]}" "$best") | $l |"
    done
    echo "| 8 parallel curl range GETs (MiB/s) | $s | $(med "${R[seq8|$s|curl]:-}") [${R[seq8|$s|curl]# }] | | | | | $(python3 -c "
import sys
a,b=sys.argv[1],sys.argv[2]
print('-' if '-' in (a,b) else '%.2f' % (float(a)/float(b)))" "$(med "${R[seq|$s|cm]:-}")" "$(med "${R[seq8|$s|curl]:-}")") (sequential read / 8 GETs) | | |"
  done
  echo
  echo "Ratios are CloudMount's speed over the other's (times inverted), so above 1 means CloudMount is faster or smaller."
  for k in "${!NOTE[@]}"; do echo "CloudMount, $k: ${NOTE[$k]}(requests and bytes of the last round)"; done
  for k in "${!CPU[@]}"; do echo "mount CPU seconds during $k: [${CPU[$k]# }]"; done | sort
}

for round in $(seq 1 "$rounds"); do
  for s in $SERVERS; do
    curl_rows "$s" "$round"
    for row in $(rows_for "$s"); do
      for kind in $KINDS; do
        measure "$row" "$s" "$kind" "$round" || echo "measurement $row on $s through $kind failed in round $round" >&2
      done
    done
  done
  print_table "$round"
done

