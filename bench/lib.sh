# Shared helpers for the benchmarks: build, servers on 127.0.0.1, mounts, timing. Sourced, not run.
# Everything started here is stopped by bench_cleanup (installed as an EXIT trap by bench_init).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CM="$BENCH_ROOT/artifacts/cloudmount/cloudmount"

bench_init() {
  BENCH_STATE=$(mktemp -d /tmp/cloudmount-bench-XXXXXX)
  BENCH_MOUNTS=()
  trap bench_cleanup EXIT
  # Test prerequisites, peer mounts and tools the benchmarks compare against (Debian packages).
  "$BENCH_ROOT/bench/deps.sh"
  # As README "Install" says: ReadyToRun, so a fresh mount spends no CPU compiling its data path.
  dotnet publish "$BENCH_ROOT/src/CloudMount.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$BENCH_ROOT/artifacts/cloudmount" --nologo -v quiet
}

bench_cleanup() {
  # Runs under the scripts' `set -e`: nothing here may stop it half-way (a mount already gone fails fusermount3).
  set +e
  for m in "${BENCH_MOUNTS[@]:-}"; do [ -n "$m" ] && fusermount3 -u -z "$m" 2>/dev/null; done
  "$BENCH_ROOT/tests/servers/swift.sh" stop "$BENCH_STATE/swift" 2>/dev/null || true
  "$BENCH_ROOT/tests/servers/s3rver.sh" stop "$BENCH_STATE/s3rver" 2>/dev/null || true
  "$BENCH_ROOT/tests/servers/nginx.sh" stop "$BENCH_STATE/nginx" 2>/dev/null || true
  "$BENCH_ROOT/tests/servers/azurite.sh" stop "$BENCH_STATE/azurite" 2>/dev/null || true
  pkill -f "$BENCH_STATE" 2>/dev/null || true
  rm -rf "$BENCH_STATE"
}

free_port() { python3 -c 'import socket,random
while True:
    p=random.randint(20000,60000)
    try:
        for q in range(p,p+5):
            s=socket.socket(); s.bind(("127.0.0.1",q)); s.close()
        print(p); break
    except OSError: pass'; }

# start_swift BUCKET...: sets SWIFT_PORT, SWIFT_ENV (for env), SWIFT_TOKEN
start_swift() {
  SWIFT_PORT=$(free_port)
  "$BENCH_ROOT/tests/servers/swift.sh" start "$BENCH_STATE/swift" "$SWIFT_PORT" "$@"
  SWIFT_ENV="AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing"
  SWIFT_TOKEN=$(curl -s -D - -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
    "http://127.0.0.1:$SWIFT_PORT/auth/v1.0" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
}

# start_s3rver BUCKET...: sets S3RVER_PORT, S3RVER_ENV
start_s3rver() {
  S3RVER_PORT=$(free_port)
  "$BENCH_ROOT/tests/servers/s3rver.sh" start "$BENCH_STATE/s3rver" "$S3RVER_PORT" "$@"
  S3RVER_ENV="AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER"
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

now() { date +%s.%N; }

# mount_cm ENV URL DIR LOG [ARGS...]: starts a mount in the background and waits for it
mount_cm() {
  local env=$1 url=$2 dir=$3 log=$4; shift 4
  mkdir -p "$dir"
  local extra=()
  [[ " $* " == *" --cache-dir "* ]] || extra=(--cache-dir "$BENCH_STATE/cache")
  env $env "$CM" mount "$url" "$dir" "${extra[@]}" "$@" > "$log" 2>&1 &
  BENCH_MOUNTS+=("$dir")
  for _ in $(seq 1 200); do grep -q "mounted " "$log" && return 0; sleep 0.1; done
  echo "mount of $url failed:" >&2; cat "$log" >&2; return 1
}

# unmount_cm DIR LOG: unmounts and waits for the process to print its request line
unmount_cm() {
  local dir=$1 log=$2
  fusermount3 -u "$dir"
  for _ in $(seq 1 200); do grep -q "unmounted " "$log" && return 0; sleep 0.1; done
  echo "unmount of $dir did not finish" >&2; return 1
}

requests_line() { grep -o "requests: .*" "$1" | tail -1; }

median() { python3 -c 'import sys,statistics; print("%.1f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
mibps() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / 1048576 / float(sys.argv[2])))' "$1" "$2"; }

# Peer mounts. Each prints nothing and returns once the directory is mounted.
# mount_rclone ENDPOINT ACCESS SECRET BUCKET DIR
mount_rclone() {
  local dir=$5; mkdir -p "$dir"
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT="$1" \
    RCLONE_CONFIG_B_ACCESS_KEY_ID="$2" RCLONE_CONFIG_B_SECRET_ACCESS_KEY="$3" RCLONE_CONFIG_B_REGION=us-east-1 \
    rclone mount "B:$4" "$dir" --vfs-cache-mode off > "$BENCH_STATE/rclone.log" 2>&1 &
  BENCH_MOUNTS+=("$dir")
  wait_mounted "$dir"
}

# mount_s3fs ENDPOINT ACCESS SECRET BUCKET DIR
mount_s3fs() {
  local dir=$5; mkdir -p "$dir"
  AWSACCESSKEYID="$2" AWSSECRETACCESSKEY="$3" s3fs "$4" "$dir" -o url="$1" -o use_path_request_style -o endpoint=us-east-1 > "$BENCH_STATE/s3fs.log" 2>&1
  BENCH_MOUNTS+=("$dir")
  wait_mounted "$dir"
}

# mount_bindfs SRC DIR
mount_bindfs() {
  mkdir -p "$2"
  bindfs "$1" "$2"
  BENCH_MOUNTS+=("$2")
  wait_mounted "$2"
}

wait_mounted() {
  for _ in $(seq 1 100); do mountpoint -q "$1" && return 0; sleep 0.1; done
  echo "$1 did not mount" >&2; return 1
}

# read_mibps FILE: reads FILE with dd bs=1M and prints MiB/s
read_mibps() {
  local t0 t1 bytes
  bytes=$(stat -c %s "$1")
  t0=$(now); dd if="$1" of=/dev/null bs=1M status=none; t1=$(now)
  mibps "$bytes" "$(python3 -c "print($t1-$t0)")"
}
