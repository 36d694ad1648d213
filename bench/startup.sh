#!/usr/bin/env bash
# Binary size and start-up time of the three ways cloudmount is built:
#   jit          `dotnet publish` framework-dependent (what ./run.sh makes; needs the .NET runtime)
#   single-file  self-contained single file (what the .deb holds: packaging/build.sh)
#   aot          NativeAOT (packaging/build.sh --aot)
# Start-up is the time from starting `cloudmount mount mem://x DIR` to the first `ls DIR` that lists the
# mounted root (polled every 5 ms), median of ROUNDS (default 7), each round printed. Run as root.
#   bench/startup.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
scripts/install-deps.sh
scripts/install-build-deps.sh --aot
state=$(mktemp -d /tmp/cloudmount-bench-startup-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  grep -q " $state/mnt " /proc/mounts && fusermount3 -u -z "$state/mnt"
  rm -rf "$state"
}
trap cleanup EXIT
echo "publishing the three builds (logs in artifacts/logs/bench-*.log)" >&2
dotnet publish src/CloudMount.Cli -c Release -o artifacts/bench/jit --nologo > artifacts/logs/bench-jit.log 2>&1
dotnet publish src/CloudMount.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:DebugType=none \
  -p:GenerateDocumentationFile=false -o artifacts/bench/single-file --nologo > artifacts/logs/bench-single-file.log 2>&1
dotnet publish src/CloudMount.Cli -c Release -r linux-x64 -p:PublishAot=true -p:GenerateDocumentationFile=false \
  -o artifacts/bench/aot --nologo > artifacts/logs/bench-aot.log 2>&1

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

mkdir -p "$state/mnt"
printf '| build | size | start to listed mount, ms (median) | rounds |\n|---|---|---|---|\n'
for kind in jit single-file aot; do
  bin=artifacts/bench/$kind/cloudmount
  if [ "$kind" = jit ]; then
    size="$(du -sh --apparent-size "artifacts/bench/$kind" | cut -f1) (folder; plus the shared .NET runtime)"
  else
    size=$(du -h --apparent-size "$bin" | cut -f1)
  fi
  times=()
  for _ in $(seq 1 "$rounds"); do
    t0=$(now_ms)
    "$bin" mount mem://x "$state/mnt" --cache-dir "$state/cache" 2>>"$state/log" &
    pid=$!
    until grep -q " $state/mnt fuse" /proc/mounts && ls "$state/mnt" >/dev/null 2>&1; do
      kill -0 "$pid" 2>/dev/null || { echo "the $kind mount exited:" >&2; tail -3 "$state/log" >&2; exit 1; }
      sleep 0.005
    done
    times+=($(( $(now_ms) - t0 )))
    kill -TERM "$pid"; wait "$pid" || true; pid=""
  done
  printf '| %s | %s | %s | %s |\n' "$kind" "$size" "$(printf '%s\n' "${times[@]}" | median)" "${times[*]}"
done
